"""Kernels: how each operator's work is cut into tiles of TIU instructions and transfers when it
runs alone, as a global layer (tpu-mlir's backend kernels, read off its programs).

A `KernelPlan` describes an operator over a tile domain (a few sizes, split outermost first):
what it loads once and holds (weights), and for a tile of given sizes what it loads, which TIU
instructions it runs, what it stores and how much local memory the tile needs per lane. The
instruction sequences themselves are in `sequences.py`; the cube's kernels in
`cube_kernels.py`.

Operators that only move data in DDR (Slice, Concat, Permutes that keep long rows, ...) have
no plan; `ddr_copies.py` gives their DDR-to-DDR transfers. Views (Reshape, Squeeze) cost
nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from tpusim.errors import UnsupportedOperatorError
from tpusim.hw.chip import Chip
from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, Op, Tensor
from tpusim.ir.ops import ELEMENTWISE, TRANSCENDENTAL, VIEWS, OpKind
from tpusim.lower import sequences
from tpusim.lower.commands import Arith, Broadcast, Direction, Dma, TiuWork
from tpusim.lower.ddr_copies import Move, is_ddr_copy, permute_keeps_rows
from tpusim.lower.layout import View, flat_view, lane_bytes, transfer


@dataclass(frozen=True)
class Tile:
    loads: tuple[Move, ...]
    works: tuple[TiuWork, ...]
    stores: tuple[Move, ...]
    lmem_bytes: int  # per lane, for this tile's buffers
    finish: tuple[TiuWork, ...] = ()  # after the last tile of a reduction (bias, requant)


@dataclass(frozen=True)
class KernelPlan:
    dims: tuple[int, ...]
    held: tuple[Move, ...]
    held_bytes: int  # per lane
    make_tile: Callable[[tuple[int, ...]], Tile]
    max_tile: int | None = None  # largest tile along the first dim the kernel uses
    prologue: tuple[TiuWork, ...] = ()  # TIU work done once, before the first tile
    min_tiles: int = 1  # tiles the kernel cuts its work into at least (to overlap them)
    serial: bool = False  # each tile loads only once the previous one is computed
    # The last dim is reduced: its tiles accumulate into one result, finished and stored after
    # the last of them. Dims are cut in `split_order` (default: outermost first).
    reduction: bool = False
    split_order: tuple[int, ...] = ()

    @property
    def buffer_sets(self) -> int:
        """Tile buffers in local memory: two (load one tile while computing another) unless
        the kernel is serial."""
        return 1 if self.serial else 2


def load(name: str, rows: int, row_bytes: int, kind: str = "GDMA_TENSOR") -> Move:
    return name, transfer(Direction.S2L, rows, row_bytes, kind)


def store(name: str, rows: int, row_bytes: int, kind: str = "GDMA_TENSOR") -> Move:
    return name, transfer(Direction.L2S, rows, row_bytes, kind)


def _bank_rows(row_bytes: int, chip: Chip) -> int:
    """Rows of `row_bytes` per lane that fill one LMEM bank: the buffer a streaming kernel
    (softmax, GELU) gives each tile."""
    return max(1, chip.lmem_bank_bytes // max(1, row_bytes))


# ---- element-wise ---------------------------------------------------------------------------

# Element-wise kernels that stream the tensor as a flat array over every lane (matrix-mode
# transfers); the others keep the tensor's layout (tensor mode), as the vendor's Relu and INT8
# binary kernels do.
def _flat(op: Op, g: Graph, chip: Chip) -> bool:
    out = g.tensors[op.outputs[0]]
    inner = math.prod(out.shape[2:])
    if len(out.shape) < 3 or inner * out.dtype.bytes > chip.lmem_bank_bytes:
        return True  # no rows to keep, or rows too long for a buffer: stream it flat
    if op.kind is OpKind.RELU:
        return False
    return not (op.kind in (OpKind.ADD, OpKind.SUB, OpKind.MUL) and out.dtype is DType.INT8)


def _eltwise(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    out = g.tensors[op.outputs[0]]
    src = g.tensors[op.inputs[0]].dtype
    dtype = out.dtype
    tiled = [t for t in op.inputs if g.tensors[t].numel == out.numel]
    held = [t for t in op.inputs if t not in tiled]
    held_moves = tuple(load(t, 1, g.tensors[t].nbytes) for t in held)
    held_bytes = sum(lane_bytes(flat_view(g.tensors[t].numel, chip), g.tensors[t].dtype, chip)
                     for t in held)
    flat = _flat(op, g, chip)
    streaming = op.kind in TRANSCENDENTAL and not op.attr("lut")
    work_dtype = DType.F32 if op.kind is OpKind.GELU else dtype
    if op.attr("lut"):  # the 256-entry table, broadcast once
        held_moves += (load(f"{op.name}.table", 1, 256),)

    def works(view: View) -> list[TiuWork]:
        if op.kind is OpKind.CAST:
            return sequences.cast(src, dtype, view, local=False)
        return sequences.elementwise(op, view, work_dtype, chip)

    def make(sizes: tuple[int, ...]) -> Tile:
        if flat:
            view = flat_view(sizes[0], chip)
            rows, row = view[1], view[3]
            kind = "GDMA_MATRIX"
        else:  # whole rows of the dims past c, c over the lanes
            view = (1, sizes[0], 1, inner)
            rows, row = sizes[0], inner
            kind = "GDMA_TENSOR"
        loads = tuple(load(t, rows, row * g.tensors[t].dtype.bytes, kind) for t in tiled)
        stores = (store(out.name, rows, row * dtype.bytes, kind),)
        widest = max(dtype.bytes, src.bytes, work_dtype.bytes)
        lmem = sum(lane_bytes(view, g.tensors[t].dtype, chip) for t in tiled)
        lmem += (1 + _scratch(op)) * lane_bytes(view, DType.F32 if widest == 4 else dtype, chip)
        return Tile(loads, tuple(works(view)), stores, lmem)

    limit = _bank_rows(work_dtype.bytes, chip) * chip.npu_count if streaming else None
    inner = math.prod(out.shape[2:])
    # flat kernels stream in two tiles once there are two units for every lane, so loads
    # overlap compute (vendor: N/2 +- 1 units of 256 elements a lane, and a tail)
    halves = 2 if flat and out.numel >= 2 * chip.npu_count * chip.flat_tile_unit_elems else 1
    return KernelPlan((out.numel if flat else out.numel // inner,), held_moves, held_bytes, make,
                      max_tile=limit, min_tiles=halves)


def _scratch(op: Op) -> int:
    """Intermediate buffers a multi-instruction element-wise function needs."""
    return 0 if op.attr("lut") or op.kind not in TRANSCENDENTAL else 1


# ---- row-wise: layer norm, softmax, reductions ----------------------------------------------

def _rows_plan(op: Op, g: Graph, chip: Chip, length: int, out_length: int,
               works_for: Callable[[int, int, int], list[TiuWork]], streaming: bool,
               prologue: tuple[TiuWork, ...] = ()) -> KernelPlan:
    """Ops over rows of `length` contiguous elements, rows spread over the lanes."""
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    rows = x.numel // length
    params = [g.tensors[t] for t in op.inputs[1:]]
    held = tuple(load(p.name, 1, p.nbytes) for p in params)  # one row each, broadcast
    held_bytes = sum(lane_bytes((1, 1, 1, p.numel), p.dtype, chip) for p in params)
    eu = chip.eu_num(x.dtype)
    aligned_row = -(-length // eu) * eu * x.dtype.bytes
    f32_eu = chip.eu_num(DType.F32)  # streaming kernels keep an f32 row of partial results

    def make(sizes: tuple[int, ...]) -> Tile:
        r = sizes[0]
        lanes = min(r, chip.npu_count)
        per_lane = -(-r // lanes)
        lmem = per_lane * (aligned_row + -(-out_length // eu) * eu * out.dtype.bytes
                           + (-(-length // f32_eu) * f32_eu * DType.F32.bytes
                              if streaming else 0))
        return Tile((load(x.name, r, length * x.dtype.bytes),),
                    tuple(works_for(lanes, per_lane, length)),
                    (store(out.name, r, out_length * out.dtype.bytes),), lmem)

    limit = _bank_rows(aligned_row, chip) * chip.npu_count if streaming else None
    return KernelPlan((rows,), held, held_bytes, make, limit, prologue)


def _layernorm(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    shape, dt = g.tensors[op.inputs[0]].shape, g.tensors[op.outputs[0]].dtype
    length = math.prod(shape[op.attr("axis", -1) % len(shape):])
    return _rows_plan(op, g, chip, length, length, lambda c, rows, w: sequences.layernorm(
        1, c, rows, w, dt, chip, local=False), streaming=False)


def _softmax(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    shape, dt = g.tensors[op.inputs[0]].shape, g.tensors[op.outputs[0]].dtype
    axis = op.attr("axis", -1) % len(shape)
    length = shape[axis]
    if axis < len(shape) - 1 and math.prod(shape[axis + 1:]) > 1:
        return _softmax_across(op, g, chip, axis)
    return _rows_plan(op, g, chip, length, length, lambda c, rows, w: sequences.softmax(
        1, c, rows, w, dt, chip), streaming=True,
        prologue=(Broadcast(1, 1, dt, "STATIC_BC"),))


def _softmax_across(op: Op, g: Graph, chip: Chip, axis: int) -> KernelPlan:
    """Softmax over an axis that is not the innermost (YOLOv8's distribution over 16 bins of
    [1, 4, 16, 8400]): each of the `length` slices is loaded on its own, spread over the lanes
    one EU group (64 B) a row, and the statistics are element-wise across the slices: a
    maximum and a sum over `length` slices, a subtraction, an exponential and a scaling of
    every element, one reciprocal a column (vendor: 16 loads and 16 stores of 67,200 B in
    64-byte rows, 16 AR, 2 PorD and an SFU over (64 lanes, 16 slices, 525 elements))."""
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    shape, dt = x.shape, out.dtype
    length, inner = shape[axis], math.prod(shape[axis + 1:])

    def make(sizes: tuple[int, ...]) -> Tile:
        elements = sizes[0] * inner  # of one slice
        lanes = min(elements, chip.npu_count)
        per_lane = -(-elements // lanes)
        full = (1, lanes, length, per_lane)
        column = (1, lanes, 1, per_lane)
        works = (Arith(*column, dt, "max", max(1, length - 1)),
                 Arith(*full, dt, "sub", aligned=True),
                 sequences.Special(*full, dt, "exp", aligned=True),
                 Arith(*column, DType.F32, "sum", max(1, length - 1)),
                 Arith(*column, DType.F32, "divide", chip.ar_divide_passes),
                 Arith(*full, dt, "mul", aligned=True))

        def rows(t: Tensor) -> Move:
            eu = chip.eu_num(t.dtype)
            return t.name, transfer(Direction.S2L if t is x else Direction.L2S,
                                    -(-elements // eu), eu * t.dtype.bytes)

        lmem = lane_bytes(full, x.dtype, chip) + lane_bytes(full, DType.F32, chip) + \
            lane_bytes(full, dt, chip)
        return Tile((rows(x),) * length, works, (rows(out),) * length, lmem)

    return KernelPlan((math.prod(shape[:axis]),), (), 0, make)


def _reduce(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    length = x.numel // out.numel
    name = op.kind.value[len("Reduce"):].lower() if op.kind.value.startswith("Reduce") else "avg"
    return _rows_plan(op, g, chip, length, 1, lambda c, rows, w: sequences.pool_reduce(
        1, c * rows, w, out.dtype, name, chip), streaming=False)


# ---- data rearrangement through local memory ------------------------------------------------

def _swaps(order: list[int]) -> int:
    """Fewest exchanges of two axes that make up a permutation: axes minus cycles."""
    seen, cycles = set(), 0
    for start in range(len(order)):
        if start not in seen:
            cycles += 1
            i = start
            while i not in seen:
                seen.add(i)
                i = order[i]
    return len(order) - cycles


def merged_order(order: list[int]) -> list[int]:
    """The permutation with every run of axes that stays together (consecutive, in order)
    merged into one axis: (0, 1, 3, 4, 2) moves [a, b, c, d, e] as (0, 2, 1) moves
    [a*b, c, d*e]."""
    runs: list[list[int]] = []
    for axis in order:
        if runs and axis == runs[-1][-1] + 1:
            runs[-1].append(axis)
        else:
            runs.append([axis])
    first = sorted(run[0] for run in runs)
    return [first.index(run[0]) for run in runs]


def _permute(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    """A permute that moves the innermost axis goes through local memory: one pass per exchange
    of two (merged) axes, each loading the tensor, copying it with a stride (one element per
    lane per cycle) and storing it, one side of each pass strided (vendor: YOLOv5's output
    permutes (0, 1, 3, 4, 2), one swap of merged axes, run one pass each)."""
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    order = list(op.attr("order"))
    rank = len(order)
    kept = permute_keeps_rows(op, rank)
    passes = max(1, _swaps(merged_order(order[:rank - kept])))
    run = math.prod(x.shape[rank - kept:]) if kept else x.shape[-1]

    def make(sizes: tuple[int, ...]) -> Tile:
        view = flat_view(sizes[0], chip)
        strided = max(1, sizes[0] // run)
        contiguous = (view[1], view[3] * x.dtype.bytes)
        copy = Arith(*view, x.dtype, "strided_copy", chip.eu_num(x.dtype))
        loads: list[Move] = []
        stores: list[Move] = []
        for p in range(passes):
            src = (strided, run * x.dtype.bytes) if p % 2 else contiguous
            dst = contiguous if p % 2 else (strided, run * x.dtype.bytes)
            loads.append(load(x.name, *src))
            stores.append(store(out.name, *dst))
        lmem = 2 * lane_bytes(view, x.dtype, chip)
        return Tile(tuple(loads), (copy,) * passes, tuple(stores), lmem)

    return KernelPlan((out.numel,), (), 0, make, serial=True)


def _upsample(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    ratio = out.numel / x.numel

    def make(sizes: tuple[int, ...]) -> Tile:
        view = flat_view(sizes[0], chip)
        in_view = flat_view(max(1, math.ceil(sizes[0] / ratio)), chip)
        lmem = lane_bytes(in_view, x.dtype, chip) + lane_bytes(view, out.dtype, chip)
        return Tile((load(x.name, in_view[1], in_view[3] * x.dtype.bytes),),
                    tuple(sequences.resize(op, view, out.dtype)),
                    (store(out.name, view[1], view[3] * out.dtype.bytes),), lmem)

    return KernelPlan((out.numel,), (), 0, make)


def _lookup(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    """A Gather with run-time indices (an embedding lookup) or a GatherND: the indices are
    loaded to every lane, turned into row addresses (an AR and a compare-select pass at int32),
    and the GDMA gathers the rows DDR to DDR (vendor: ERNIE's embeddings, a broadcast load,
    AR and FUSED_CMP, one GDMA_GATHER of the whole output)."""
    idx, out = g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    # a GatherND index is a tuple of its last dim; a Gather index one number
    depth = idx.shape[-1] if op.kind is OpKind.GATHERND else 1
    picks = idx.numel // max(1, depth)
    row = max(1, out.nbytes // max(1, picks))

    def make(sizes: tuple[int, ...]) -> Tile:
        n = sizes[0]
        per = n * depth
        view = (1, chip.npu_count, 1, per)  # every lane holds every index
        works = (Arith(*view, DType.INT32, "address"),
                 Arith(*view, DType.INT32, "select", 2, kind="FUSED_CMP"))
        gather = (out.name, Dma(Direction.S2S, n, row, "GDMA_GATHER"))
        return Tile((load(idx.name, chip.npu_count, per * 4, "GDMA_BROADCAST"),), works,
                    (gather,), lane_bytes((1, 1, 1, per), DType.INT32, chip))

    return KernelPlan((picks,), (), 0, make)


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

        loads = tuple(load(t.name, share(t)[1], share(t)[3] * t.dtype.bytes, "GDMA_MATRIX")
                      for t in ins)
        works = tuple(Arith(*share(t), t.dtype, "opaque") for t in outs)
        stores = tuple(store(t.name, share(t)[1], share(t)[3] * t.dtype.bytes, "GDMA_MATRIX")
                       for t in outs)
        lmem = sum(lane_bytes(share(t), t.dtype, chip) for t in ins + outs)
        return Tile(loads, works, stores, lmem)

    return KernelPlan((total,), (), 0, make)


# ---- dispatch ------------------------------------------------------------------------------

def plan(op: Op, g: Graph, chip: Chip) -> KernelPlan | None:
    """The kernel plan of a computing op, or None for views and DDR-to-DDR copies."""
    from tpusim.lower import cube_kernels

    kind = op.kind
    if kind in VIEWS or is_ddr_copy(op, g):
        return None
    if kind in ELEMENTWISE:
        return _eltwise(op, g, chip)
    if kind is OpKind.MATMUL:
        return cube_kernels.matmul(op, g, chip)
    if kind is OpKind.ATTENTION:
        return cube_kernels.attention(op, g, chip)
    if kind in (OpKind.CONV2D, OpKind.MAXPOOL) or (
            kind is OpKind.AVGPOOL and not _global_pool(op, g)):
        return cube_kernels.conv(op, g, chip)
    builder = _PLANS.get(kind)
    if builder is None:
        raise UnsupportedOperatorError(f"op {op.name!r}: no kernel for {kind.value}")
    return builder(op, g, chip)


def _global_pool(op: Op, g: Graph) -> bool:
    out = g.tensors[op.outputs[0]]
    return out.shape[2:] == (1, 1) and op.attr("pads", (0, 0, 0, 0)) == (0, 0, 0, 0)


_PLANS: dict[OpKind, Callable[[Op, Graph, Chip], KernelPlan]] = {
    OpKind.LAYERNORM: _layernorm,
    OpKind.SOFTMAX: _softmax,
    OpKind.REDUCE_MEAN: _reduce,
    OpKind.REDUCE_SUM: _reduce,
    OpKind.REDUCE_MAX: _reduce,
    OpKind.AVGPOOL: _reduce,  # global average pooling: a row reduction over h*w
    OpKind.PERMUTE: _permute,
    OpKind.OPAQUE: _opaque,
    OpKind.UPSAMPLE: _upsample,
    OpKind.GATHER: _lookup,
    OpKind.GATHERND: _lookup,
}
