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


def _h_input_range(op: Op, g: Graph, out: Range, in_size: int) -> Range:
    """Rows of an input needed to compute output rows `out` (dim 2)."""
    if op.kind not in _HALO_KINDS:
        return out
    kh = g.tensors[op.inputs[1]].shape[2] if op.kind is OpKind.CONV2D else op.attr("kernel")[0]
    sh = op.attr("strides", (1, 1))[0]
    dh = op.attr("dilations", (1, 1))[0]
    pad_top = op.attr("pads", (0, 0, 0, 0))[0]
    start = out[0] * sh - pad_top
    end = (out[1] - 1) * sh - pad_top + (kh - 1) * dh + 1
    return max(0, start), min(in_size, end)


def h_ranges(ops: list[Op], g: Graph, stores: list[str], parts: int) -> list[dict[str, Range]]:
    """Per h-slice, the dim-2 range of every tensor of the group (None if it cannot be cut)."""
    heights = {g.tensors[t].shape[2] for t in stores}
    if not any(op.kind in _HALO_KINDS for op in ops):  # every tensor keeps the output's rows
        tensors = {t for op in ops for t in (*op.inputs, *op.outputs)
                   if len(g.tensors[t].shape) > 2 and g.tensors[t].shape[2] > 1
                   and not g.tensors[t].is_constant}
        return [dict.fromkeys(tensors, out) for out in pieces(heights.pop(), parts)]
    result = []
    for out in pieces(heights.pop(), parts):
        ranges: dict[str, Range] = {t: out for t in stores}
        for op in reversed(ops):
            for t in op.outputs:
                ranges.setdefault(t, out)
            r = ranges[op.outputs[0]]
            for t in op.inputs:
                tensor = g.tensors[t]
                if tensor.is_constant or len(tensor.shape) < 3 or tensor.shape[2] == 1:
                    continue
                need = _h_input_range(op, g, r, tensor.shape[2])
                old = ranges.get(t)
                ranges[t] = need if old is None else (min(old[0], need[0]), max(old[1], need[1]))
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

    def __len__(self) -> int:
        return len(self._n) * len(self._c) * (len(self._h) if self._h else 1)

    def __getitem__(self, index: int) -> dict[str, Shape]:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        per_n = len(self._c) * (len(self._h) if self._h else 1)
        n_i, rest = divmod(index, per_n)
        h_i, c_i = divmod(rest, len(self._c))
        return self._shapes(self._n[n_i], self._c[c_i], h_i)

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


def held_bytes(weights: list[str], g: Graph, chip: Chip) -> int:
    """Weights spread evenly over the lanes, EU-aligned."""
    total = 0
    for t in weights:
        tensor = g.tensors[t]
        per_lane = math.ceil(tensor.nbytes / chip.npu_count)
        total += -(-per_lane // chip.eu_bytes) * chip.eu_bytes
    return total


def peak_lmem(ops: list[Op], g: Graph, chip: Chip, shapes: dict[str, Shape],
              live: dict[str, tuple[int, int]], doubled: set[str], held: int) -> int:
    """Peak per-lane bytes over the timestep rows: live buffers, op scratch, held weights.
    Tensors loaded or stored across iterations (`doubled`) need a second buffer."""
    used = [0] * len(ops)
    extra = held
    for t, (first, last) in live.items():
        size = slice_bytes(shapes.get(t, g.tensors[t].shape), g.tensors[t].dtype, chip)
        for row in range(first, last + 1):
            used[row] += size
        if t in doubled:
            extra += size
    for row, op in enumerate(ops):
        out = op.outputs[0]
        used[row] += scratch_bytes(op, g, shapes.get(out, g.tensors[out].shape), chip)
    return extra + max(used)


__all__ = ["SliceGrid", "h_ranges", "held_bytes", "peak_lmem", "pieces", "slice_bytes",
           "slice_grid"]
