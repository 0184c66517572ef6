"""Local operators: the TIU instructions one op issues on a slice held in local memory, and
the transfers that bring a tensor's slice in or take it out.

Inside a group a tensor keeps tpu-mlir's layout (`lane_view`): dim 1 over the lanes, the
inner dims inside each lane. Unlike a global element-wise kernel, a local op cannot respread
its data over every lane, so a slice with few channels leaves lanes idle.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache

from tpusim.errors import UnsupportedOperatorError
from tpusim.hw.chip import Chip
from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, Op
from tpusim.ir.ops import ELEMENTWISE, VIEWS, OpKind
from tpusim.lower import sequences
from tpusim.lower.commands import Arith, Broadcast, Direction, Dma, MatMul, Pool, TiuWork
from tpusim.lower.cube_kernels import conv_works
from tpusim.lower.layout import dma_rows, lane_bytes, lane_view, transfer

Shape = tuple[int, ...]


def slice_transfer(direction: Direction, full: Shape, part: Shape, dtype: DType) -> Dma:
    """Move one slice of a DDR tensor to or from its lanes: a row per lane channel, shorter
    rows where the slice is not contiguous in DDR."""
    n, c, _, _ = lane_view(part)
    lane_rows = n * c
    ddr_rows, _ = dma_rows(full, part, dtype)
    rows = max(lane_rows, ddr_rows)
    total = math.prod(part) * dtype.bytes
    return transfer(direction, rows, max(1, total // rows))


def weight_transfer(nbytes: int, chip: Chip) -> Dma:
    """Load a whole weight that stays in local memory: spread evenly over the lanes."""
    rows = chip.npu_count if nbytes >= chip.npu_count * chip.eu_bytes else 1
    return transfer(Direction.S2L, rows, -(-nbytes // rows))


@lru_cache(maxsize=65536)
def slice_bytes(shape: Shape, dtype: DType, chip: Chip) -> int:
    """Local memory one lane needs for a slice (EU-aligned per channel)."""
    return lane_bytes(lane_view(shape), dtype, chip)


def local_works(op: Op, g: Graph, ins: list[Shape], out: Shape, chip: Chip) -> list[TiuWork]:
    """TIU instructions of `op` computing an output slice `out` from input slices `ins`."""
    kind = op.kind
    dtype = g.tensors[op.outputs[0]].dtype
    if kind in VIEWS or kind is OpKind.PERMUTE:  # a permute in a group is its load's work
        return []
    view = lane_view(out)
    if kind is OpKind.CAST:
        return sequences.cast(g.tensors[op.inputs[0]].dtype, dtype, view, local=True)
    if kind in ELEMENTWISE:
        work_dtype = DType.F32 if kind is OpKind.GELU else dtype
        return sequences.elementwise(op, view, work_dtype, chip)
    if kind is OpKind.MATMUL:
        return _matmul(op, g, ins, out)
    if kind is OpKind.CONV2D:
        once, each = conv_works(ins[0], g.tensors[op.inputs[1]].shape, out,
                                op.attr("group", 1), g.tensors[op.inputs[0]].dtype, chip)
        works = once + each  # a group's kernel repeats its preparation for every slice
        if g.tensors[op.inputs[0]].dtype is DType.INT8:
            works += sequences.requant(out, local=True)
        return works
    if kind in (OpKind.MAXPOOL, OpKind.AVGPOOL):
        kh, kw = op.attr("kernel")
        return [Pool(*out, kh * kw, dtype, kind.value[:3].lower())]
    if kind in (OpKind.LAYERNORM, OpKind.SOFTMAX):
        axis = op.attr("axis", -1) % len(out)
        length = math.prod(out[axis:]) if kind is OpKind.LAYERNORM else out[axis]
        n, c, h, w = view
        rows = max(1, h * w // length)  # rows reduced inside each lane channel
        if kind is OpKind.LAYERNORM:
            return sequences.layernorm(n, c, rows, length, dtype, chip, local=True)
        # the local softmax kernel loops over n, one constant set up per pass (vendor: 147
        # passes of 24 commands over a 147 x 64 x 49 SMALL_C slice)
        one = [Broadcast(1, 1, dtype, "STATIC_BC"),
               *sequences.softmax(1, c, rows, length, dtype, chip)]
        return one * n
    if kind in (OpKind.REDUCE_MEAN, OpKind.REDUCE_SUM, OpKind.REDUCE_MAX):
        n, c, h, w = lane_view(ins[0])
        return sequences.pool_reduce(n, c, h * w, dtype, kind.value[6:].lower(), chip)
    if kind is OpKind.SLICE:
        return [Arith(*view, dtype, "copy")]
    if kind is OpKind.UPSAMPLE:
        return sequences.resize(op, view, dtype)
    if kind is OpKind.CONCAT:
        return [Arith(*lane_view(s), dtype, "copy") for s in ins]
    if kind is OpKind.OPAQUE:  # the unknown-operator fallback: one arithmetic pass, as global
        return [Arith(*view, dtype, "opaque")]
    raise UnsupportedOperatorError(f"op {op.name!r}: {kind.value} has no local kernel")


def _matmul(op: Op, g: Graph, ins: list[Shape], out: Shape) -> list[TiuWork]:
    a, b = ins[0], ins[1]
    dt = g.tensors[op.inputs[0]].dtype
    works: list[TiuWork]
    if op.attr("hdim_is_batch"):
        bt, m, h, k = a
        n = b[1] if op.attr("right_transpose") else b[3]
        works = [MatMul(m, k, n, dt, batch=bt * h)]
    elif g.tensors[op.inputs[1]].is_constant and len(g.tensors[op.inputs[1]].shape) == 2:
        k, n = a[-1], out[-1]
        lanes = a[1] if len(a) >= 3 else a[0]
        works = [MatMul(lanes, k, n, dt, batch=math.prod(a[:-1]) // lanes)]
    else:
        m, k, n = a[-2], a[-1], out[-1]
        works = [MatMul(m, k, n, dt, batch=math.prod(out[:-2]))]
    view = lane_view(out)
    if len(op.inputs) > 2:
        works += sequences.bias_add(view, dt)
    return works + (sequences.requant(view, local=True) if dt is DType.INT8 else [])


def _multi_step(op: Op) -> bool:
    """Does an element-wise op issue more than one instruction (so keep an intermediate)?"""
    return _steps(op.kind, bool(op.attr("lut"))) > 1


@cache
def _steps(kind: OpKind, lut: bool) -> int:
    probe = Op(kind, "probe", (), (), {"lut": True} if lut else {})
    return len(sequences.elementwise(probe, (1, 1, 1, 1), DType.F32, _PROBE_CHIP))


class _ProbeChip:
    """Enough of a chip to count an element-wise sequence's instructions."""

    ar_divide_passes = 1

    @staticmethod
    def eu_num(dtype: DType) -> int:
        return 1


_PROBE_CHIP = _ProbeChip()


def scratch_bytes(op: Op, g: Graph, out: Shape, chip: Chip) -> int:
    """Temporary local memory an op needs besides its inputs and outputs (per lane)."""
    if op.kind in (OpKind.LAYERNORM, OpKind.SOFTMAX):
        return slice_bytes(out, DType.F32, chip)
    if op.kind is OpKind.MATMUL and g.tensors[op.inputs[0]].dtype is DType.INT8:
        return slice_bytes(out, DType.INT32, chip)
    if op.kind in ELEMENTWISE and _multi_step(op):
        return slice_bytes(out, g.tensors[op.outputs[0]].dtype, chip)
    return 0


__all__ = ["local_works", "scratch_bytes", "slice_bytes", "slice_transfer", "weight_transfer"]
