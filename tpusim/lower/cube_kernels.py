"""Global kernels of the cube: MatMul and convolutions, as tpu-mlir's backend runs them alone.

MatMuls at F16/BF16/INT8 and convolutions run as one tile when they fit (load, compute, store,
one after the other). F32 MatMuls do not use the cube: MM lays the outputs over the lanes in
blocks of a width W the backend picks to balance the TIU against the weight's loading.
"""

from __future__ import annotations

import math

from tpusim.cost.gdma import gdma_ns
from tpusim.cost.tiu import tiu_ns
from tpusim.hw.chip import Chip
from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, Op
from tpusim.ir.ops import OpKind
from tpusim.ir.shapes import matmul_dims
from tpusim.lower.commands import (
    Arith,
    Broadcast,
    Conv,
    Direction,
    Dma,
    Lookup,
    MatMul,
    Pool,
    TiuWork,
)
from tpusim.lower.kernels import KernelPlan, Tile, load, store
from tpusim.lower.layout import dma_rows, lane_bytes
from tpusim.lower.sequences import bias_add, requant

MM_LANE_WIDTHS = (16, 32, 48, 64)  # the output block widths tpu-mlir's F32 MM chooses from


def mm_lane_width(m: int, k: int, n: int, chip: Chip) -> int:
    """The block width that best balances MM's TIU time against loading the right operand,
    whose matrix-mode segments are W elements (wider blocks: longer rows, more TIU passes)."""
    def cost(w: int) -> float:
        mm = tiu_ns(MatMul(m, k, n, DType.F32, lane_width=w), chip)
        rows = k * math.ceil(n / w)
        weight = gdma_ns(Dma(Direction.S2L, rows, w * 4, "GDMA_MATRIX"), chip)
        return max(mm, weight)

    return min(reversed(MM_LANE_WIDTHS), key=cost)


def matmul(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    a, b = (g.tensors[t] for t in op.inputs[:2])
    bias = g.tensors[op.inputs[2]] if len(op.inputs) > 2 else None
    out = g.tensors[op.outputs[0]]
    batch, m, k, n = matmul_dims(a.shape, b.shape, op.attrs)
    dt, od = a.dtype, out.dtype
    held: list = []
    held_bytes = 0
    if bias is not None:  # one row, broadcast to the lanes
        held.append(load(bias.name, 1, bias.nbytes))
        held_bytes += lane_bytes((1, 1, 1, n), bias.dtype, chip)
    weight_right = b.is_constant and len(b.shape) == 2
    width = mm_lane_width(m if not weight_right else math.prod(batch) * m, k, n, chip) \
        if dt is DType.F32 else 0
    seg = 16 if width else 0  # MM reads the left operand in 16-element segments

    def left(rows: int) -> tuple:
        if width:
            return load(a.name, rows * math.ceil(k / seg), seg * 4, "GDMA_MATRIX")
        return load(a.name, rows, k * dt.bytes)

    def output(rows: int) -> tuple:
        if width:
            return store(out.name, rows * math.ceil(n / width), width * 4, "GDMA_MATRIX")
        return store(out.name, rows, n * od.bytes)

    def cube(rows: int, batches: int) -> list[TiuWork]:
        works: list[TiuWork] = [MatMul(rows, k, n, dt, batches, width, bias is not None and
                                       bool(width))]
        view = (batches, rows, 1, n)
        if bias is not None and not width:
            works += bias_add(view, dt)
        return works + (requant(view, False) if dt is DType.INT8 else [])

    def out_bytes(rows: int) -> int:
        if width:  # rows x W outputs on each of ceil(N / W) lanes
            return rows * math.ceil(math.ceil(n / width) / chip.npu_count) * width * 4
        return lane_bytes((1, rows, n, 1), od, chip)

    if weight_right and math.ceil(b.nbytes / chip.npu_count) > chip.lmem_bytes_per_npu // 2:
        # a weight too large to hold: columns in chunks, each chunk's weight loaded with it
        def make_columns(sizes: tuple[int, ...]) -> Tile:
            nc, r = sizes
            works: list[TiuWork] = [MatMul(r, k, nc, dt, 1, width, bias is not None and
                                           bool(width))]
            view = (1, r, 1, nc)
            if bias is not None and not width:
                works += bias_add(view, dt)
            works += requant(view, False) if dt is DType.INT8 else []
            w_load = load(b.name, k * (math.ceil(nc / width) if width else 1),
                          (width * 4) if width else nc * b.dtype.bytes,
                          "GDMA_MATRIX" if width else "GDMA_TENSOR")
            lmem = (math.ceil(k * nc * b.dtype.bytes / chip.npu_count)
                    + lane_bytes((1, r, k, 1), dt, chip) + lane_bytes((1, r, nc, 1), od, chip))
            return Tile((w_load, left(r)), tuple(works), (store(out.name, r, nc * od.bytes),),
                        lmem)

        return KernelPlan((n, math.prod(batch) * m), tuple(held), held_bytes, make_columns)

    if weight_right:
        if width:
            held.append(load(b.name, k * math.ceil(n / width), width * 4, "GDMA_MATRIX"))
        else:
            held.append(load(b.name, k, n * b.dtype.bytes))
        held_bytes += math.ceil(b.nbytes / chip.npu_count)

        def make(sizes: tuple[int, ...]) -> Tile:
            r = sizes[0]
            # MM broadcasts each left row to every lane, so each lane holds the whole chunk
            a_bytes = r * k * 4 if width else lane_bytes((1, r, k, 1), dt, chip)
            acc = lane_bytes((1, r, n, 1), DType.INT32, chip) if dt is DType.INT8 else 0
            return Tile((left(r),), tuple(cube(r, 1)), (output(r),),
                        a_bytes + out_bytes(r) + acc)

        return KernelPlan((math.prod(batch) * m,), tuple(held), held_bytes, make)

    b_rows, b_row = (n, k) if op.attr("right_transpose") else (k, n)

    def make_batched(sizes: tuple[int, ...]) -> Tile:
        bt = sizes[0]
        if width:  # one MM per batch: its own operands
            loads = (left(bt * m), load(b.name, bt * b_rows * math.ceil(b_row / width),
                                        width * 4, "GDMA_MATRIX"))
            works: list[TiuWork] = [MatMul(m, k, n, dt, bt, width)]
        else:
            loads = (load(a.name, bt * m, k * dt.bytes),
                     load(b.name, bt * b_rows, b_row * b.dtype.bytes))
            works = [MatMul(m, k, n, dt) for _ in range(bt)]
            if dt is DType.INT8:
                works = [w for mm in works for w in (mm, *requant((1, m, 1, n), False))]
        lmem = (lane_bytes((bt, m, k, 1), dt, chip) + lane_bytes((bt, b_rows, b_row, 1), dt, chip)
                + lane_bytes((bt, m, n, 1), od, chip))
        return Tile(loads, tuple(works), (output(bt * m),), lmem)

    # F32 products run one batch per tile, each with its own loads, one after the other
    # (vendor: 3 GDMA and an MM a batch, no overlap)
    return KernelPlan((math.prod(batch),), tuple(held), held_bytes, make_batched,
                      max_tile=1 if width else None, serial=bool(width))


# The 3-IC sequence's sizes, read off the one 3-IC program in the vendor data
# (tpu-mlir/fixtures conv7x7s2_3x224x224_64: 7x7 kernel, 3 input channels). How they scale
# with the kernel is not known, so every 3-IC conv uses them (a 4x4 patch embedding too).
_3IC_COPY_ROWS = 7  # rows of each weight lane copy
_3IC_BROADCAST_ROWS = (4, 4, 8)  # rows of the three input lane broadcasts per tile
_3IC_PREPARE_TAPS = 14  # taps of the PorD that folds kernel rows into channels


def conv_works(x_shape: tuple[int, ...], w_shape: tuple[int, ...], out: tuple[int, ...],
               group: int, dt: DType, chip: Chip) -> tuple[list[TiuWork], list[TiuWork]]:
    """The TIU instructions of a convolution: (once per kernel, per tile).

    A depthwise conv is a PorD (int8 taps accumulate at the int32 rate), except with at most
    32 channels at F16/BF16/INT8, where the backend issues a one-channel CONV. A conv with
    fewer input channels than the cube reduces per step folds its kernel rows into the input
    channels (tpu-mlir's 3-IC optimisation for a network's first layer): it first rearranges
    the weights once (distribute, 3 AR, a lookup, 2 lane copies) and the input of every tile
    (3 lane broadcasts and a 14-tap PorD over the output's EU groups)."""
    n, oc, oh, ow = out
    ic, kh, kw = w_shape[1], w_shape[2], w_shape[3]
    if group == x_shape[1] == oc and group > 1:
        if dt is not DType.F32 and oc <= chip.npu_count // 2:
            return [], [Conv(n, oc, oh, ow, 1, kh, kw, dt)]
        return [], [Pool(n, oc, oh, ow, kh * kw, DType.INT32 if dt is DType.INT8 else dt,
                         "depthwise")]
    if ic * kh <= chip.ic_num(dt) and ic < chip.ic_num(dt):
        eu = chip.eu_num(dt)
        once: list[TiuWork] = [
            Broadcast(1, 1, dt, "DISTRIBUTE_BC"), Arith(1, 1, 1, eu, dt, "3ic", 2),
            Arith(1, 1, 1, eu, dt, "3ic"), Arith(1, 1, 1, eu, dt, "3ic"),
            Lookup(1, 1, 1, 1, dt),
            *[Broadcast(_3IC_COPY_ROWS, eu, dt, "LANE_COPY") for _ in range(2)]]
        pixels = n * oh * ow
        prepare: list[TiuWork] = [*[Broadcast(rows, pixels, dt) for rows in _3IC_BROADCAST_ROWS],
                                  Pool(1, 1, 1, pixels, _3IC_PREPARE_TAPS, dt, "3ic")]
        return once, [*prepare, Conv(n, oc, oh, ow, ic * kh, 1, kw, dt)]
    return [], [Conv(n, oc, oh, ow, ic, kh, kw, dt)]


def conv(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    """A convolution or pool. When the whole input fits local memory, it is loaded once and the
    output channels go in chunks of one per lane, each chunk's weights loading while the
    previous chunk computes (vendor: 128 channels in 2 CONVs, 512 in 8); otherwise the weights
    are held and the batch and output rows are tiled."""
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    batch, ch, ih, iw = x.shape
    _, oc, oh_full, ow = out.shape
    sh, _ = op.attr("strides", (1, 1))
    dh, _ = op.attr("dilations", (1, 1))
    dt = x.dtype
    pool = op.kind is not OpKind.CONV2D
    w = None if pool else g.tensors[op.inputs[1]]
    bias = g.tensors[op.inputs[2]] if not pool and len(op.inputs) > 2 else None
    kh, kw = op.attr("kernel") if pool else w.shape[2:]
    per_oc = 0 if pool else w.shape[1] * kh * kw

    prologue = [] if pool else conv_works(x.shape, w.shape, out.shape, op.attr("group", 1), dt,
                                          chip)[0]

    def works(view: tuple[int, int, int, int]) -> list[TiuWork]:
        if pool:
            return [Pool(*view, kh * kw, dt, op.kind.value[:3].lower())]
        found = conv_works(x.shape, w.shape, view, op.attr("group", 1), dt, chip)[1]
        return found + (bias_add(view, dt) + requant(view, False) if dt is DType.INT8 else [])

    def input_rows(nt: int, iht: int) -> tuple[int, int]:
        rows, _ = dma_rows(x.shape, (nt, ch, iht, iw), dt)
        rows = max(rows, nt * ch)  # one row per lane channel at least
        return rows, nt * ch * iht * iw * dt.bytes // rows

    whole_in = lane_bytes(x.shape, dt, chip)
    chunk_out = lane_bytes((batch, min(oc, chip.npu_count), oh_full, ow), out.dtype, chip)
    group = op.attr("group", 1)
    if not pool and group == 1 and whole_in + 2 * chunk_out < chip.lmem_bytes_per_npu:
        def make_chunk(sizes: tuple[int, ...]) -> Tile:
            oct_ = sizes[0]
            view = (batch, oct_, oh_full, ow)
            loads = [load(w.name, oct_, per_oc * w.dtype.bytes)]
            if bias is not None:
                loads.append(load(bias.name, oct_, bias.dtype.bytes))
            lmem = lane_bytes((1, oct_, per_oc, 1), w.dtype, chip) + \
                lane_bytes(view, out.dtype, chip)
            return Tile(tuple(loads), tuple(works(view)),
                        (store(out.name, batch * oct_, oh_full * ow * out.dtype.bytes),), lmem)

        held = (load(x.name, *input_rows(batch, ih)),)
        return KernelPlan((oc,), held, whole_in, make_chunk, max_tile=chip.npu_count,
                          prologue=tuple(prologue))

    held: list = []
    held_bytes = 0
    if not pool:
        held.append(load(w.name, oc, per_oc * w.dtype.bytes))
        held_bytes += lane_bytes((1, oc, per_oc, 1), w.dtype, chip)
        if bias is not None:
            held.append(load(bias.name, oc, bias.dtype.bytes))
            held_bytes += lane_bytes((1, oc, 1, 1), bias.dtype, chip)

    def make(sizes: tuple[int, ...]) -> Tile:
        nt, oht = sizes
        iht = min(ih, (oht - 1) * sh + (kh - 1) * dh + 1)
        view = (nt, oc, oht, ow)
        lmem = lane_bytes((nt, ch, iht, iw), dt, chip) + lane_bytes(view, out.dtype, chip)
        return Tile((load(x.name, *input_rows(nt, iht)),), tuple(works(view)),
                    (store(out.name, nt * oc, oht * ow * out.dtype.bytes),), lmem)

    return KernelPlan((batch, oh_full), tuple(held), held_bytes, make, prologue=tuple(prologue))


__all__ = ["conv", "conv_works", "matmul", "mm_lane_width"]
