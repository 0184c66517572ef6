"""Regression benchmarks: a suite of simulations whose times are kept in a baseline file.

A suite is a TOML file: the chip, a tolerance, and entries that are either a model (built-in
name or file) or a single operator described as the vendor's micro cases describe one
("MatMul", "[1,64,256]x[256,512](weight)"). `run_suite` compiles every entry once and times it
under each timing model the suite names (`timings`, default both: `chip_ms` and `vendor_ms` in
the results); `check` names every entry whose simulated time moved more than the tolerance from
a baseline, model by model, and every entry whose program changed (its command counts, layer
groups or DDR bytes, compared exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tpusim.api import compile, simulate
from tpusim.calibration.micro import Case, case_graph
from tpusim.cost.timing import TIMINGS, parse_timing
from tpusim.errors import ModelError, TpusimError
from tpusim.frontend.load import load_model
from tpusim.hw.chip import Chip, load_chip
from tpusim.inputs import read_json, read_toml
from tpusim.ir.graph import Graph
from tpusim.limits import MAX_COMMANDS, check_model_size
from tpusim.options import parse_options
from tpusim.passes.precision import parse_precision
from tpusim.progress import report


@dataclass(frozen=True)
class Entry:
    name: str
    precision: str
    opt: str = "after"
    batch: int = 1
    model: str = ""  # a model name or file, or:
    op: str = ""  # a single operator with its `shapes` and `attrs`
    shapes: str = ""
    attrs: str = ""
    io: str = "f32"


@dataclass(frozen=True)
class Suite:
    chip: str
    tolerance: float
    entries: tuple[Entry, ...]
    timings: tuple[str, ...] = TIMINGS


_FIELD_TYPES = {"name": str, "precision": str, "opt": str, "batch": int, "model": str,
                "op": str, "shapes": str, "attrs": str, "io": str}
_SUITE_KEYS = ("chip", "tolerance", "timings", "entry")


def read_suite(path: str | Path) -> Suite:
    """A suite file, checked field by field: every problem names the file and the entry."""
    path = Path(path)
    raw = read_toml(path, "benchmark suite")
    unknown = sorted(set(raw) - set(_SUITE_KEYS))
    if unknown:
        raise ModelError(f"{path}: unknown key {unknown[0]!r} (expected {', '.join(_SUITE_KEYS)})")
    chip = raw.get("chip", "bm1684x")
    if not isinstance(chip, str):
        raise ModelError(f"{path}: 'chip' must be a chip name or profile path, got {chip!r}")
    tolerance = raw.get("tolerance", 0.001)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) \
            or not 0 <= tolerance < float("inf"):
        raise ModelError(f"{path}: 'tolerance' must be a number >= 0, got {tolerance!r}")
    timings = raw.get("timings", list(TIMINGS))
    if not isinstance(timings, list) or not timings \
            or any(t not in TIMINGS for t in timings) or len(set(timings)) != len(timings):
        raise ModelError(f"{path}: 'timings' must list chip and/or vendor, got {timings!r}")
    items = raw.get("entry", [])
    if not isinstance(items, list):
        raise ModelError(f"{path}: 'entry' must be an array of tables ([[entry]])")
    entries = tuple(_entry(path, i, item) for i, item in enumerate(items))
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ModelError(f"{path}: entry names repeat")
    return Suite(chip, float(tolerance), entries, tuple(timings))


def _entry(path: Path, i: int, item: Any) -> Entry:
    where = f"{path}: entry {i + 1}"
    if not isinstance(item, dict):
        raise ModelError(f"{where} must be a table ([[entry]]), got {item!r}")
    unknown = sorted(set(item) - set(_FIELD_TYPES))
    if unknown:
        raise ModelError(f"{where} has unknown field {unknown[0]!r}")
    if "name" not in item or "precision" not in item or not (item.get("model")
                                                             or item.get("op")):
        raise ModelError(f"{where} needs a name, a precision and a model or an op")
    for key, value in item.items():
        wanted = _FIELD_TYPES[key]
        if isinstance(value, bool) or not isinstance(value, wanted):
            kind = "an integer" if wanted is int else "a string"
            raise ModelError(f"{where}: {key!r} must be {kind}, got {value!r}")
    if item.get("batch", 1) < 1:
        raise ModelError(f"{where}: 'batch' must be >= 1, got {item['batch']}")
    try:  # the settings, checked now rather than after the entries before them have run
        parse_precision(item["precision"])
        parse_options(item.get("opt", "after"))
    except TpusimError as exc:
        raise ModelError(f"{where} ({item['name']}): {exc}") from None
    if item.get("io", "f32") not in ("f32", "native"):
        raise ModelError(f"{where} ({item['name']}): 'io' must be f32 or native, "
                         f"got {item['io']!r}")
    return Entry(**item)


def read_baseline(path: str | Path) -> dict[str, Any]:
    """A baseline written by `tpusim bench --save`, checked before it is compared with."""
    path = Path(path)
    data = read_json(path, "baseline")
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ModelError(f"{path}: not a benchmark baseline (no 'entries' object)")
    for name, entry in entries.items():
        if isinstance(entry, dict) and "total_ms" in entry:  # from before the chip model
            entry["vendor_ms"] = entry.pop("total_ms")
        times = _times(entry) if isinstance(entry, dict) else {}
        if not times or any(isinstance(ms, bool) or not isinstance(ms, (int, float))
                            for ms in times.values()):
            raise ModelError(f"{path}: entry {name!r} has no numeric chip_ms or vendor_ms")
    return data


def _times(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's simulated times by timing model."""
    return {t: entry[f"{t}_ms"] for t in TIMINGS if f"{t}_ms" in entry}


def _graph(entry: Entry) -> Graph:
    if entry.model:
        return load_model(entry.model, entry.batch)
    case = Case(entry.name, entry.precision.upper(), "", entry.op, entry.shapes, entry.attrs,
                0, 0, 0, 0, 0, False)
    try:
        graph = case_graph(case)
    except TpusimError as exc:
        raise ModelError(f"benchmark entry {entry.name!r}: {exc}") from None
    return check_model_size(graph, f"benchmark entry {entry.name!r}")


def run_entry(entry: Entry, chip: Chip, max_commands: int = MAX_COMMANDS,
              timings: tuple[str, ...] = TIMINGS) -> dict[str, Any]:
    """One compile, timed under each of `timings`."""
    program = compile(_graph(entry), chip, entry.precision, entry.opt, entry.io, max_commands)
    runs = {t: simulate(program, chip, t) for t in timings}
    times = {f"{t}_ms": round(run.total_ms, 6) for t, run in runs.items()}
    return {**times, "tiu_commands": len(program.tiu), "gdma_commands": len(program.gdma),
            "groups": len(program.groups),
            "ddr_bytes": next(iter(runs.values())).ddr_bytes()}


# what a program is, compared exactly (the times are compared within the tolerance)
EXACT = ("tiu_commands", "gdma_commands", "groups", "ddr_bytes")


def run_suite(suite: Suite, chip: Chip | None = None, max_commands: int = MAX_COMMANDS,
              timing: str | None = None) -> dict[str, Any]:
    """Every entry of `suite`, timed under the suite's timing models (or only `timing`)."""
    chip = chip or load_chip(suite.chip)
    if chip.cores > 1:
        raise TpusimError(f"chip {chip.name!r} has {chip.cores} cores: benchmarks run one core")
    timings = (parse_timing(timing),) if timing else suite.timings
    entries = {}
    for i, entry in enumerate(suite.entries):
        report(f"benchmark {i + 1} of {len(suite.entries)}: {entry.name}")
        entries[entry.name] = run_entry(entry, chip, max_commands, timings)
    return {"chip": chip.name, "tolerance": suite.tolerance, "timings": list(timings),
            "entries": entries}


def check(results: dict[str, Any], baseline: dict[str, Any], tolerance: float) -> list[str]:
    """One line per entry that appeared or vanished, per time that moved more than `tolerance`
    (relative), and per count (commands, groups, DDR bytes) that changed at all."""
    problems = []
    now, then = results["entries"], baseline.get("entries", {})
    for name in sorted(set(now) | set(then)):
        if name not in then:
            problems.append(f"{name}: not in the baseline")
        elif name not in now:
            problems.append(f"{name}: in the baseline but not in the suite")
        else:
            for field in EXACT:
                old, new = then[name].get(field), now[name].get(field)
                if old is not None and new is not None and old != new:
                    problems.append(f"{name}: {field} {old} -> {new}")
            old_times, new_times = _times(then[name]), _times(now[name])
            if not set(old_times) & set(new_times):
                problems.append(f"{name}: no timing model in common with the baseline")
            for timing in (t for t in TIMINGS if t in old_times and t in new_times):
                old, new = old_times[timing], new_times[timing]
                change = new / old - 1 if old else (float("inf") if new else 0.0)
                if abs(change) > tolerance:
                    problems.append(f"{name} ({timing}): {old:.6f} -> {new:.6f} ms "
                                    f"({change:+.2%})")
    return problems
