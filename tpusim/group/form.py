"""Group formation: which ops run together in local memory, as tpu-mlir's GroupMethod does.

Maximal runs of local-capable ops (broken by global ops) are partitioned by dynamic
programming on estimated time: an op alone costs its global-layer time, a run of two or more
costs its group estimate (`estimate.py`) at the best slicing that fits local memory.

What happens to ops that do not fit local memory (the rule, in order):

1. A group is formed only at a slicing whose buffers fit the chip's local memory. A run of ops
   that fits at no slicing the search tries is never formed (its cost is infinite), and no
   longer run containing it is tried either: its ops fall back to smaller groups or run as
   global layers. No error is raised for a group that cannot fit.
2. A global layer cuts its op into the fewest tiles that fit (`lower.global_layer.
   choose_tiles`), down to single rows of every dimension the kernel may split.
3. A global op that does not fit even so - its held weights alone exceed a lane's local
   memory, or one row of every operand does - is a `CompileError` naming the op and what it
   needs. Nothing is simulated, and the command line exits with code 2.
"""

from __future__ import annotations

from collections.abc import Callable

from tpusim.cost.gdma import gdma_ns
from tpusim.cost.tiu import tiu_ns
from tpusim.group.build import Analysis, analyze, build_group, can_cut, escapes
from tpusim.group.estimate import SliceCosts, group_estimate_ns
from tpusim.group.plan import GroupPlan, Secs, Segment
from tpusim.group.rules import C, H, N, is_local
from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph, Op
from tpusim.lower.commands import Direction
from tpusim.lower.local import local_works, slice_transfer, weight_transfer
from tpusim.options import Options
from tpusim.progress import report

MAX_CLUSTERS = 50  # tpu-mlir's MAX_GROUP_CLUSTER: a long run is searched as about this many


def _levels(size: int) -> list[int]:
    """Slice counts worth trying for a dim: distinct ceil-sized slices, each count at least a
    quarter more than the last (finer steps change the cost too little to matter)."""
    counts: list[int] = [1]
    for parts in range(2, size + 1):
        exact = -(-size // -(-size // parts))  # the count ceil-sized slices really give
        if exact >= counts[-1] * 1.25 or (exact == size and counts[-1] != size):
            counts.append(exact)
    return sorted(set(counts))


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
        self._plans: dict[tuple, tuple[float, Secs | None]] = {}
        self.costs = SliceCosts(g, chip)
        self._bounds: dict[object, float] = {}

    def best_group(self, ops: list[Op]) -> tuple[float, Secs | None]:
        """The estimated time of these ops as one group at the first slicing that fits local
        memory, and that slicing (None: none fits). Runs of the same shape (repeated blocks)
        are searched once."""
        key = self._signature(ops)
        found = self._plans.get(key)
        if found is None:
            cost, plan = self._search(ops)
            found = self._plans[key] = (cost, None if plan is None else plan.secs)
        return found

    def plan(self, ops: list[Op], secs: Secs) -> GroupPlan | None:
        """The group of these ops at the slicing `best_group` found, its buffers placed; where
        they do not place (the search goes by the bytes alive at once), at the next slicing
        that does, as tpu-mlir's allocator cuts further until its buffers place (None: at
        none)."""
        analysis = analyze(ops, self.g, self.opts, self.consumers, self.outputs)
        cands = self._candidates(ops, analysis)
        for s in cands[cands.index(secs) if secs in cands else 0:] or [secs]:
            plan = build_group(0, ops, self.g, self.chip, self.opts, s, self.consumers,
                               self.outputs, analysis, self.costs)
            if plan is not None:
                return plan
        return None

    def _signature(self, ops: list[Op]) -> tuple:
        """What the group search depends on, without names: kinds, attributes, shapes, dtypes,
        the wiring inside the run, and which results leave it."""
        made = {t: (i, k) for i, op in enumerate(ops) for k, t in enumerate(op.outputs)}
        inside = {op.name for op in ops}
        outside: dict[str, int] = {}
        sig = []
        for op in ops:
            ins = []
            for t in op.inputs:
                tensor = self.g.tensors[t]
                if t in made:
                    ins.append(made[t])
                else:
                    ins.append((outside.setdefault(t, len(outside)), tensor.shape,
                                tensor.dtype, tensor.kind))
            outs = tuple((self.g.tensors[t].shape, self.g.tensors[t].dtype,
                          escapes(t, inside, self.consumers, self.outputs))
                         for t in op.outputs)
            attrs = tuple(sorted((k, repr(v)) for k, v in op.attrs.items()))
            sig.append((op.kind, attrs, tuple(ins), outs))
        return tuple(sig)

    def _candidates(self, ops: list[Op], analysis: Analysis) -> list[Secs]:
        shape = self.g.tensors[ops[-1].outputs[0]].shape
        dims = tuple(shape[a] if a < len(shape) else 1 for a in (N, C, H))
        axes = frozenset(a for a in (N, C, H)
                         if dims[a] > 1 and can_cut(ops, self.g, self.opts, analysis, a))
        return _candidates(dims, axes)  # type: ignore[arg-type]

    def _search(self, ops: list[Op]) -> tuple[float, GroupPlan | None]:
        analysis = analyze(ops, self.g, self.opts, self.consumers, self.outputs)
        cands = self._candidates(ops, analysis)

        def build(secs: Secs) -> GroupPlan | None:
            return build_group(0, ops, self.g, self.chip, self.opts, secs, self.consumers,
                               self.outputs, analysis, self.costs, place=False)

        # tpu-mlir takes the first slicing that fits (LmemAllocator's quick search), cutting
        # n, then c, then h; the bytes alive at once shrink as the cut grows, so bisect for
        # the first slicing where they fit (`plan` then places the buffers).
        plan = build(cands[0])
        if plan is None and len(cands) > 1 and build(cands[-1]) is not None:
            lo, hi = 1, len(cands) - 1
            while lo < hi:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if build(cands[mid]) is not None else (mid + 1, hi)
            plan = build(cands[lo])
        if plan is None:
            return float("inf"), None
        return group_estimate_ns(plan, self.g, self.chip, self.costs), plan

    def _lower_bound(self, ops: list[Op]) -> float:
        """No group of these ops beats its whole TIU work or its loads and stores done once
        each unsliced (slicing only adds lane padding and shorter rows)."""
        made = {t for op in ops for t in op.outputs}
        inside = {op.name for op in ops}
        tiu = sum(self._full_tiu_ns(op) for op in ops)
        loads = {t for op in ops for t in op.inputs if t not in made}
        gdma = sum(self._full_dma_ns(t, store=False) for t in loads)
        for t in made:
            if escapes(t, inside, self.consumers, self.outputs):
                gdma += self._full_dma_ns(t, store=True)
        return max(tiu, gdma)

    def _full_tiu_ns(self, op: Op) -> float:
        ns = self._bounds.get(op.name)
        if ns is None:
            g = self.g
            works = local_works(op, g, [g.tensors[t].shape for t in op.inputs],
                                g.tensors[op.outputs[0]].shape, self.chip)
            ns = self._bounds[op.name] = sum(tiu_ns(w, self.chip) for w in works)
        return ns

    def _full_dma_ns(self, name: str, store: bool) -> float:
        key = (name, store)
        ns = self._bounds.get(key)
        if ns is None:
            t = self.g.tensors[name]
            if t.is_constant:
                dma = weight_transfer(t.nbytes, self.chip)
            else:
                dma = slice_transfer(Direction.L2S if store else Direction.S2L, t.shape,
                                     t.shape, t.dtype)
            ns = self._bounds[key] = gdma_ns(dma, self.chip)
        return ns

    def partition(self, run: list[Op]) -> list[Segment]:
        """The cheapest cut of a run of local-capable ops into groups and global ops. A long run
        is first cut into clusters of at most len / MAX_CLUSTERS ops (as tpu-mlir does, to
        bound the search), whose ends are then the only places groups may start or end."""
        longest = max(1, len(run) // MAX_CLUSTERS)
        bounds = list(range(len(run) + 1))
        if longest > 1:
            bounds = [0] + [end for _, end, _ in self._cut(run, bounds, longest)]
        while True:
            segments = []
            for start, end, secs in self._cut(run, bounds, len(run)):
                plan = None if secs is None else self.plan(run[start:end], secs)
                if secs is not None and plan is None:  # its buffers do not place: no group
                    self._plans[self._signature(run[start:end])] = (float("inf"), None)
                    break
                segments.append(Segment(run[start:end], plan))
            else:
                return segments

    def _cut(self, run: list[Op], bounds: list[int], longest: int
             ) -> list[tuple[int, int, Secs | None]]:
        """The cheapest cut of `run` into global ops and groups of at most `longest` ops that
        start and end at `bounds` (op positions), as (start, end, the group's slicing or None
        for a global op)."""
        units = len(bounds) - 1
        best = [0.0] + [float("inf")] * units
        choice: list[tuple[int, Secs | None]] = [(0, None)] * (units + 1)
        for j in range(1, units + 1):
            end = bounds[j]
            for i in range(j - 1, -1, -1):
                start = bounds[i]
                if end - start > longest:
                    break
                if end - start == 1:
                    cost, secs = self.global_ns(run[start]), None
                else:
                    if best[i] + self._lower_bound(run[start:end]) >= best[j]:
                        continue  # even a perfect group of these ops would not be cheaper
                    cost, secs = self.best_group(run[start:end])
                    if secs is None:
                        break  # a longer group would need even more memory
                if best[i] + cost < best[j]:
                    best[j] = best[i] + cost
                    choice[j] = (i, secs)
        cuts: list[tuple[int, int, Secs | None]] = []  # (start, end, slicing of a group)
        j = units
        while j > 0:
            i, secs = choice[j]
            cuts.append((bounds[i], bounds[j], secs))
            j = i
        return list(reversed(cuts))


def form_groups(g: Graph, chip: Chip, opts: Options, global_ns: Callable[[Op], float],
                label: str = "layer groups") -> list[Segment]:
    """Every op of `g`, in order, as global layers and groups (`label`: how progress
    reports name the work)."""
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
        report(f"{label}: layer groups, op {i + 1} of {len(g.ops)}")
        segments += former.partition(g.ops[i:j])
        i = j
    for index, seg in enumerate(s for s in segments if s.plan is not None):
        seg.plan.index = index
        seg.plan.estimate_ns = group_estimate_ns(seg.plan, g, chip)
    return segments
