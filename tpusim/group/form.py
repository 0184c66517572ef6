"""Group formation: which ops run together in local memory, as tpu-mlir's GroupMethod does.

Maximal runs of local-capable ops (broken by global ops) are partitioned by dynamic
programming on estimated time: an op alone costs its global-layer time, a run of two or more
costs its group estimate (`estimate.py`) at the best slicing that fits local memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tpusim.group.build import analyze, build_group, can_cut
from tpusim.group.estimate import SliceCosts, group_estimate_ns
from tpusim.group.plan import GroupPlan, Secs
from tpusim.group.rules import C, H, N, is_local
from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph, Op
from tpusim.options import Options

MAX_GROUP_OPS = 40  # longer runs are cut; keeps the search quadratic in a small number
_MORE_SLICES = 3  # slicings tried after the first that fits, for more overlap


@dataclass
class Segment:
    """One op run as a global layer (plan is None), or a group."""

    ops: list[Op]
    plan: GroupPlan | None = None


def _levels(size: int) -> list[int]:
    """Slice counts worth trying for a dim: those giving distinct ceil-sized slices."""
    counts, seen = [], set()
    for parts in range(1, size + 1):
        step = -(-size // parts)
        if step not in seen:
            seen.add(step)
            counts.append(-(-size // step))
    return counts


def _candidates(dims: tuple[int, int, int], axes: frozenset[int]) -> list[Secs]:
    """Slicings in order of growing cut: n first, then c, then h (tpu-mlir's order), each axis
    cut fully before the next one is cut at all."""
    base = {N: 1, C: 1, H: 1}
    found = [Secs()]
    for axis in (N, C, H):
        if axis not in axes or dims[axis] <= 1:
            continue
        for parts in _levels(dims[axis])[1:]:
            base[axis] = parts
            found.append(Secs(base[N], base[C], base[H]))
    return found


class Former:
    def __init__(self, g: Graph, chip: Chip, opts: Options,
                 global_ns: Callable[[Op], float]) -> None:
        self.g, self.chip, self.opts = g, chip, opts
        self.global_ns = global_ns
        self.consumers = g.consumers()
        self.outputs = set(g.outputs)
        self._plans: dict[tuple, tuple[float, GroupPlan | None]] = {}
        self.costs = SliceCosts(g, chip)

    def best_group(self, ops: list[Op], more: int = 1) -> tuple[float, GroupPlan | None]:
        """Cheapest slicing of these ops as one group, trying `more` cuts beyond the first
        that fits (the partition search uses 1; the chosen groups are refined further)."""
        key = (tuple(op.name for op in ops), more)
        if key not in self._plans:
            self._plans[key] = self._search(ops, more)
        return self._plans[key]

    def _search(self, ops: list[Op], more: int) -> tuple[float, GroupPlan | None]:
        analysis = analyze(ops, self.g, self.chip, self.opts, self.consumers, self.outputs)
        if analysis is None:
            return float("inf"), None
        shape = self.g.tensors[ops[-1].outputs[0]].shape
        dims = tuple(shape[a] if a < len(shape) else 1 for a in (N, C, H))
        axes = frozenset(a for a in (N, C, H)
                         if dims[a] > 1 and can_cut(ops, self.g, self.opts, analysis, a))
        cands = _candidates(dims, axes)  # type: ignore[arg-type]

        def build(secs: Secs) -> GroupPlan | None:
            return build_group(0, ops, self.g, self.chip, self.opts, secs, self.consumers,
                               self.outputs, analysis)

        # One slice needs no second buffer for the pipeline, so it may fit where two do not;
        # from two slices on, memory shrinks as the cut grows: bisect for the first that fits.
        tried = [cands[0]]
        if build(cands[-1]) is not None:
            lo, hi = 1, len(cands) - 1
            while lo < hi:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if build(cands[mid]) is not None else (mid + 1, hi)
            tried += cands[lo:lo + 1 + more]
        best: tuple[float, GroupPlan | None] = (float("inf"), None)
        for secs in tried:
            plan = build(secs)
            if plan is not None:
                cost = group_estimate_ns(plan, self.g, self.chip, self.costs)
                if cost < best[0]:
                    best = (cost, plan)
        return best

    def partition(self, run: list[Op]) -> list[Segment]:
        """The cheapest cut of a run of local-capable ops into groups and global ops."""
        m = len(run)
        best = [0.0] + [float("inf")] * m
        choice: list[tuple[int, GroupPlan | None]] = [(0, None)] * (m + 1)
        for end in range(1, m + 1):
            best[end] = best[end - 1] + self.global_ns(run[end - 1])
            choice[end] = (end - 1, None)
            for start in range(end - 2, max(-1, end - 1 - MAX_GROUP_OPS), -1):
                cost, plan = self.best_group(run[start:end])
                if plan is None:
                    break  # a longer group would need even more memory
                if best[start] + cost < best[end]:
                    best[end] = best[start] + cost
                    choice[end] = (start, plan)
        segments: list[Segment] = []
        end = m
        while end > 0:
            start, plan = choice[end]
            if plan is not None:
                plan = self.best_group(run[start:end], _MORE_SLICES)[1] or plan
            segments.append(Segment(run[start:end], plan))
            end = start
        return list(reversed(segments))


def form_groups(g: Graph, chip: Chip, opts: Options,
                global_ns: Callable[[Op], float]) -> list[Segment]:
    """Every op of `g`, in order, as global layers and groups."""
    if not opts.layer_groups:
        return [Segment([op]) for op in g.ops]
    former = Former(g, chip, opts, global_ns)
    local = [is_local(g, op, opts) for op in g.ops]
    segments: list[Segment] = []
    i = 0
    while i < len(g.ops):
        if not local[i]:
            segments.append(Segment([g.ops[i]]))
            i += 1
            continue
        j = i
        while j < len(g.ops) and local[j]:
            j += 1
        segments += former.partition(g.ops[i:j])
        i = j
    for index, seg in enumerate(s for s in segments if s.plan is not None):
        seg.plan.index = index
        seg.plan.estimate_ns = group_estimate_ns(seg.plan, g, chip)
    return segments
