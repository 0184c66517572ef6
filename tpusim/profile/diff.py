"""Before/after: what changed between two runs of a model, layer by layer, and why.

Layers are matched by name; a layer the rewrites removed or renamed appears as removed from
the first run and, under its new name, added to the second.

Layer spans overlap inside pipelined groups, so spans do not add up to the total. Each layer's
`time_ns` is instead its share of the wall time: every instant of the run goes to the layers
whose commands run at that instant, split equally, or to `idle` when no command runs (an
engine waiting out a sync latency, say). Hence, for each run, the shares plus the idle time
equal the total, and for two runs

    after.total - before.total == sum of the layers' deltas + (after.idle - before.idle)

with a removed layer's delta its whole share, negated, and an added layer's its share.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tpusim.profile.summary import layer_rows, placement, time_shares

if TYPE_CHECKING:
    from tpusim.sim.result import Result

# How big a change must be to be named as a reason (smaller ones are noise of the schedule).
RELATIVE_CHANGE = 0.05  # bytes, commands, TIU time: 5 %
OVERLAP_CHANGE = 0.1  # parallelism, in engines busy at once


@dataclass(frozen=True)
class LayerStats:
    """One layer in one run."""

    index: int
    kind: str
    group: int  # -1: global
    time_ns: float  # share of the wall time (module docstring)
    span_ns: float  # first command's start to last command's end
    tiu_ns: float
    gdma_ns: float
    tiu_commands: int
    gdma_commands: int
    ddr_bytes: int
    mates: frozenset[str]  # the other ops of its group; empty for a global layer

    @property
    def commands(self) -> int:
        return self.tiu_commands + self.gdma_commands

    @property
    def parallelism(self) -> float:
        """Engines busy on average while the layer has the time: (TIU + GDMA busy) / share.
        2.0 when its TIU work overlaps GDMA work (its own or another layer's) throughout."""
        return (self.tiu_ns + self.gdma_ns) / self.time_ns if self.time_ns else 0.0

    @property
    def where(self) -> str:
        return placement(self.group)


def layer_stats(result: Result) -> dict[str, LayerStats]:
    """Every layer of the program by name, also those that issued no command."""
    program = result.program
    shares, _ = time_shares(result.records, result.total_ns)
    rows = {row.index: row for row in layer_rows(program, result.records)}
    members: dict[int, set[str]] = defaultdict(set)
    for layer in program.layers:
        if layer.group >= 0:
            members[layer.group].add(layer.name)
    stats = {}
    for i, layer in enumerate(program.layers):
        row = rows.get(i)
        mates = frozenset(members[layer.group] - {layer.name}) if layer.group >= 0 else frozenset()
        stats[layer.name] = LayerStats(
            i, layer.kind, layer.group, shares.get(i, 0.0), row.span_ns if row else 0.0,
            row.tiu_ns if row else 0.0, row.gdma_ns if row else 0.0,
            row.tiu_commands if row else 0, row.gdma_commands if row else 0,
            row.ddr_bytes if row else 0, mates)
    return stats


@dataclass(frozen=True)
class LayerDiff:
    name: str
    kind: str
    before: LayerStats | None  # None: added by the second run
    after: LayerStats | None  # None: removed (or renamed) in the second run
    reasons: tuple[str, ...]

    @property
    def change(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "kept"

    @property
    def delta_ns(self) -> float:
        """After minus before share of the wall time: negative when the layer got faster."""
        return (self.after.time_ns if self.after else 0.0) - (
            self.before.time_ns if self.before else 0.0)

    @property
    def where(self) -> str:
        sides = [s.where if s else "-" for s in (self.before, self.after)]
        return sides[0] if sides[0] == sides[1] else " -> ".join(sides)

    def to_dict(self) -> dict[str, Any]:
        def side(s: LayerStats | None) -> dict[str, Any] | None:
            if s is None:
                return None
            return {"index": s.index, "group": s.group, "where": s.where, "time_ns": s.time_ns,
                    "span_ns": s.span_ns, "tiu_ns": s.tiu_ns, "gdma_ns": s.gdma_ns,
                    "tiu_commands": s.tiu_commands, "gdma_commands": s.gdma_commands,
                    "ddr_bytes": s.ddr_bytes, "parallelism": s.parallelism}

        return {"name": self.name, "kind": self.kind, "change": self.change,
                "delta_ns": self.delta_ns, "where": self.where, "reasons": list(self.reasons),
                "before": side(self.before), "after": side(self.after)}


def _changed(old: float, new: float) -> bool:
    return abs(new - old) > RELATIVE_CHANGE * max(abs(old), abs(new))


def _fewer_more(old: float, new: float) -> str:
    return "fewer" if new < old else "more"


def reasons(before: LayerStats | None, after: LayerStats | None,
            common: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Why a layer's time changed, biggest structural change first. `common` names the layers
    of both runs: only they count when comparing whom a layer shares its group with."""
    if before is None:
        return ("added",)
    if after is None:
        return ("removed",)
    why = []
    if (before.group < 0) != (after.group < 0):
        why.append("global -> group" if before.group < 0 else "group -> global")
    elif before.group >= 0 and before.mates & common != after.mates & common:
        why.append("regrouped")
    if _changed(before.ddr_bytes, after.ddr_bytes):
        pct = (after.ddr_bytes / before.ddr_bytes - 1) * 100 if before.ddr_bytes else 100.0
        why.append(f"{_fewer_more(before.ddr_bytes, after.ddr_bytes)} bytes ({pct:+.0f}%)")
    if abs(after.parallelism - before.parallelism) > OVERLAP_CHANGE:
        word = "more" if after.parallelism > before.parallelism else "less"
        why.append(f"{word} overlap ({before.parallelism:.2f} -> {after.parallelism:.2f})")
    if _changed(before.commands, after.commands):
        why.append(f"{_fewer_more(before.commands, after.commands)} commands "
                   f"({before.commands} -> {after.commands})")
    if _changed(before.tiu_ns, after.tiu_ns):
        word = "less" if after.tiu_ns < before.tiu_ns else "more"
        why.append(f"{word} TIU time ({after.tiu_ns / before.tiu_ns - 1:+.0%})"
                   if before.tiu_ns else f"{word} TIU time")
    return tuple(why)


@dataclass(frozen=True)
class RunTotals:
    label: str
    total_ns: float
    idle_ns: float
    tiu_busy_ns: float
    gdma_busy_ns: float
    ddr_bytes: int
    tiu_commands: int
    gdma_commands: int
    global_layers: int
    groups: int

    @property
    def parallelism(self) -> float:
        """(TIU busy + GDMA busy) / total, PerfAI's Parallelism."""
        return (self.tiu_busy_ns + self.gdma_busy_ns) / self.total_ns if self.total_ns else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "parallelism": self.parallelism}


def run_totals(result: Result, label: str) -> RunTotals:
    s = result.summary()
    idle = time_shares(result.records, result.total_ns)[1]
    return RunTotals(label, result.total_ns, idle, result.busy_ns("TIU"), result.busy_ns("GDMA"),
                     s["ddr_bytes"], s["tiu_commands"], s["gdma_commands"],
                     s["global_layers"], s["groups"])


@dataclass(frozen=True)
class RunDiff:
    before: RunTotals
    after: RunTotals
    layers: list[LayerDiff]  # faster first: by delta, then name

    @property
    def delta_ns(self) -> float:
        return self.after.total_ns - self.before.total_ns

    @property
    def layers_delta_ns(self) -> float:
        return sum(d.delta_ns for d in self.layers)

    @property
    def idle_delta_ns(self) -> float:
        return self.after.idle_ns - self.before.idle_ns

    def biggest(self, top: int) -> list[LayerDiff]:
        """The `top` largest changes either way."""
        return sorted(self.layers, key=lambda d: (-abs(d.delta_ns), d.name))[:top]

    def by_kind(self) -> list[dict[str, Any]]:
        """Shares and deltas summed per operator kind, biggest change first."""
        kinds: dict[str, dict[str, Any]] = {}
        for d in self.layers:
            k = kinds.setdefault(d.kind, {"kind": d.kind, "before_ns": 0.0, "after_ns": 0.0,
                                          "delta_ns": 0.0, "removed": 0, "added": 0})
            k["before_ns"] += d.before.time_ns if d.before else 0.0
            k["after_ns"] += d.after.time_ns if d.after else 0.0
            k["delta_ns"] += d.delta_ns
            if d.change != "kept":
                k[d.change] += 1
        return sorted(kinds.values(), key=lambda k: (-abs(k["delta_ns"]), k["kind"]))

    def counts(self) -> dict[str, int]:
        kept = [d for d in self.layers if d.change == "kept"]
        return {"kept": len(kept), "faster": sum(1 for d in kept if d.delta_ns < 0),
                "slower": sum(1 for d in kept if d.delta_ns > 0),
                "removed": sum(1 for d in self.layers if d.change == "removed"),
                "added": sum(1 for d in self.layers if d.change == "added"),
                "global_to_group": sum(1 for d in kept if "global -> group" in d.reasons),
                "group_to_global": sum(1 for d in kept if "group -> global" in d.reasons)}

    def to_dict(self) -> dict[str, Any]:
        return {"before": self.before.to_dict(), "after": self.after.to_dict(),
                "delta_ns": self.delta_ns, "layers_delta_ns": self.layers_delta_ns,
                "idle_delta_ns": self.idle_delta_ns, "counts": self.counts(),
                "by_kind": self.by_kind(), "layers": [d.to_dict() for d in self.layers]}


def diff_runs(before: Result, after: Result, labels: tuple[str, str] = ("before", "after")
              ) -> RunDiff:
    """Every layer of either run, matched by name, with its change in time and the reasons."""
    old, new = layer_stats(before), layer_stats(after)
    common = frozenset(old) & frozenset(new)
    names = list(old) + [name for name in new if name not in old]
    diffs = [LayerDiff(name, (new.get(name) or old[name]).kind, old.get(name), new.get(name),
                       reasons(old.get(name), new.get(name), common)) for name in names]
    diffs.sort(key=lambda d: (d.delta_ns, d.name))
    return RunDiff(run_totals(before, labels[0]), run_totals(after, labels[1]), diffs)
