"""Slices of a tpu-mlir layer group: each local tensor's shape per loop iteration, from `ginfo`.

Every op inside a `tpu.Group` carries, per axis n/c/d/h/w of the group's local layout, the start
and size of each slice of its result. The shape handed to tpusim's local kernels is that slice
in the tensor's own rank:

- NORMAL, MM, 3D groups lay a tensor out left-aligned: [n, c, h, w] for rank 4, [n, c, h] for
  rank 3, [n, c] for rank 2, [n, c, d, h, w] for rank 5; the slice keeps that rank.
- SMALL_C groups move h onto the lanes and merge n, c, h (1x56x56x96 is laid out as n=49,
  c=64, h=96), and lay weights out their own way (a 96x384 MatMul weight as c=96, h=384):
  tensors there, and any tensor whose layout is not left-aligned, take the layout's own shape
  [n, c, h(, w)], so that lanes, rows and transfers are costed as the chip runs them.
- A layout that fits neither keeps the tensor's shape when it is not cut, else its first
  dimension is cut in proportion to the slice.

Loop iterations run c innermost, then w, h, d, n (tpu-mlir's codegen_for_group). An op whose
slice list along an axis has one entry is not cut along it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import product

from tpusim.frontend.mlir_model import GroupAttrs, LayerGroupInfo

Shape = tuple[int, ...]
Dims = tuple[int, int, int, int, int]  # n, c, d, h, w
SMALL_C = 2  # tpu-mlir's GROUP_SMALL_C

_AXES = "ncdhw"


def loop_steps(attrs: GroupAttrs) -> list[Dims]:
    """(n, c, d, h, w) slice indices of every loop iteration, in execution order."""
    n, c, d, h, w = (range(max(1, s)) for s in (attrs.nsecs, attrs.csecs, attrs.dsecs,
                                                 attrs.hsecs, attrs.wsecs))
    return [(ni, ci, di, hi, wi) for ni, di, hi, wi, ci in product(n, d, h, w, c)]


def slice_dims(info: LayerGroupInfo, step: Dims) -> Dims:
    """The (n, c, d, h, w) sizes of one op's result in one iteration."""
    sizes = []
    for axis, index in zip(_AXES, step):
        slices = getattr(info, f"{axis}_slice")
        sizes.append(slices[min(index, len(slices) - 1)] if slices else 1)
    return tuple(sizes)  # type: ignore[return-value]


def full_dims(info: LayerGroupInfo) -> Dims:
    """The extent of the whole tensor in the local layout (halos overlap, so take the end)."""
    extents = []
    for axis in _AXES:
        idx, size = getattr(info, f"{axis}_idx"), getattr(info, f"{axis}_slice")
        extents.append(max((i + s for i, s in zip(idx, size)), default=1))
    return tuple(extents)  # type: ignore[return-value]


def is_cut(info: LayerGroupInfo) -> bool:
    return any(len(getattr(info, f"{axis}_slice")) > 1 for axis in _AXES)


def _left_aligned(dims: Dims, rank: int) -> Shape | None:
    n, c, d, h, w = dims
    if rank == 5:
        return (n, c, d, h, w)
    if d != 1:
        return None
    four = (n, c, h, w)
    if rank < 1 or any(x != 1 for x in four[rank:]):
        return None
    return four[:rank] if rank <= 4 else None


def _layout_shape(dims: Dims) -> Shape:
    """[n, c, h, w] of the local layout (d folded into n), trailing 1s dropped down to 3-D."""
    n, c, d, h, w = dims
    shape = [n * d, c, h, w]
    while len(shape) > 3 and shape[-1] == 1:
        shape.pop()
    return tuple(shape)


def shape_rule(info: LayerGroupInfo, original: Shape, group_type: int) -> Callable[[Dims], Shape]:
    """How one tensor's slice dims become the shape its kernels see (see the module note)."""
    full = full_dims(info)
    if group_type != SMALL_C and _left_aligned(full, len(original)) == tuple(original):
        rank = len(original)
        return lambda dims: _left_aligned(dims, rank) or tuple(original)
    if math.prod(_layout_shape(full)) == math.prod(original):
        return _layout_shape
    if not is_cut(info):
        return lambda dims: tuple(original)
    whole = math.prod(full)

    def proportional(dims: Dims) -> Shape:
        first = max(1, math.ceil(original[0] * math.prod(dims) / whole))
        return (first, *original[1:])

    return proportional


__all__ = ["SMALL_C", "full_dims", "is_cut", "loop_steps", "shape_rule", "slice_dims"]
