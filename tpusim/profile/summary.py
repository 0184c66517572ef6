"""Tables from records: per layer, per operator kind and per group, the numbers a timeline
summarises (the per-engine ones are in kpis.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from operator import attrgetter
from typing import Any

from tpusim.lower.commands import Program
from tpusim.sim.timeline import Record


def placement(group: int) -> str:
    """Where a layer ran: "global", or "G3" for layer group 3."""
    return "global" if group < 0 else f"G{group}"


@dataclass
class LayerRow:
    index: int
    name: str
    kind: str
    group: int
    start_ns: float
    end_ns: float
    tiu_ns: float
    gdma_ns: float
    tiu_commands: int
    gdma_commands: int
    ddr_bytes: int
    macs: int

    @property
    def span_ns(self) -> float:
        return self.end_ns - self.start_ns

    @property
    def bound(self) -> str:
        if not self.tiu_commands and not self.gdma_commands:
            return "-"
        return "TIU" if self.tiu_ns >= self.gdma_ns else "GDMA"


def _count(row: LayerRow | GroupRow, r: Record) -> None:
    """Add one command to a layer's or group's span, engine time, command count and DDR bytes."""
    row.start_ns = min(row.start_ns, r.start_ns)
    row.end_ns = max(row.end_ns, r.end_ns)
    if r.engine == "TIU":
        row.tiu_ns += r.duration_ns
        row.tiu_commands += 1
    else:
        row.gdma_ns += r.duration_ns
        row.gdma_commands += 1
        if r.direction != "L2L":
            row.ddr_bytes += r.bytes


def _memo(fn: Callable) -> Callable:
    """Remember the last few answers for the same records (every table of a report asks for
    the same rows; the rows are read, never changed)."""
    kept: dict[tuple, tuple[Any, Any]] = {}

    @wraps(fn)
    def cached(program: Any, records: list[Record], *args: Any) -> Any:
        key = (id(program), id(records), len(records), *args)
        hit = kept.get(key)
        if hit is not None and hit[0] is records:
            return hit[1]
        if len(kept) >= 8:
            kept.pop(next(iter(kept)))
        value = fn(program, records, *args)
        kept[key] = (records, value)
        return value

    return cached


def first_inference(records: list[Record]) -> list[Record]:
    """The records of a stream's first inference (all of them, for one inference)."""
    if all(r.inference == 0 for r in records):
        return records
    return [r for r in records if r.inference == 0]


@_memo
def layer_rows(program: Program, records: list[Record]) -> list[LayerRow]:
    """One row per layer that issued commands, in program order (a stream's: its first
    inference's)."""
    rows: dict[int, LayerRow] = {}
    for r in first_inference(records):
        row = rows.get(r.layer)
        if row is None:
            layer = program.layers[r.layer]
            row = rows[r.layer] = LayerRow(r.layer, layer.name, layer.kind, layer.group,
                                           r.start_ns, r.end_ns, 0.0, 0.0, 0, 0, 0, layer.macs)
        _count(row, r)
    return [rows[i] for i in sorted(rows)]


def time_shares(records: list[Record], total_ns: float,
                key: Callable[[Record], int] = attrgetter("layer")
                ) -> tuple[dict[int, float], float]:
    """Each layer's share of the wall time (by program index, or by `key`) and the idle time:
    every instant of [0, total] goes to the layers with a command running then, split equally,
    or to idle. Layer spans overlap inside pipelined groups; shares do not, so with the idle
    time they add up to the total."""
    events = sorted((t, step, key(r)) for r in records if r.end_ns > r.start_ns
                    for t, step in ((r.start_ns, 1), (r.end_ns, -1)))
    shares: dict[int, float] = defaultdict(float)
    running: dict[int, int] = {}  # layer -> commands running
    idle = now = 0.0
    i = 0
    while i < len(events):
        t = events[i][0]
        if t > now:
            if running:
                for layer in running:
                    shares[layer] += (t - now) / len(running)
            else:
                idle += t - now
            now = t
        while i < len(events) and events[i][0] == t:  # every start and end at t
            _, step, layer = events[i]
            running[layer] = running.get(layer, 0) + step
            if not running[layer]:
                del running[layer]
            i += 1
    return dict(shares), idle + max(0.0, total_ns - now)


def kind_rows(rows: list[LayerRow], shares: dict[int, float]) -> list[dict]:
    """Layer rows summed by operator kind, largest share of the wall time first (`time_ns`,
    from `time_shares`): the shares of all kinds plus the idle time make the total."""
    by_kind: dict[str, dict] = {}
    for row in rows:
        entry = by_kind.setdefault(row.kind, {"kind": row.kind, "layers": 0, "time_ns": 0.0,
                                              "tiu_ns": 0.0, "gdma_ns": 0.0, "ddr_bytes": 0})
        entry["layers"] += 1
        entry["time_ns"] += shares.get(row.index, 0.0)
        entry["tiu_ns"] += row.tiu_ns
        entry["gdma_ns"] += row.gdma_ns
        entry["ddr_bytes"] += row.ddr_bytes
    return sorted(by_kind.values(), key=lambda e: (-e["time_ns"], e["kind"]))


@dataclass
class GroupRow:
    """A layer group as it ran (span, engine time, commands, bytes, from its records) beside
    what the compiler planned for it (ops, type, slices, tpu-mlir's formula estimate). Programs
    built by hand have no plans: the planned fields then come from the records."""

    group: int
    layers: list[int]  # program indices of the layers that issued commands
    start_ns: float
    end_ns: float
    tiu_ns: float = 0.0
    gdma_ns: float = 0.0
    tiu_commands: int = 0
    gdma_commands: int = 0
    ddr_bytes: int = 0
    lmem_bytes: int = 0  # peak per lane
    ops: int = 0  # ops in the group, including those that issued no command
    first: str = ""  # name of the first and last op
    last: str = ""
    type: str = ""  # tpu-mlir's group type
    secs: str = ""  # slices along n, c, h
    slices: int = 1
    estimate_ns: float = 0.0  # tpu-mlir's group-cycle formula; 0 when unknown

    @property
    def span_ns(self) -> float:
        return self.end_ns - self.start_ns

    @property
    def bound(self) -> str:
        return "TIU" if self.tiu_ns >= self.gdma_ns else "GDMA"

    @property
    def parallelism(self) -> float:
        """(TIU busy + GDMA busy) / span: above 1 when the engines overlap."""
        return (self.tiu_ns + self.gdma_ns) / self.span_ns if self.span_ns else 0.0

    @property
    def estimate_ratio(self) -> float:
        """Simulated span over tpu-mlir's formula estimate (0 without an estimate)."""
        return self.span_ns / self.estimate_ns if self.estimate_ns else 0.0


@_memo
def group_rows(program: Program, records: list[Record]) -> list[GroupRow]:
    """One row per layer group that issued commands (records with group >= 0), by index (a
    stream's: its first inference's)."""
    rows: dict[int, GroupRow] = {}
    slices: dict[int, set[int]] = {}
    for r in first_inference(records):
        if r.group < 0:
            continue
        row = rows.get(r.group)
        if row is None:
            row = rows[r.group] = GroupRow(r.group, [], r.start_ns, r.end_ns)
            slices[r.group] = set()
        if r.layer not in row.layers:
            row.layers.append(r.layer)
            row.lmem_bytes = max(row.lmem_bytes, program.layers[r.layer].lmem_bytes)
        slices[r.group].add(r.slice)
        _count(row, r)
    plans = {plan.index: plan for plan in program.groups}
    for row in rows.values():
        row.layers.sort()
        plan = plans.get(row.group)
        if plan is None:
            row.ops, row.slices = len(row.layers), len(slices[row.group])
            row.first = program.layers[row.layers[0]].name
            row.last = program.layers[row.layers[-1]].name
        else:
            row.ops, row.first, row.last = len(plan.ops), plan.ops[0].name, plan.ops[-1].name
            row.type, row.secs, row.slices = plan.type.value, str(plan.secs), len(plan.slices)
            row.lmem_bytes, row.estimate_ns = plan.lmem_bytes, plan.estimate_ns
    return [rows[g] for g in sorted(rows)]
