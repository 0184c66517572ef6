"""Regression benchmarks: a suite of simulations whose times are kept in a baseline file.

A suite is a TOML file: the chip, a tolerance, and entries that are either a model (built-in
name or file) or a single operator described as the vendor's micro cases describe one
("MatMul", "[1,64,256]x[256,512](weight)"). `run_suite` simulates every entry; `check` names
every entry whose simulated time moved more than the tolerance from a baseline.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tpusim.api import compile, simulate
from tpusim.calibration.micro import Case, case_graph
from tpusim.errors import ModelError
from tpusim.frontend.load import load_model
from tpusim.hw.chip import Chip, load_chip

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


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


def read_suite(path: str | Path) -> Suite:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"cannot read benchmark suite {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"benchmark suite {path} is not valid TOML: {exc}") from None
    entries = []
    fields = set(Entry.__dataclass_fields__)
    for i, item in enumerate(raw.get("entry", [])):
        unknown = sorted(set(item) - fields)
        if unknown:
            raise ModelError(f"{path}: entry {i + 1} has unknown field {unknown[0]!r}")
        if "name" not in item or "precision" not in item or not (item.get("model")
                                                                  or item.get("op")):
            raise ModelError(f"{path}: entry {i + 1} needs a name, a precision and a model "
                             "or an op")
        entries.append(Entry(**item))
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ModelError(f"{path}: entry names repeat")
    return Suite(raw.get("chip", "bm1684x"), float(raw.get("tolerance", 0.001)), tuple(entries))


def run_entry(entry: Entry, chip: Chip) -> dict[str, Any]:
    if entry.model:
        graph = load_model(entry.model, entry.batch)
    else:
        graph = case_graph(Case(entry.name, entry.precision.upper(), "", entry.op,
                                entry.shapes, entry.attrs, 0, 0, 0, 0, 0, False))
    program = compile(graph, chip, entry.precision, entry.opt, entry.io)
    result = simulate(program, chip)
    return {"total_ms": round(result.total_ms, 6), "tiu_commands": len(program.tiu),
            "gdma_commands": len(program.gdma), "groups": len(program.groups)}


def run_suite(suite: Suite, chip: Chip | None = None) -> dict[str, Any]:
    chip = chip or load_chip(suite.chip)
    return {"chip": chip.name, "tolerance": suite.tolerance,
            "entries": {e.name: run_entry(e, chip) for e in suite.entries}}


def check(results: dict[str, Any], baseline: dict[str, Any], tolerance: float) -> list[str]:
    """One line per entry that moved more than `tolerance` (relative), appeared or vanished."""
    problems = []
    now, then = results["entries"], baseline.get("entries", {})
    for name in sorted(set(now) | set(then)):
        if name not in then:
            problems.append(f"{name}: not in the baseline")
        elif name not in now:
            problems.append(f"{name}: in the baseline but not in the suite")
        else:
            old, new = then[name]["total_ms"], now[name]["total_ms"]
            change = new / old - 1 if old else float("inf")
            if abs(change) > tolerance:
                problems.append(f"{name}: {old:.6f} -> {new:.6f} ms ({change:+.2%})")
    return problems
