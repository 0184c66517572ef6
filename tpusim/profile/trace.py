"""Chrome trace-event JSON (the "JSON Object Format": opens in Perfetto and chrome://tracing).

One process is the run; its threads are the tracks, named and ordered by metadata events
("M": process_name, process_sort_index, thread_name, thread_sort_index): layer groups, layers,
GDMA, TIU. Commands and layers are complete events ("X"). Spans that overlap in time (the
layers of a pipelined group) go on extra tracks of the same kind, so that slices on one track
never partially overlap. Each sync wait is a flow ("s" on the command waited for, "f" with
"bp": "e" on the waiting one, both inside their slices). DDR bandwidth, LMEM occupancy and the
commands stalled on a bank or on DDR are counters ("C").

Times ("ts", "dur") are microseconds as the format requires, quantised to whole nanoseconds
(three decimals): Perfetto keeps integer nanoseconds, and rounding every start and end first,
then taking dur = end - start, keeps slices that touch or nest exactly so after import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tpusim.profile.kpis import tiu_rate
from tpusim.profile.series import ddr_series, lmem_series, pack_rows
from tpusim.profile.summary import group_rows, layer_rows

if TYPE_CHECKING:
    from tpusim.sim.result import Result

TIU_TID, GDMA_TID = 1, 2
GROUP_TID0, LAYER_TID0 = 100, 1000  # first track of each kind; more follow when spans overlap
FLOW_CAT = "sync"


def _ns(t: float) -> int:
    return round(t)


def _us(ns: int) -> float:
    return ns / 1000


def _slice(tid: int, name: str, cat: str, start: int, end: int, pid: int,
           args: dict[str, Any]) -> dict[str, Any]:
    return {"ph": "X", "pid": pid, "tid": tid, "name": name, "cat": cat, "ts": _us(start),
            "dur": _us(end - start), "args": args}


def _meta(name: str, pid: int, args: dict[str, Any], tid: int | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"ph": "M", "pid": pid, "name": name, "args": args}
    if tid is not None:
        event["tid"] = tid
    return event


def _packed(spans: list[tuple[int, int]], tid0: int) -> list[int]:
    return [tid0 + row for row in pack_rows(spans)]


def command_times(result: Result) -> dict[tuple[str, int], tuple[int, int]]:
    """(engine, cmd_id) -> quantised (start, end) ns, never overlapping on one engine."""
    times: dict[tuple[str, int], tuple[int, int]] = {}
    for engine in ("TIU", "GDMA"):
        previous_end = 0
        for r in sorted((r for r in result.records if r.engine == engine),
                        key=lambda r: (r.start_ns, r.cmd_id)):
            start = max(_ns(r.start_ns), previous_end)
            previous_end = max(_ns(r.end_ns), start)
            times[engine, r.cmd_id] = (start, previous_end)
    return times


def trace_events(result: Result, pid: int = 1, label: str = "",
                 flow_id0: int = 0) -> list[dict[str, Any]]:
    """Every event of one run, as process `pid` (a second run can be added as another pid,
    with its flow ids from `flow_id0` on: flow ids are global to the trace)."""
    program, chip = result.program, result.chip
    label = label or f"tpusim {program.name} {program.precision} on {program.chip}"
    events: list[dict[str, Any]] = [_meta("process_name", pid, {"name": label}),
                                    _meta("process_sort_index", pid, {"sort_index": pid})]
    tracks: dict[int, str] = {}

    groups = group_rows(program, result.records)
    spans = [(_ns(g.start_ns), _ns(g.end_ns)) for g in groups]
    for g, (start, end), tid in zip(groups, spans, _packed(spans, GROUP_TID0)):
        tracks[tid] = "Layer groups"
        events.append(_slice(tid, f"group {g.group}", "group", start, end, pid, {
            "group": g.group, "layers": len(g.layers), "bound": g.bound,
            "ddr_bytes": g.ddr_bytes, "lmem_bytes_per_lane": g.lmem_bytes}))

    layers = layer_rows(program, result.records)
    spans = [(_ns(row.start_ns), _ns(row.end_ns)) for row in layers]
    for row, (start, end), tid in zip(layers, spans, _packed(spans, LAYER_TID0)):
        tracks[tid] = "Layers"
        where = "global" if row.group < 0 else f"group {row.group}"
        events.append(_slice(tid, row.name, "layer", start, end, pid, {
            "index": row.index, "kind": row.kind, "group": row.group, "where": where,
            "bound": row.bound, "ddr_bytes": row.ddr_bytes, "macs": row.macs,
            "lmem_bytes_per_lane": program.layers[row.index].lmem_bytes}))

    times = command_times(result)
    tracks[GDMA_TID], tracks[TIU_TID] = "GDMA", "TIU"
    for r in result.records:
        start, end = times[r.engine, r.cmd_id]
        mhz = chip.tiu_mhz if r.engine == "TIU" else chip.gdma_mhz
        args: dict[str, Any] = {"id": r.cmd_id, "dep": r.dep, "layer": r.layer,
                                "layer_name": program.layers[r.layer].name, "group": r.group,
                                "slice": r.slice, "cycles": round(r.duration_ns * mhz / 1000, 3)}
        if r.engine == "GDMA":
            gbps = r.bytes / r.duration_ns if r.duration_ns else 0.0
            args.update(bytes=r.bytes, direction=r.direction, tensor=r.tensor,
                        gbps=round(gbps, 3))
        else:
            args["uarch_rate"] = round(tiu_rate(program, r.cmd_id, chip), 4)
        tid = TIU_TID if r.engine == "TIU" else GDMA_TID
        events.append(_slice(tid, r.kind, r.engine, start, end, pid, args))

    events += _flows(result, times, pid, flow_id0)
    events += _counters(result, pid)
    events += _track_names(tracks, pid)
    return events


def _track_names(tracks: dict[int, str], pid: int) -> list[dict[str, Any]]:
    """Names ("Layers", "Layers 2", ...) and display order: groups, layers, GDMA, TIU."""
    events = []
    seen: dict[str, int] = {}
    kind_order = {"Layer groups": 0, "Layers": 1, "GDMA": 2, "TIU": 3}
    order = sorted(tracks, key=lambda tid: (kind_order[tracks[tid]], tid))
    for index, tid in enumerate(order):
        base = tracks[tid]
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base} {seen[base]}"
        events.append(_meta("thread_name", pid, {"name": name}, tid))
        events.append(_meta("thread_sort_index", pid, {"sort_index": index}, tid))
    return events


def _flows(result: Result, times: dict[tuple[str, int], tuple[int, int]],
           pid: int, flow_id0: int = 0) -> list[dict[str, Any]]:
    """A flow from each command waited for to the command that waits, bound at the middle of
    each slice (inside it, whatever the order a reader sorts equal timestamps in)."""
    events = []
    for r in result.records:
        if not r.dep:
            continue
        source = "GDMA" if r.engine == "TIU" else "TIU"
        flow_id = flow_id0 + 2 * r.cmd_id + (r.engine == "GDMA")
        (s0, s1), (d0, d1) = times[source, r.dep], times[r.engine, r.cmd_id]
        common = {"pid": pid, "cat": FLOW_CAT, "name": "wait", "id": flow_id}
        events.append({"ph": "s", "tid": TIU_TID if source == "TIU" else GDMA_TID,
                       "ts": _us((s0 + s1) // 2), **common})
        events.append({"ph": "f", "bp": "e", "tid": TIU_TID if r.engine == "TIU" else GDMA_TID,
                       "ts": _us((d0 + d1) // 2), **common})
    return events


def _counters(result: Result, pid: int) -> list[dict[str, Any]]:
    events = [{"ph": "C", "pid": pid, "name": "DDR bandwidth", "ts": _us(_ns(t)),
               "args": {"GB/s": round(gbps, 3)}} for t, gbps in ddr_series(result)]
    events.append({"ph": "C", "pid": pid, "name": "DDR bandwidth",
                   "ts": _us(_ns(result.total_ns)), "args": {"GB/s": 0.0}})
    lmem: dict[int, int] = {}
    for t, nbytes in lmem_series(result):
        lmem[_ns(t)] = nbytes  # the last value at a nanosecond wins
    events += [{"ph": "C", "pid": pid, "name": "LMEM per lane", "ts": _us(t),
                "args": {"bytes": nbytes}} for t, nbytes in sorted(lmem.items())]
    return events + _stalls(result, pid)


def _stalls(result: Result, pid: int) -> list[dict[str, Any]]:
    """A counter of the commands waiting on a local-memory bank and on DDR: each command's
    stall at its start (none, if nothing stalled)."""
    changes: dict[int, list[float]] = {}
    for r in result.records:
        for k, stall in enumerate((r.lmem_stall_ns, r.ddr_stall_ns)):
            if stall > 0:
                for t, sign in ((_ns(r.start_ns), 1), (_ns(r.start_ns + stall), -1)):
                    changes.setdefault(t, [0.0, 0.0])[k] += sign
    events, level = [], [0.0, 0.0]
    for t in sorted(changes):
        level = [a + b for a, b in zip(level, changes[t])]
        events.append({"ph": "C", "pid": pid, "name": "stalled commands", "ts": _us(t),
                       "args": {"lmem": int(level[0]), "ddr": int(level[1])}})
    return events


def chrome_trace(result: Result) -> dict[str, Any]:
    program = result.program
    return {"traceEvents": trace_events(result), "displayTimeUnit": "ns",
            "otherData": {"generator": "tpusim", "model": program.name, "chip": program.chip,
                          "precision": program.precision}}


def comparison_trace(results: Sequence[Result], labels: Sequence[str]) -> dict[str, Any]:
    """Several runs in one trace, one process each (pid 1, 2, ...) on the same time axis."""
    events: list[dict[str, Any]] = []
    flow_id0 = 0
    for pid, (result, label) in enumerate(zip(results, labels), start=1):
        events += trace_events(result, pid, label, flow_id0)
        program = result.program
        flow_id0 += 2 * (max(len(program.tiu), len(program.gdma)) + 1)
    first = results[0].program
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"generator": "tpusim", "model": first.name, "chip": first.chip,
                          "runs": list(labels)}}


def dumps_trace(trace: dict[str, Any]) -> str:
    """The trace as JSON with one event per line: compact, yet readable and diffable."""
    def dump(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    others = "".join(f"{dump(k)}:{dump(v)},\n" for k, v in sorted(trace.items())
                     if k != "traceEvents")
    events = ",\n".join(dump(e) for e in trace["traceEvents"])
    return "{" + others + '"traceEvents":[\n' + events + "\n]}\n"
