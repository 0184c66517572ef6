"""Building one layer group from a run of ops: roles of its tensors, slices, rows, memory."""

from __future__ import annotations

from dataclasses import dataclass

from tpusim.group.estimate import SliceCosts
from tpusim.group.lmem import allocate
from tpusim.group.plan import GroupPlan, GroupType, Secs
from tpusim.group.rules import C, H, N, split_axes
from tpusim.group.slicing import SliceGrid, peak_lmem, slice_grid
from tpusim.group.timestep import balance_rows, build_rows, lifetimes
from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph, Op
from tpusim.ir.ops import ELEMENTWISE, OpKind
from tpusim.options import Options

# Ops a matmul group may hold (tpu-mlir set_group_type, bm1684x.md 3.2).
_MM_FRIENDLY = ELEMENTWISE | {OpKind.MATMUL, OpKind.LAYERNORM, OpKind.SOFTMAX, OpKind.RESHAPE,
                              OpKind.SQUEEZE, OpKind.UNSQUEEZE, OpKind.CONCAT, OpKind.SLICE}


@dataclass
class Roles:
    """Where each tensor of a group comes from and goes to."""

    loads: dict[int, list[str]]  # op index -> activations (and split weights) first needed there
    stores: dict[int, list[str]]  # op index -> group outputs it produces
    held: list[str]  # weights loaded once
    split_weights: set[str]
    producers: dict[str, int]
    last_use: dict[str, int]

    @property
    def tensors(self) -> list[str]:
        """Every tensor sliced with the group (not the held weights)."""
        held = set(self.held)
        loaded = [t for ts in self.loads.values() for t in ts if t not in held]
        return loaded + [t for t in self.producers if t not in loaded]


def escapes(t: str, inside: set[str], consumers: dict[str, list[Op]],
            graph_outputs: set[str]) -> bool:
    """Whether a tensor made in a group is needed outside it (so the group stores it)."""
    return t in graph_outputs or any(c.name not in inside for c in consumers.get(t, []))


def group_type(ops: list[Op], g: Graph) -> GroupType:
    if any(len(g.tensors[t].shape) == 5 for op in ops for t in (*op.inputs, *op.outputs)
           if not g.tensors[t].is_constant):
        return GroupType.THREE_D
    if all(op.kind in _MM_FRIENDLY for op in ops):
        return GroupType.MM
    return GroupType.NORMAL


def allowed_axes(ops: list[Op], g: Graph, opts: Options, kind: GroupType) -> frozenset[int]:
    axes = frozenset({N, C, H})
    for op in ops:
        axes &= split_axes(g, op, opts)
    if kind is GroupType.NORMAL:
        axes -= {C}  # NCHW groups cut n and h only
    return axes


def roles(ops: list[Op], g: Graph, consumers: dict[str, list[Op]], graph_outputs: set[str],
          opts: Options, axes: frozenset[int]) -> Roles:
    inside = {op.name for op in ops}
    producers = {t: i for i, op in enumerate(ops) for t in op.outputs}
    loads: dict[int, list[str]] = {}
    held: list[str] = []
    split: set[str] = set()
    last_use: dict[str, int] = {}
    seen: set[str] = set()
    for i, op in enumerate(ops):
        for t in op.inputs:
            last_use[t] = i
            if t in producers or t in seen:
                continue
            seen.add(t)
            tensor = g.tensors[t]
            if tensor.is_constant:
                if opts.weight_split and op.kind in ELEMENTWISE and _spans(tensor.shape, g, op,
                                                                           axes):
                    split.add(t)
                else:
                    held.append(t)
            loads.setdefault(i, []).append(t)
    stores: dict[int, list[str]] = {}
    for t, p in producers.items():
        if escapes(t, inside, consumers, graph_outputs):
            stores.setdefault(p, []).append(t)
    return Roles(loads, stores, held, split, producers, last_use)


def _spans(shape: tuple[int, ...], g: Graph, op: Op, axes: frozenset[int]) -> bool:
    out = g.tensors[op.outputs[0]].shape
    padded = (1,) * (len(out) - len(shape)) + shape
    return any(a < len(out) and padded[a] == out[a] > 1 for a in axes)


@dataclass
class Analysis:
    """What a run of ops implies as a group, whatever its slicing."""

    type: GroupType
    axes: frozenset[int]
    consumers: dict[str, list[Op]]
    graph_outputs: set[str]


def analyze(ops: list[Op], g: Graph, opts: Options, consumers: dict[str, list[Op]],
            graph_outputs: set[str]) -> Analysis:
    kind = group_type(ops, g)
    return Analysis(kind, allowed_axes(ops, g, opts, kind), consumers, graph_outputs)


def _cut(secs: Secs) -> frozenset[int]:
    return frozenset(ax for ax, n in ((N, secs.n), (C, secs.c), (H, secs.h)) if n > 1)


def _grid(ops: list[Op], g: Graph, r: Roles, secs: Secs) -> SliceGrid | None:
    stored = [t for ts in r.stores.values() for t in ts]
    if not stored:
        return None
    return slice_grid(r.tensors, g, {N: secs.n, C: secs.c}, secs.h, ops, stored,
                      r.split_weights)


def can_cut(ops: list[Op], g: Graph, opts: Options, a: Analysis, axis: int) -> bool:
    """Can the group be cut along `axis` at all (whatever the memory)?"""
    if axis not in a.axes:
        return False
    secs = Secs(*(2 if ax == axis else 1 for ax in (N, C, H)))
    r = roles(ops, g, a.consumers, a.graph_outputs, opts, _cut(secs))
    return _grid(ops, g, r, secs) is not None


def _permutes_load(ops: list[Op]) -> bool:
    """A Permute runs in a group only as the load of its input: from outside the group, read
    by nothing else in it."""
    made = {t for op in ops for t in op.outputs}
    for op in ops:
        if op.kind is OpKind.PERMUTE:
            source = op.inputs[0]
            if source in made or sum(source in other.inputs for other in ops) > 1:
                return False
    return True


def build_group(index: int, ops: list[Op], g: Graph, chip: Chip, opts: Options, secs: Secs,
                consumers: dict[str, list[Op]], graph_outputs: set[str],
                analysis: Analysis | None = None,
                costs: SliceCosts | None = None, place: bool = True) -> GroupPlan | None:
    """The group these ops form when cut into `secs`, or None if it cannot be (an axis an op
    cannot slice, tensors that disagree on a dim, or more local memory than a lane has).
    With `costs`, transfers move between rows as tpu-mlir balances them (`balance_rows`).
    With `place`, its buffers get addresses (None if they do not place); without, only the
    bytes alive at once are checked against a lane's memory (what the slicing search bisects
    on)."""
    a = analysis or analyze(ops, g, opts, consumers, graph_outputs)
    if not _cut(secs) <= a.axes or not _permutes_load(ops):
        return None
    r = roles(ops, g, a.consumers, a.graph_outputs, opts, _cut(secs))
    slices = _grid(ops, g, r, secs)
    if slices is None:
        return None
    # A weight is held (loaded with the first slice, kept for all) only when the group loops;
    # in a single pass it lives, like any buffer, from its load to its last read.
    held = set(r.held) if len(slices) > 1 else set()
    rows = build_rows(len(ops), r.loads, r.stores, held)
    reads: dict[str, list[int]] = {}
    for i, op in enumerate(ops):
        for t in op.inputs:
            reads.setdefault(t, []).append(i)
    plan = GroupPlan(index, list(ops), a.type, secs, slices, rows, r.held, 0)
    if costs is not None:
        tiu = [costs.op_ns(plan, 0, i) for i in range(len(ops))]
        balance_rows(rows, tiu, lambda tr: costs.transfer_ns(plan, 0, tr), reads)
    spans = lifetimes(rows, reads, r.producers, held)
    whole = set(r.held)
    plan.lmem_bytes = max(peak_lmem(ops, g, chip, shapes, spans, whole)
                          for shapes in slices.distinct())
    if plan.lmem_bytes > chip.lmem_bytes_per_npu:
        return None
    if place:  # every buffer at an address, none overlapping (tpu-mlir's assignLmemAddr)
        plan.lmem = allocate(plan, g, chip, spans)
        if plan.lmem is None:
            return None
    return plan
