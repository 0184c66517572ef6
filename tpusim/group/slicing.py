"""Slicing a group: every tensor's slice per iteration, by backward inference from the outputs.

A group is cut along dims 0 (n), 1 (c) and 2 (h) into `Secs`. Dims 0 and 1 are the same for
every tensor of a group (local ops keep them), so they are cut alike everywhere. Dim 2 is cut
on the group's outputs and inferred backwards op by op: convolutions and pools widen the
input range by their halo, everything else keeps it. Slices iterate with c innermost, then h,
then n outermost, as tpu-mlir's code generation does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import product

from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph, Op
from tpusim.ir.ops import OpKind
from tpusim.lower.local import scratch_bytes, slice_bytes

Shape = tuple[int, ...]
Range = tuple[int, int]  # [start, end)
_HALO_KINDS = frozenset({OpKind.CONV2D, OpKind.MAXPOOL, OpKind.AVGPOOL})


def pieces(size: int, parts: int) -> list[Range]:
    """`size` cut into `parts` ranges of ceil(size / parts), the last one shorter."""
    step = math.ceil(size / parts)
    return [(s, min(size, s + step)) for s in range(0, size, step)]


# Rows an input needs for output rows [lo, hi): [lo * s + a, (hi - 1) * s + b + 1).
RowMap = tuple[int, int, int]
_SAME_ROWS: RowMap = (1, 0, 0)


def _row_map(op: Op, g: Graph) -> RowMap:
    """How an op widens a row range from its output to its inputs (dim 2)."""
    if op.kind not in _HALO_KINDS:
        return _SAME_ROWS
    kh = g.tensors[op.inputs[1]].shape[2] if op.kind is OpKind.CONV2D else op.attr("kernel")[0]
    sh = op.attr("strides", (1, 1))[0]
    dh = op.attr("dilations", (1, 1))[0]
    pad_top = op.attr("pads", (0, 0, 0, 0))[0]
    return sh, -pad_top, -pad_top + (kh - 1) * dh


def _row_maps(ops: list[Op], g: Graph, stores: list[str]) -> dict[str, tuple[RowMap, ...]]:
    """For every tensor of the group, the row maps (composed back from the group's outputs)
    that give the rows it must hold; a tensor read by several ops takes their union."""
    maps: dict[str, set[RowMap]] = {t: {_SAME_ROWS} for t in stores}
    for op in reversed(ops):
        outs = set().union(*(maps.setdefault(t, {_SAME_ROWS}) for t in op.outputs))
        s2, a2, b2 = _row_map(op, g)
        for t in op.inputs:
            tensor = g.tensors[t]
            if tensor.is_constant or len(tensor.shape) < 3 or tensor.shape[2] == 1:
                continue
            maps.setdefault(t, set()).update((s1 * s2, a1 * s2 + a2, b1 * s2 + b2)
                                             for s1, a1, b1 in outs)
    return {t: tuple(sorted(m)) for t, m in maps.items()}


def h_ranges(ops: list[Op], g: Graph, stores: list[str], parts: int) -> list[dict[str, Range]]:
    """Per h-slice, the dim-2 range of every tensor of the group: the outputs' rows cut into
    `parts`, widened backwards by each convolution's or pool's halo, clipped to the tensor."""
    heights = {g.tensors[t].shape[2] for t in stores}
    # per tensor: its height, and its row maps (None: the output's rows themselves)
    tensors = [(t, g.tensors[t].shape[2], None if tmaps == (_SAME_ROWS,) else tmaps)
               for t, tmaps in _row_maps(ops, g, stores).items()]
    result = []
    for lo, hi in pieces(heights.pop(), parts):
        ranges = {}
        for t, size, tmaps in tensors:
            if tmaps is None:
                ranges[t] = (lo, min(size, hi))
            else:
                ranges[t] = (max(0, min(lo * s + a for s, a, _ in tmaps)),
                             min(size, max((hi - 1) * s + b + 1 for s, _, b in tmaps)))
        result.append(ranges)
    return result


class SliceGrid:
    """The slices of a group in execution order (c innermost, then h, then n), each a dict of
    every sliced tensor's shape. Slices of equal sizes share one dict, built on first use."""

    def __init__(self, tensors: list[str], g: Graph, secs_dims: dict[int, int],
                 n: list[Range], c: list[Range], h: list[dict[str, Range]] | None) -> None:
        self._tensors, self._g, self._secs = tensors, g, secs_dims
        self._n, self._c, self._h = n, c, h
        self._classes: dict[tuple, dict[str, Shape]] = {}
        self._by_index: dict[int, dict[str, Shape]] = {}

    def __len__(self) -> int:
        return len(self._n) * len(self._c) * (len(self._h) if self._h else 1)

    def __getitem__(self, index: int) -> dict[str, Shape]:
        found = self._by_index.get(index)
        if found is not None:
            return found
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        per_n = len(self._c) * (len(self._h) if self._h else 1)
        n_i, rest = divmod(index % len(self), per_n)
        h_i, c_i = divmod(rest, len(self._c))
        found = self._by_index[index] = self._shapes(self._n[n_i], self._c[c_i], h_i)
        return found

    def __iter__(self) -> Iterator[dict[str, Shape]]:
        return (self[i] for i in range(len(self)))

    def distinct(self) -> list[dict[str, Shape]]:
        """One dict per distinct combination of slice sizes (what local memory depends on)."""
        ns = {r[1] - r[0]: r for r in self._n}.values()
        cs = {r[1] - r[0]: r for r in self._c}.values()
        hs = range(len(self._h)) if self._h else [0]
        found = {id(d): d for d in (self._shapes(n, c, h) for n, c, h in product(ns, cs, hs))}
        return list(found.values())

    def _shapes(self, n_rng: Range, c_rng: Range, h_i: int) -> dict[str, Shape]:
        h = self._h[h_i] if self._h else None
        key = (n_rng[1] - n_rng[0], c_rng[1] - c_rng[0],
               () if h is None else tuple(hi - lo for lo, hi in h.values()))
        shapes = self._classes.get(key)
        if shapes is None:
            shapes = self._classes[key] = {}
            for t in self._tensors:
                shape = list(self._g.tensors[t].shape)
                for axis, rng in ((0, n_rng), (1, c_rng)):
                    if len(shape) > axis and shape[axis] > 1 and self._secs.get(axis, 1) > 1:
                        shape[axis] = rng[1] - rng[0]
                if h is not None and len(shape) > 2 and t in h:
                    shape[2] = h[t][1] - h[t][0]
                shapes[t] = tuple(shape)
        return shapes


def slice_grid(tensors: list[str], g: Graph, secs_dims: dict[int, int], h_parts: int,
               ops: list[Op], stores: list[str], split_weights: set[str]) -> SliceGrid | None:
    """The group's slices, or None if the tensors cannot be cut uniformly."""
    per_axis: dict[int, list[Range]] = {}
    for axis, parts in secs_dims.items():
        sizes = {g.tensors[t].shape[axis] for t in tensors
                 if t not in split_weights and len(g.tensors[t].shape) > axis
                 and g.tensors[t].shape[axis] > 1}
        if parts > 1 and len(sizes) != 1:
            return None  # tensors disagree on this dim: cannot cut it uniformly
        per_axis[axis] = pieces(sizes.pop(), parts) if sizes and parts > 1 else [(0, 1)]
    hs: list[dict[str, Range]] | None = None
    if h_parts > 1:
        if len({g.tensors[t].shape[2] for t in stores if len(g.tensors[t].shape) > 2}) != 1:
            return None
        hs = h_ranges(ops, g, stores, h_parts)
    return SliceGrid(tensors, g, secs_dims, per_axis[0], per_axis[1], hs)


def weight_bytes(t: str, g: Graph, chip: Chip) -> int:
    """A whole weight spread evenly over the lanes, EU-aligned, per lane."""
    per_lane = math.ceil(g.tensors[t].nbytes / chip.npu_count)
    return -(-per_lane // chip.eu_bytes) * chip.eu_bytes


def peak_lmem(ops: list[Op], g: Graph, chip: Chip, shapes: dict[str, Shape],
              spans: list[tuple[str, int, int]], whole: set[str]) -> int:
    """Peak per-lane bytes over the timestep rows: every live buffer (`spans`: tensor, first
    and last row) and each row's op scratch. Tensors in `whole` are weights loaded whole."""
    count = len(ops)
    change = [0] * (count + 1)
    for t, first, last in spans:
        if t in whole:
            size = weight_bytes(t, g, chip)
        else:
            size = slice_bytes(shapes.get(t, g.tensors[t].shape), g.tensors[t].dtype, chip)
        change[first] += size
        change[last + 1] -= size
    peak = level = 0
    for row, op in enumerate(ops):
        level += change[row]
        out = op.outputs[0]
        peak = max(peak, level + scratch_bytes(op, g, shapes.get(out, g.tensors[out].shape),
                                               chip))
    return peak


__all__ = [
    "SliceGrid",
    "h_ranges",
    "peak_lmem",
    "pieces",
    "slice_bytes",
    "slice_grid",
    "weight_bytes",
]
