"""Chrome trace-event JSON (opens in Perfetto and chrome://tracing).

Times are microseconds ("ts", "dur"), as the trace-event format requires. One process is the
chip; its threads are one track per engine plus a track of layers.
"""

from __future__ import annotations

from typing import Any

from tpusim.lower.commands import Program
from tpusim.profile.summary import layer_rows
from tpusim.sim.engine import Record

_PID = 1
_TRACKS = {"Layers": 1, "TIU": 2, "GDMA": 3}


def _us(ns: float) -> float:
    return round(ns / 1000.0, 6)


def trace_events(program: Program, records: list[Record]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": _PID, "name": "process_name",
         "args": {"name": f"{program.chip} {program.name} {program.precision}"}},
    ]
    for name, tid in _TRACKS.items():
        events.append({"ph": "M", "pid": _PID, "tid": tid, "name": "thread_name",
                       "args": {"name": name}})
        events.append({"ph": "M", "pid": _PID, "tid": tid, "name": "thread_sort_index",
                       "args": {"sort_index": tid}})
    for row in layer_rows(program, records):
        events.append({"ph": "X", "pid": _PID, "tid": _TRACKS["Layers"], "name": row.name,
                       "cat": "layer", "ts": _us(row.start_ns), "dur": _us(row.span_ns),
                       "args": {"kind": row.kind, "group": row.group, "bound": row.bound,
                                "ddr_bytes": row.ddr_bytes}})
    for r in records:
        args: dict[str, Any] = {"id": r.cmd_id, "dep": r.dep,
                                "layer": program.layers[r.layer].name,
                                "group": r.group, "slice": r.slice}
        if r.engine == "GDMA":
            args.update(bytes=r.bytes, direction=r.direction, tensor=r.tensor)
        events.append({"ph": "X", "pid": _PID, "tid": _TRACKS[r.engine], "name": r.kind,
                       "cat": r.engine, "ts": _us(r.start_ns), "dur": _us(r.duration_ns),
                       "args": args})
    return events


def chrome_trace(program: Program, records: list[Record]) -> dict[str, Any]:
    return {"traceEvents": trace_events(program, records), "displayTimeUnit": "ns",
            "otherData": {"generator": "tpusim", "model": program.name, "chip": program.chip,
                          "precision": program.precision}}
