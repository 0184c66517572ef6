"""Kernels: how each operator's work is cut into tiles of TIU instructions and transfers.

A `KernelPlan` describes an operator over a tile domain (a few sizes, split outermost first):
what it loads once and holds (weights), and for a tile of given sizes what it loads, which TIU
instructions it runs, what it stores and how much local memory the tile needs per lane. The
global-layer pipeline (`global_layer.py`) and layer groups use the same plans.

Operators that only move data in DDR (Slice, Concat, last-axis-preserving Permute, ...) have no
plan; `ddr_copies` gives their DDR-to-DDR transfers. Views (Reshape, Squeeze) cost nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from tpusim.errors import UnsupportedOperatorError
from tpusim.hw.chip import Chip
from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, Op, Tensor
from tpusim.ir.ops import BINARY, ELEMENTWISE, TRANSCENDENTAL, VIEWS, OpKind
from tpusim.ir.shapes import matmul_dims
from tpusim.lower.commands import (
    Arith,
    Conv,
    Direction,
    Dma,
    Lookup,
    MatMul,
    Pool,
    Special,
    TiuWork,
    Transpose,
)
from tpusim.lower.layout import View, dma_rows, flat_view, lane_bytes, transfer

Move = tuple[str, Dma]  # (tensor name, transfer)


@dataclass(frozen=True)
class Tile:
    loads: tuple[Move, ...]
    works: tuple[TiuWork, ...]
    stores: tuple[Move, ...]
    lmem_bytes: int  # per lane, for this tile's buffers


@dataclass(frozen=True)
class KernelPlan:
    dims: tuple[int, ...]
    held: tuple[Move, ...]
    held_bytes: int  # per lane
    make_tile: Callable[[tuple[int, ...]], Tile]


def _load(name: str, rows: int, row_bytes: int, kind: str = "GDMA_TENSOR") -> Move:
    return name, transfer(Direction.S2L, rows, row_bytes, kind)


def _store(name: str, rows: int, row_bytes: int, kind: str = "GDMA_TENSOR") -> Move:
    return name, transfer(Direction.L2S, rows, row_bytes, kind)


# ---- TIU instruction sequences of element-wise functions ----------------------------------


def eltwise_works(op: Op, view: View, dtype: DType) -> list[TiuWork]:
    """The TIU instructions one element-wise op issues over a view."""
    n, c, h, w = view
    kind = op.kind

    def ar(name: str, passes: int = 1) -> Arith:
        return Arith(n, c, h, w, dtype, name, passes)

    def sfu(name: str) -> Special:
        return Special(n, c, h, w, dtype, name)

    if op.attr("lut"):
        return [Lookup(n, c, h, w, dtype)]
    if kind is OpKind.DIV:
        return [sfu("reciprocal"), ar("mul")]
    if kind is OpKind.POW:
        return [sfu("log"), ar("mul"), sfu("exp")]
    if kind in BINARY or kind in (OpKind.MULCONST, OpKind.ADDCONST, OpKind.RELU, OpKind.CLIP,
                                  OpKind.ABS, OpKind.CAST):
        return [ar(kind.value.lower())]
    if kind is OpKind.HARDSIGMOID:
        return [ar("mul_add"), ar("clamp")]
    if kind is OpKind.HARDSWISH:
        return [ar("mul_add"), ar("clamp"), ar("mul")]
    if kind is OpKind.GELU:  # x/2 * (1 + erf(x / sqrt 2))
        return [ar("mul"), sfu("erf"), ar("add"), ar("mul", 2)]
    if kind is OpKind.SIGMOID:
        return [sfu("exp"), ar("add"), sfu("reciprocal")]
    if kind is OpKind.SILU:
        return [sfu("exp"), ar("add"), sfu("reciprocal"), ar("mul")]
    if kind is OpKind.TANH:
        return [sfu("exp"), ar("add", 2), sfu("reciprocal"), ar("mul")]
    if kind in TRANSCENDENTAL:
        return [sfu(kind.value.lower())]
    raise UnsupportedOperatorError(f"op {op.name!r}: no element-wise kernel for {kind.value}")


def _scratch_buffers(op: Op) -> int:
    """Intermediate buffers a multi-instruction element-wise function needs."""
    return 0 if op.attr("lut") or op.kind in BINARY or op.kind in (
        OpKind.MULCONST, OpKind.ADDCONST, OpKind.RELU, OpKind.CLIP, OpKind.ABS, OpKind.CAST
    ) else 1


# ---- plans ---------------------------------------------------------------------------------


def _eltwise(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    out = g.tensors[op.outputs[0]]
    dtype = out.dtype
    if op.kind is OpKind.CAST:
        src = g.tensors[op.inputs[0]].dtype
        dtype = src if src.bytes > out.dtype.bytes else out.dtype
    tiled = [t for t in op.inputs if g.tensors[t].numel == out.numel]
    held = [t for t in op.inputs if t not in tiled]
    held_moves = tuple(_load(t, 1, g.tensors[t].nbytes) for t in held)
    held_bytes = sum(lane_bytes(flat_view(g.tensors[t].numel, chip), g.tensors[t].dtype, chip)
                     for t in held)
    scratch = _scratch_buffers(op)

    def make(sizes: tuple[int, ...]) -> Tile:
        view = flat_view(sizes[0], chip)
        lanes, per_lane = view[1], view[3]
        loads = tuple(_load(t, lanes, per_lane * g.tensors[t].dtype.bytes, "GDMA_MATRIX")
                      for t in tiled)
        stores = (_store(out.name, lanes, per_lane * out.dtype.bytes, "GDMA_MATRIX"),)
        lmem = sum(lane_bytes(view, g.tensors[t].dtype, chip) for t in tiled)
        lmem += (1 + scratch) * lane_bytes(view, dtype, chip)
        return Tile(loads, tuple(eltwise_works(op, view, dtype)), stores, lmem)

    return KernelPlan((out.numel,), held_moves, held_bytes, make)


def requant_works(dtype: DType, view: View) -> list[TiuWork]:
    """INT8 cube results are int32 and need a requantising pass back to int8."""
    if dtype is not DType.INT8:
        return []
    n, c, h, w = view
    return [Arith(n, c, h, w, DType.INT32, "requant")]


def _matmul(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    a, b = (g.tensors[t] for t in op.inputs[:2])
    bias = g.tensors[op.inputs[2]] if len(op.inputs) > 2 else None
    out = g.tensors[op.outputs[0]]
    batch, m, k, n = matmul_dims(a.shape, b.shape, op.attrs)
    dt = a.dtype
    held: list[Move] = []
    held_bytes = 0
    if bias is not None:
        held.append(_load(bias.name, 1, bias.nbytes))
        held_bytes += lane_bytes((1, 1, 1, n), bias.dtype, chip)
    weight_right = b.is_constant and len(b.shape) == 2

    if weight_right:
        held.append(_load(b.name, k, n * b.dtype.bytes))
        held_bytes += lane_bytes((1, k, n, 1), b.dtype, chip)

        def make(sizes: tuple[int, ...]) -> Tile:
            r = sizes[0]
            works: list[TiuWork] = [MatMul(r, k, n, dt)]
            if bias is not None:
                works.append(Arith(1, r, n, 1, out.dtype if dt is not DType.INT8 else DType.INT32,
                                   "add"))
            works += requant_works(dt, (1, r, n, 1))
            lmem = lane_bytes((1, r, k, 1), dt, chip) + lane_bytes((1, r, n, 1), out.dtype, chip)
            if dt is DType.INT8:
                lmem += lane_bytes((1, r, n, 1), DType.INT32, chip)
            return Tile((_load(a.name, r, k * dt.bytes),), tuple(works),
                        (_store(out.name, r, n * out.dtype.bytes),), lmem)

        return KernelPlan((math.prod(batch) * m,), tuple(held), held_bytes, make)

    b_rows, b_row = (n, k) if op.attr("right_transpose") else (k, n)

    def make_batched(sizes: tuple[int, ...]) -> Tile:
        bt = sizes[0]
        works: list[TiuWork] = [MatMul(m, k, n, dt)] * bt
        if bias is not None:
            works.append(Arith(bt, m, n, 1, out.dtype, "add"))
        works += requant_works(dt, (bt, m, n, 1))
        lmem = (lane_bytes((bt, m, k, 1), dt, chip) + lane_bytes((bt, b_rows, b_row, 1), dt, chip)
                + lane_bytes((bt, m, n, 1), out.dtype, chip))
        loads = (_load(a.name, bt * m, k * dt.bytes),
                 _load(b.name, bt * b_rows, b_row * b.dtype.bytes))
        return Tile(loads, tuple(works), (_store(out.name, bt * m, n * out.dtype.bytes),), lmem)

    return KernelPlan((math.prod(batch),), tuple(held), held_bytes, make_batched)


def _conv_like(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    x = g.tensors[op.inputs[0]]
    out = g.tensors[op.outputs[0]]
    batch, ch, ih, iw = x.shape
    _, oc, oh_full, ow = out.shape
    sh, _ = op.attr("strides", (1, 1))
    dh, _ = op.attr("dilations", (1, 1))
    held: list[Move] = []
    held_bytes = 0
    if op.kind is OpKind.CONV2D:
        w = g.tensors[op.inputs[1]]
        kh, kw = w.shape[2], w.shape[3]
        group = op.attr("group", 1)
        per_oc = w.shape[1] * kh * kw
        held.append(_load(w.name, oc, per_oc * w.dtype.bytes))
        held_bytes += lane_bytes((1, oc, per_oc, 1), w.dtype, chip)
        if len(op.inputs) > 2:
            bias = g.tensors[op.inputs[2]]
            held.append(_load(bias.name, oc, bias.dtype.bytes))
            held_bytes += lane_bytes((1, oc, 1, 1), bias.dtype, chip)
    else:
        kh, kw = op.attr("kernel")
        group = ch
    depthwise = op.kind is not OpKind.CONV2D or (group == ch == oc)
    dt = x.dtype

    def make(sizes: tuple[int, ...]) -> Tile:
        nt, oht = sizes
        iht = min(ih, (oht - 1) * sh + (kh - 1) * dh + 1)
        if depthwise:
            work: TiuWork = Pool(nt, oc, oht, ow, kh * kw, dt, op.kind.value.lower())
        else:
            work = Conv(nt, oc, oht, ow, ch // group, kh, kw, dt)
        cube = dt if op.kind is OpKind.CONV2D else DType.F32  # pools need no requantising
        works = [work, *requant_works(cube, (nt, oc, oht, ow))]
        rows_in, row_in = dma_rows(x.shape, (nt, ch, iht, iw), dt)
        lmem = (lane_bytes((nt, ch, iht, iw), dt, chip)
                + lane_bytes((nt, oc, oht, ow), out.dtype, chip))
        return Tile((_load(x.name, rows_in, row_in),), tuple(works),
                    (_store(out.name, nt * oc, oht * ow * out.dtype.bytes),), lmem)

    return KernelPlan((batch, oh_full), tuple(held), held_bytes, make)


def _rows_plan(op: Op, g: Graph, chip: Chip, length: int,
               works_for: Callable[[int, DType], list[TiuWork]], scratch: int,
               out_length: int | None = None) -> KernelPlan:
    """Ops that reduce or normalise rows of `length` contiguous elements."""
    x = g.tensors[op.inputs[0]]
    out = g.tensors[op.outputs[0]]
    rows = x.numel // length
    out_len = length if out_length is None else out_length
    params = [g.tensors[t] for t in op.inputs[1:]]
    held = tuple(_load(p.name, 1, p.nbytes) for p in params)
    held_bytes = sum(lane_bytes((1, 1, 1, p.numel), p.dtype, chip) for p in params)
    dt = out.dtype

    def make(sizes: tuple[int, ...]) -> Tile:
        r = sizes[0]
        lmem = (lane_bytes((1, r, 1, length), x.dtype, chip)
                + lane_bytes((1, r, 1, out_len), dt, chip)
                + scratch * lane_bytes((1, r, 1, length), DType.F32, chip))
        return Tile((_load(x.name, r, length * x.dtype.bytes),), tuple(works_for(r, dt)),
                    (_store(out.name, r, out_len * dt.bytes),), lmem)

    return KernelPlan((rows,), held, held_bytes, make)


def _layernorm(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    shape = g.tensors[op.inputs[0]].shape
    axis = op.attr("axis", -1) % len(shape)
    length = math.prod(shape[axis:])

    def works(r: int, dt: DType) -> list[TiuWork]:
        row = (1, r, 1, length)
        return [Pool(1, r, 1, 1, length, dt, "mean"), Arith(*row, dt, "sub"),
                Arith(*row, dt, "square"), Pool(1, r, 1, 1, length, dt, "mean"),
                Special(1, r, 1, 1, dt, "rsqrt"), Arith(*row, dt, "mul"),
                Arith(*row, dt, "scale", 2)]

    return _rows_plan(op, g, chip, length, works, scratch=1)


def _softmax(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    shape = g.tensors[op.inputs[0]].shape
    length = shape[op.attr("axis", -1) % len(shape)]

    def works(r: int, dt: DType) -> list[TiuWork]:
        row = (1, r, 1, length)
        return [Pool(1, r, 1, 1, length, dt, "max"), Arith(*row, dt, "sub"),
                Special(*row, dt, "exp"), Pool(1, r, 1, 1, length, dt, "sum"),
                Special(1, r, 1, 1, dt, "reciprocal"), Arith(*row, dt, "mul")]

    return _rows_plan(op, g, chip, length, works, scratch=1)


def _reduce(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    length = x.numel // out.numel
    name = op.kind.value[len("Reduce"):].lower()
    return _rows_plan(op, g, chip, length,
                      lambda r, dt: [Pool(1, r, 1, 1, length, dt, name)], 0, out_length=1)


def _through_lmem(op: Op, g: Graph, chip: Chip,
                  work: Callable[[View, DType], TiuWork]) -> KernelPlan:
    """Data rearrangement done by loading, rearranging in local memory, storing."""
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    ratio = out.numel / x.numel

    def make(sizes: tuple[int, ...]) -> Tile:
        view = flat_view(sizes[0], chip)
        in_view = flat_view(max(1, math.ceil(sizes[0] / ratio)), chip)
        lmem = lane_bytes(in_view, x.dtype, chip) + lane_bytes(view, out.dtype, chip)
        return Tile((_load(x.name, in_view[1], in_view[3] * x.dtype.bytes),),
                    (work(view, out.dtype),),
                    (_store(out.name, view[1], view[3] * out.dtype.bytes),), lmem)

    return KernelPlan((out.numel,), (), 0, make)


def permute_keeps_rows(op: Op, rank: int) -> int:
    """How many trailing axes a Permute leaves in place (their elements stay contiguous)."""
    order = list(op.attr("order"))
    kept = 0
    while kept < rank and order[rank - 1 - kept] == rank - 1 - kept:
        kept += 1
    return kept


def plan(op: Op, g: Graph, chip: Chip) -> KernelPlan | None:
    """The kernel plan of a computing op, or None for views and DDR-to-DDR copies."""
    kind = op.kind
    if kind in VIEWS or is_ddr_copy(op, g):
        return None
    if kind in ELEMENTWISE:
        return _eltwise(op, g, chip)
    builder = _PLANS.get(kind)
    if builder is None:
        raise UnsupportedOperatorError(f"op {op.name!r}: no kernel for {kind.value}")
    return builder(op, g, chip)


def is_ddr_copy(op: Op, g: Graph) -> bool:
    if op.kind is OpKind.PERMUTE:
        return permute_keeps_rows(op, len(g.tensors[op.inputs[0]].shape)) > 0
    return op.kind in (OpKind.SLICE, OpKind.CONCAT, OpKind.PAD, OpKind.GATHER, OpKind.EXPAND,
                       OpKind.SCATTERND)


def ddr_copies(op: Op, g: Graph) -> list[Move]:
    """DDR-to-DDR transfers of a data-movement op that runs as a global layer."""
    out = g.tensors[op.outputs[0]]
    x = g.tensors[op.inputs[0]]
    dt = out.dtype

    def copy(name: str, rows: int, row_bytes: int) -> Move:
        return name, transfer(Direction.S2S, rows, row_bytes)

    if op.kind is OpKind.PERMUTE:
        kept = permute_keeps_rows(op, len(x.shape))
        run = math.prod(x.shape[len(x.shape) - kept:])
        return [copy(x.name, x.numel // run, run * dt.bytes)]
    if op.kind is OpKind.SLICE:
        rows, row = dma_rows(x.shape, _slice_box(op, x.shape), dt, op.attr("steps"))
        return [copy(x.name, rows, row)]
    if op.kind is OpKind.CONCAT:
        axis = op.attr("axis") % len(out.shape)
        moves = []
        for name in op.inputs:
            t = g.tensors[name]
            run = math.prod(t.shape[axis:])
            moves.append(copy(name, t.numel // run, run * dt.bytes))
        return moves
    if op.kind is OpKind.GATHER:
        axis = op.attr("axis", 0) % len(x.shape)
        inner = math.prod(x.shape[axis + 1:])
        return [copy(x.name, out.numel // inner, inner * dt.bytes)]
    if op.kind is OpKind.SCATTERND:
        moves = [copy(x.name, 1, x.nbytes)]
        upd = g.tensors[op.inputs[-1]]
        moves.append(copy(upd.name, upd.shape[0] if upd.shape else 1,
                          max(1, upd.nbytes // max(1, upd.shape[0] if upd.shape else 1))))
        return moves
    if op.kind is OpKind.PAD:  # the input lands inside the output as a sub-box
        rows, row = dma_rows(out.shape, x.shape, dt)
        return [copy(x.name, rows, row)]
    # Expand: runs last as long as the trailing axes are not broadcast.
    run = 1
    for d_in, d_out in zip(reversed(x.shape), reversed(out.shape)):
        if d_in != d_out:
            break
        run *= d_out
    return [copy(x.name, out.numel // run, run * dt.bytes)]


def _slice_box(op: Op, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(len(range(*slice(b, e, s).indices(d)))
                 for d, b, e, s in zip(shape, op.attr("starts"), op.attr("ends"), op.attr("steps")))


def _opaque(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    """An operator tpusim does not model (the ONNX import fallback), costed as memory-bound
    element-wise work: each tile loads its share of every input, makes one arithmetic pass over
    its share of every output and stores it."""
    ins = [g.tensors[t] for t in op.inputs]
    outs = [g.tensors[t] for t in op.outputs]
    total = max(t.numel for t in outs)

    def make(sizes: tuple[int, ...]) -> Tile:
        def share(t: Tensor) -> View:
            return flat_view(max(1, math.ceil(t.numel * sizes[0] / total)), chip)

        loads = tuple(_load(t.name, share(t)[1], share(t)[3] * t.dtype.bytes, "GDMA_MATRIX")
                      for t in ins)
        works = tuple(Arith(*share(t), t.dtype, "opaque") for t in outs)
        stores = tuple(_store(t.name, share(t)[1], share(t)[3] * t.dtype.bytes, "GDMA_MATRIX")
                       for t in outs)
        lmem = sum(lane_bytes(share(t), t.dtype, chip) for t in ins + outs)
        return Tile(loads, works, stores, lmem)

    return KernelPlan((total,), (), 0, make)


_PLANS: dict[OpKind, Callable[[Op, Graph, Chip], KernelPlan]] = {
    OpKind.MATMUL: _matmul,
    OpKind.CONV2D: _conv_like,
    OpKind.MAXPOOL: _conv_like,
    OpKind.AVGPOOL: _conv_like,
    OpKind.LAYERNORM: _layernorm,
    OpKind.SOFTMAX: _softmax,
    OpKind.REDUCE_MEAN: _reduce,
    OpKind.REDUCE_SUM: _reduce,
    OpKind.REDUCE_MAX: _reduce,
    OpKind.PERMUTE: lambda op, g, chip: _through_lmem(
        op, g, chip, lambda v, dt: Transpose(*v, dt)),
    OpKind.OPAQUE: _opaque,
    OpKind.UPSAMPLE: lambda op, g, chip: _through_lmem(
        op, g, chip, lambda v, dt: Arith(*v, dt, "copy")),
}
