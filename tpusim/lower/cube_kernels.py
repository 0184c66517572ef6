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
from tpusim.lower.layout import dma_rows, flat_view, lane_bytes
from tpusim.lower.sequences import bias_add, cast, requant, softmax

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


def _lane_width(m: int, k: int, n: int, dt: DType, weight_right: bool, chip: Chip) -> int:
    """MM's output block width, or 0 for MM2. F32 products always run as MM. Other products
    with a constant weight take MM when it is faster: when their rows are too few to fill the
    cube's lanes (a classifier's single row), MM spreads the outputs over the lanes instead,
    after converting a 16-bit weight to f32 (vendor: VGG-16's and ERNIE's M = 1 Linear layers
    run as MM at F16 and INT8; every other Linear as MM2)."""
    width = mm_lane_width(m, k, n, chip)
    if dt is DType.F32:
        return width
    if not weight_right:
        return 0
    lanes = tiu_ns(MatMul(m, k, n, dt, lane_width=width), chip)
    if dt.is_float:
        lanes += sum(tiu_ns(w, chip) for w in _to_f32(dt, k * n, chip))
    return width if lanes < tiu_ns(MatMul(m, k, n, dt), chip) else 0


def _to_f32(dt: DType, elements: int, chip: Chip) -> list[TiuWork]:
    """Converting `elements` 16-bit values spread over the lanes to f32 (for MM)."""
    return cast(dt, DType.F32, flat_view(elements, chip), local=False) if dt.is_float and \
        dt is not DType.F32 else []


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
    rows_total = math.prod(batch) * m
    width = _lane_width(rows_total if weight_right else m, k, n, dt, weight_right, chip)
    seg = 16 if width else 0  # MM reads the left operand in 16-element segments

    def left(rows: int, depth: int = k) -> tuple:
        if width:
            return load(a.name, rows * math.ceil(depth / seg), seg * dt.bytes, "GDMA_MATRIX")
        return load(a.name, rows, depth * dt.bytes)

    def output(rows: int) -> tuple:
        if width:
            return store(out.name, rows * math.ceil(n / width), width * od.bytes,
                         "GDMA_MATRIX")
        return store(out.name, rows, n * od.bytes)

    def epilogue(view: tuple[int, int, int, int]) -> list[TiuWork]:
        works: list[TiuWork] = []
        if bias is not None and not width:
            works += bias_add(view, dt)
        return works + (requant(view, False) if dt is DType.INT8 else [])

    def cube(rows: int, batches: int) -> list[TiuWork]:
        works: list[TiuWork] = _to_f32(dt, rows * k, chip) if width else []
        works.append(MatMul(rows, k, n, dt, batches, width, bias is not None and bool(width)))
        return works + epilogue((batches, rows, 1, n))

    def out_bytes(rows: int) -> int:
        if width:  # rows x W outputs on each of ceil(N / W) lanes
            return rows * math.ceil(math.ceil(n / width) / chip.npu_count) * width * 4
        return lane_bytes((1, rows, n, 1), od, chip)

    def accumulator(rows: int) -> int:
        return lane_bytes((1, rows, n, 1), DType.INT32, chip) if dt is DType.INT8 else 0

    def weight(depth: int) -> tuple:
        """`depth` rows of the weight: an F32 MM reads them in blocks of W columns; other
        types read whole rows (their MM weights are laid out for it in DDR)."""
        if width and dt is DType.F32:
            return load(b.name, depth * math.ceil(n / width), width * 4, "GDMA_MATRIX")
        return load(b.name, depth, n * b.dtype.bytes, "GDMA_MATRIX" if width else
                    "GDMA_TENSOR")

    # MM converts a 16-bit weight to f32 on the lanes, doubling what it holds
    widen = 2 if width and dt.is_float and dt is not DType.F32 else 1
    if weight_right and math.ceil(b.nbytes * widen / chip.npu_count) > \
            chip.lmem_bytes_per_npu // 2:
        # A weight too large to hold streams through in chunks of its rows (K), each chunk's
        # product added to the outputs, which stay in local memory until the last chunk
        # (vendor: VGG-16's 25088 x 4096 F32 Linear in 196 chunks of 128 rows, all 4096
        # outputs over the lanes).
        def make_chunk(sizes: tuple[int, ...]) -> Tile:
            r, depth = sizes
            w_load = weight(depth)
            if width:
                blocks = math.ceil(math.ceil(n / width) / chip.npu_count)
                chunk = depth * blocks * width * 4  # converted to f32 on the lanes
                works: list[TiuWork] = [*_to_f32(dt, depth * (r + n), chip),
                                        MatMul(r, depth, n, dt, 1, width, True)]
                a_bytes = r * depth * 4
            else:
                chunk = math.ceil(depth * n * b.dtype.bytes / chip.npu_count)
                works = [MatMul(r, depth, n, dt)]
                a_bytes = lane_bytes((1, r, depth, 1), dt, chip)
            lmem = chunk + a_bytes + out_bytes(r) + accumulator(r)
            return Tile((left(r, depth), w_load), tuple(works), (output(r),), lmem,
                        finish=tuple(epilogue((1, r, 1, n))))

        return KernelPlan((rows_total, k), tuple(held), held_bytes, make_chunk,
                          reduction=True, split_order=(1, 0))

    if weight_right:
        held.append(weight(k))
        held_prologue = _to_f32(dt, k * n, chip) if width else []
        held_bytes += math.ceil(b.nbytes * widen / chip.npu_count)

        def make(sizes: tuple[int, ...]) -> Tile:
            r = sizes[0]
            # MM broadcasts each left row to every lane, so each lane holds the whole chunk
            a_bytes = r * k * 4 if width else lane_bytes((1, r, k, 1), dt, chip)
            return Tile((left(r),), tuple(cube(r, 1)), (output(r),),
                        a_bytes + out_bytes(r) + accumulator(r))

        return KernelPlan((rows_total,), tuple(held), held_bytes, make,
                          prologue=tuple(held_prologue))

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


def attention(op: Op, g: Graph, chip: Chip) -> KernelPlan:
    """A fused attention (tpu-mlir's FAttention) over tiles of heads: q, k and v loaded as
    each head's rows of D elements (strided), the mask with them; per head an MM2 of q by k^T;
    the scale, the mask and a softmax over every head's scores at once; per head an MM2 by v;
    one store (vendor: ERNIE's F16 FAttention, 12 + 12 MM2 of 128 cycles around the softmax's
    AR, PorD and SFU, loads, compute and store one after the other)."""
    q, k, v = (g.tensors[t] for t in op.inputs[:3])
    mask = g.tensors[op.inputs[3]] if len(op.inputs) > 3 else None
    out = g.tensors[op.outputs[0]]
    batch, m, heads, d = q.shape
    n = k.shape[1]
    dt = q.dtype

    def make(sizes: tuple[int, ...]) -> Tile:
        pairs = sizes[0]  # (batch, head) pairs in the tile
        loads = [load(q.name, pairs * m, d * dt.bytes), load(k.name, pairs * n, d * dt.bytes),
                 load(v.name, pairs * n, d * dt.bytes)]
        rows = pairs * m  # score rows, over the lanes
        lanes = min(rows, chip.npu_count)
        per_lane = -(-rows // lanes)
        score = (1, lanes, per_lane, n)
        works: list[TiuWork] = [MatMul(m, d, n, dt) for _ in range(pairs)]
        works.append(Arith(*score, dt, "scale", aligned=True))
        if mask is not None:
            loads.append(load(mask.name, mask.numel // n, n * mask.dtype.bytes))
            works.append(Arith(*score, dt, "mask", aligned=True))
        works += softmax(*score, dt, chip)
        works += [MatMul(m, n, d, dt) for _ in range(pairs)]
        whole = min(pairs, heads)  # heads of one batch stored side by side
        stores = (store(out.name, max(1, pairs // heads) * m, whole * d * out.dtype.bytes),)
        lmem = (lane_bytes((1, rows, 1, d), dt, chip) + 2 * lane_bytes((1, pairs * n, 1, d),
                                                                         dt, chip)
                + 2 * lane_bytes(score, DType.F32, chip) + lane_bytes((1, rows, 1, d), dt, chip))
        return Tile(tuple(loads), tuple(works), stores, lmem)

    return KernelPlan((batch * heads,), (), 0, make, serial=True)


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

    def input_rows(nt: int, iht: int, ict: int = ch) -> tuple[int, int]:
        rows, _ = dma_rows(x.shape, (nt, ict, iht, iw), dt)
        rows = max(rows, nt * ict)  # one row per lane channel at least
        return rows, nt * ict * iht * iw * dt.bytes // rows

    whole_in = lane_bytes(x.shape, dt, chip)
    group = op.attr("group", 1)
    if not pool and group == 1:
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

        # the whole input, and two chunks of a lane's channels (one loading, one computing)
        chunk = make_chunk((min(oc, chip.npu_count),)).lmem_bytes
        if whole_in + 2 * chunk <= chip.lmem_bytes_per_npu:
            held = (load(x.name, *input_rows(batch, ih)),)
            return KernelPlan((oc,), held, whole_in, make_chunk, max_tile=chip.npu_count,
                              prologue=tuple(prologue))

    held: list = []
    held_bytes = 0
    weight_bytes = 0 if pool else lane_bytes((1, oc, per_oc, 1), w.dtype, chip)
    if not pool and group == 1 and weight_bytes > chip.lmem_bytes_per_npu // 2:
        # Weights too large to hold: tiles of output channels, each with its weights, and of
        # input channels when even so a row does not fit, their products summed (tpu-mlir
        # splits a convolution along its output and input channels).
        def make_split(sizes: tuple[int, ...]) -> Tile:
            oct_, nt, oht, ict = sizes
            iht = min(ih, (oht - 1) * sh + (kh - 1) * dh + 1)
            view = (nt, oct_, oht, ow)
            loads = [load(w.name, oct_, ict * kh * kw * w.dtype.bytes),
                     load(x.name, *input_rows(nt, iht, ict))]
            if bias is not None:
                loads.append(load(bias.name, oct_, bias.dtype.bytes))
            conv = conv_works((nt, ict, iht, iw), (oct_, ict, kh, kw), view, 1, dt, chip)[1]
            lmem = (lane_bytes((1, oct_, ict * kh * kw, 1), w.dtype, chip)
                    + lane_bytes((nt, ict, iht, iw), dt, chip)
                    + lane_bytes(view, DType.INT32 if dt is DType.INT8 else out.dtype, chip))
            finish = bias_add(view, dt) + requant(view, False) if dt is DType.INT8 else []
            return Tile(tuple(loads), tuple(conv),
                        (store(out.name, nt * oct_, oht * ow * out.dtype.bytes),), lmem,
                        finish=tuple(finish))

        return KernelPlan((oc, batch, oh_full, ch), (), 0, make_split, reduction=True,
                          split_order=(0, 1, 2, 3), prologue=tuple(prologue))

    if not pool:
        held.append(load(w.name, oc, per_oc * w.dtype.bytes))
        held_bytes += weight_bytes
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


__all__ = ["attention", "conv", "conv_works", "matmul", "mm_lane_width"]
