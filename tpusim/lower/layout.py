"""How tensors lie in local memory: an N-D shape seen as (n, c, h, w) with C over the lanes.

tpu-mlir reads shapes left-aligned (module::getNCHW): [a,b,c,d] is n=a, c=b, h=c, w=d; rank 3 is
[n, c, h]; rank 2 is [n, c]; a 5-D [n, c, d, h, w] lies as (n*d, c, h, w) (GROUP_3D layout).
A lane holds ceil(c / npu) channels, each with h*w elements aligned up to the EU width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tpusim.hw.chip import Chip
from tpusim.ir.dtypes import DType
from tpusim.lower.commands import Direction, Dma

View = tuple[int, int, int, int]


def lane_view(shape: Sequence[int]) -> View:
    s = [int(d) for d in shape]
    if len(s) == 0:
        return (1, 1, 1, 1)
    if len(s) == 1:
        return (1, s[0], 1, 1)
    if len(s) == 2:
        return (s[0], s[1], 1, 1)
    if len(s) == 3:
        return (s[0], s[1], s[2], 1)
    if len(s) == 4:
        return (s[0], s[1], s[2], s[3])
    if len(s) == 5:
        return (s[0] * s[2], s[1], s[3], s[4])
    return (s[0] * s[2], s[1], s[3], math.prod(s[4:]))


def flat_view(numel: int, chip: Chip) -> View:
    """Element-wise kernels spread a contiguous tensor evenly over every lane."""
    lanes = min(chip.npu_count, numel)
    return (1, lanes, 1, -(-numel // lanes))


def lane_bytes(view: View, dtype: DType, chip: Chip, eu_align: bool = True) -> int:
    """Bytes one lane needs for a view (EU-aligned per channel unless compact)."""
    n, c, h, w = view
    hw = h * w
    if eu_align:
        eu = chip.eu_num(dtype)
        hw = -(-hw // eu) * eu
    return n * -(-c // chip.npu_count) * hw * dtype.bytes


def dma_rows(full: Sequence[int], box: Sequence[int], dtype: DType,
             steps: Sequence[int] | None = None) -> tuple[int, int]:
    """(rows, row_bytes) to move `box` (sizes per axis) of a contiguous DDR tensor `full`.

    A run stays contiguous while every inner axis is taken whole: it grows from the innermost
    axis outwards while the box spans the full axis, plus the first partial one. An axis read
    with a stride (`steps` > 1) ends the run before it.
    """
    steps = steps or [1] * len(full)
    run = rows = 1
    whole = True
    for size, part, step in zip(reversed(list(full)), reversed(list(box)), reversed(list(steps))):
        if whole and step == 1:
            run *= part
            whole = part == size
        else:
            rows *= part
            whole = False
    return rows, run * dtype.bytes


def lane_rows(view: View, dtype: DType) -> tuple[int, int]:
    """(rows, row_bytes) of a transfer into or out of a lane view: one row per (n, c)."""
    n, c, h, w = view
    return n * c, h * w * dtype.bytes


def transfer(direction: Direction, rows: int, row_bytes: int, kind: str = "GDMA_TENSOR") -> Dma:
    return Dma(direction, max(1, rows), max(1, row_bytes), kind)
