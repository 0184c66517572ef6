"""A self-contained HTML timeline: one file, inline CSS and script, no network.

The page (timeline.html, .css, .js and _ui.js beside this module) draws on a canvas and
only what is in view, so tens of thousands of commands stay responsive. The data is one JSON
object of plain number arrays with a string table:

- times are integers in units of 1/`time_scale` ns; per engine, commands are in start order
  and stored as `gap` (start minus the previous end) and `dur`, which are mostly small;
- each command column is a plain list, or {"r": [value, count, ...]} (run lengths), or
  {"d": [...]} (run lengths of the differences), whichever is shortest;
- `id` and `group` are stored only when they are not simply 1, 2, ... and the layer's group;
- `runs` is a list, so a second run (a before/after comparison) shares the time axis.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tpusim.outputs import write_atomic
from tpusim.profile.colors import (
    DDR_COLOR,
    GLOBAL_LAYER_COLORS,
    GROUP_COLOR,
    LMEM_COLOR,
    LOCAL_LAYER_COLORS,
    command_color,
)
from tpusim.profile.kpis import tiu_rate
from tpusim.profile.lmem_map import lmem_map
from tpusim.profile.series import lmem_series, pack_rows
from tpusim.profile.summary import LayerRow, group_rows, kind_rows, layer_rows, time_shares
from tpusim.profile.tables import summary_json

if TYPE_CHECKING:
    from tpusim.sim.result import Result

TIME_SCALE = 10  # stored time units per ns: 0.1 ns resolution
FORMAT_VERSION = 1


class _Strings:
    """A string table: each distinct string stored once, referred to by index."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        if text not in self._index:
            self._index[text] = len(self.items)
            self.items.append(text)
        return self._index[text]


def _t(ns: float) -> int:
    return round(ns * TIME_SCALE)


def _commands(result: Result, engine: str, strings: _Strings) -> dict[str, Any]:
    program, chip = result.program, result.chip
    records = sorted((r for r in result.records if r.engine == engine),
                     key=lambda r: (r.start_ns, r.cmd_id))
    cols: dict[str, list] = {k: [] for k in ("gap", "dur", "layer", "slice", "dep", "kind",
                                             "id", "group")}
    if engine == "TIU":
        cols["rate"] = []  # uArch rate, per mille
    else:
        cols.update(bytes=[], dir=[], tensor=[])
    previous_end = 0
    for i, r in enumerate(records):
        start = max(_t(r.start_ns), previous_end)
        end = max(_t(r.end_ns), start)
        cols["gap"].append(start - previous_end)
        cols["dur"].append(end - start)
        cols["layer"].append(r.layer)
        cols["slice"].append(r.slice)
        cols["dep"].append(r.dep)
        cols["kind"].append(strings(r.kind))
        cols["id"].append(r.cmd_id if r.cmd_id != i + 1 else 0)
        cols["group"].append(r.group if r.group != program.layers[r.layer].group else -2)
        if engine == "TIU":
            cols["rate"].append(round(1000 * tiu_rate(program, r.cmd_id, chip)))
        else:
            cols["bytes"].append(r.bytes)
            cols["dir"].append(strings(r.direction))
            cols["tensor"].append(strings(r.tensor))
        previous_end = end
    if not any(cols["id"]):
        del cols["id"]  # ids are 1, 2, ... in start order
    if all(g == -2 for g in cols["group"]):
        del cols["group"]  # every command runs in its layer's group
    return {name: _pack(values) for name, values in cols.items()}


def _runs(values: list[int]) -> list[int]:
    """Run-length encoding, flat: value, count, value, count, ..."""
    out: list[int] = []
    for v in values:
        if out and out[-2] == v:
            out[-1] += 1
        else:
            out += [v, 1]
    return out


def _pack(values: list[int]) -> list[int] | dict[str, list[int]]:
    """The shortest of: the values, their run-length encoding ("r"), the run-length
    encoding of their differences ("d", the first taken from 0)."""
    deltas = [b - a for a, b in zip([0, *values], values)]
    options: list[list[int] | dict[str, list[int]]] = [
        values, {"r": _runs(values)}, {"d": _runs(deltas)}]
    return min(options, key=lambda o: len(json.dumps(o, separators=(",", ":"))))


def _layers(result: Result, rows: list[LayerRow], strings: _Strings) -> dict[str, Any]:
    program = result.program
    spans = [(_t(r.start_ns), _t(r.end_ns)) for r in rows]
    return {
        "index": [r.index for r in rows], "name": [strings(r.name) for r in rows],
        "kind": [strings(r.kind) for r in rows], "group": [r.group for r in rows],
        "start": [s for s, _ in spans], "end": [e for _, e in spans],
        "row": pack_rows(spans), "lmem": [program.layers[r.index].lmem_bytes for r in rows],
        "tiu_ns": [r.tiu_ns for r in rows], "gdma_ns": [r.gdma_ns for r in rows],
        "tiu_cmds": [r.tiu_commands for r in rows], "gdma_cmds": [r.gdma_commands for r in rows],
        "ddr_bytes": [r.ddr_bytes for r in rows], "macs": [r.macs for r in rows],
        "bound": [strings(r.bound) for r in rows],
    }


def _groups(result: Result) -> list[dict[str, Any]]:
    return [{"group": g.group, "layers": g.layers, "start": _t(g.start_ns), "end": _t(g.end_ns),
             "start_ns": g.start_ns, "end_ns": g.end_ns, "tiu_ns": g.tiu_ns,
             "gdma_ns": g.gdma_ns, "tiu_cmds": g.tiu_commands, "gdma_cmds": g.gdma_commands,
             "ddr_bytes": g.ddr_bytes, "lmem_bytes": g.lmem_bytes, "bound": g.bound}
            for g in group_rows(result.program, result.records)]


def _lmem_map(result: Result, strings: _Strings) -> dict[str, Any]:
    """Every placement of a buffer in local memory (lmem_map), as packed columns."""
    placed = lmem_map(result)
    cols = {"group": [p.group for p in placed], "tensor": [strings(p.tensor) for p in placed],
            "slice": [p.slice for p in placed], "addr": [p.addr for p in placed],
            "size": [p.size for p in placed], "t0": [_t(p.start_ns) for p in placed],
            "t1": [_t(p.end_ns) for p in placed]}
    return {name: _pack(values) for name, values in cols.items()}


def timeline_data(result: Result, label: str = "") -> dict[str, Any]:
    """Everything the page shows about one run, compact and JSON-ready."""
    program, chip = result.program, result.chip
    strings = _Strings()
    headline = summary_json(result)
    kpi, engines = headline.pop("kpis"), headline.pop("engines")
    lmem = lmem_series(result)
    rows = layer_rows(program, result.records)
    run = {
        "label": label or f"{program.name} {program.precision} on {program.chip}",
        "chip": {"name": chip.name, "tiu_mhz": chip.tiu_mhz, "gdma_mhz": chip.gdma_mhz,
                 "ddr_gbps": chip.ddr_gbps, "lmem_bytes_per_npu": chip.lmem_bytes_per_npu,
                 "lmem_banks": chip.lmem_banks},
        "total": _t(result.total_ns),
        "layers": _layers(result, rows, strings),
        "groups": _groups(result),
        "tiu": _commands(result, "TIU", strings),
        "gdma": _commands(result, "GDMA", strings),
        "lmem": {"t": [_t(t) for t, _ in lmem], "bytes": [b for _, b in lmem]},
        "lmem_map": _lmem_map(result, strings),
        "summary": headline,
        "kpis": kpi,
        "engines": engines,
        "kinds": kind_rows(rows, time_shares(result.records, result.total_ns)[0]),
    }
    run["strings"] = strings.items
    return run


def _palette(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    keys = sorted({s for run in runs for s in run["strings"]})
    return {"command": {k: command_color(k) for k in keys}, "global": GLOBAL_LAYER_COLORS,
            "local": LOCAL_LAYER_COLORS, "group": GROUP_COLOR, "ddr": DDR_COLOR,
            "lmem": LMEM_COLOR}


def _resource(name: str) -> str:
    return resources.files("tpusim.profile").joinpath(name).read_text(encoding="utf-8")


def timeline_html(results: Sequence[Result], labels: Sequence[str] = (),
                  title: str = "") -> str:
    """The page for one or more runs drawn on one time axis (same inputs, same bytes)."""
    runs = [timeline_data(r, labels[i] if i < len(labels) else "")
            for i, r in enumerate(results)]
    data = {"version": FORMAT_VERSION, "time_scale": TIME_SCALE, "runs": runs,
            "palette": _palette(runs)}
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    text = text.replace("<", "\\u003c")  # "</script>" inside a name must not end the block
    title = title or " vs ".join(run["label"] for run in runs)
    parts = {"TITLE": html.escape(title), "CSS": _resource("timeline.css"),
             "JS": _resource("timeline.js") + "\n" + _resource("timeline_ui.js"), "DATA": text}
    # one pass, so nothing inserted (a title, the data) is searched for placeholders again
    return re.sub(r"\{\{(TITLE|CSS|JS|DATA)\}\}", lambda m: parts[m.group(1)],
                  _resource("timeline.html"))


def write_html(results: Result | Sequence[Result], path: Any, **options: Any) -> None:
    runs = [results] if not isinstance(results, Sequence) else results
    text = timeline_html(runs, **options)
    write_atomic(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"))
