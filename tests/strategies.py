"""Hypothesis strategies: small random graphs and random valid chip profiles.

Graphs are chains with branches: element-wise ops (unary, and binary with an earlier tensor of
the same shape or a broadcast weight), MatMuls with a weight or with the activation's own
transpose, convolutions (dense or depthwise, with or without bias), Softmax and LayerNorm,
Reshapes and Permutes, from a random input shape of rank 2 to 4. The input is kept to at most
2^17 elements, so an example compiles in a fraction of a second.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from tpusim.hw.chip import Chip
from tpusim.ir import GraphBuilder, OpKind
from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, TensorKind

K = OpKind
UNARY = [K.RELU, K.SIGMOID, K.GELU, K.EXP, K.TANH, K.SILU, K.ABS, K.MULCONST, K.ADDCONST]
BINARY = [K.ADD, K.MUL, K.SUB, K.MAX]
STEPS = ["unary", "binary", "matmul", "self_matmul", "conv", "norm", "reshape", "permute"]
DIMS = [1, 2, 3, 4, 7, 8, 16, 24, 33, 64, 100, 257]
MAX_INPUT_ELEMENTS = 1 << 17
PRECISIONS = ["f32", "f16", "bf16", "int8"]


def _input_shape(draw: st.DrawFn) -> list[int]:
    rank = draw(st.integers(2, 4))
    dims = draw(st.lists(st.sampled_from(DIMS), min_size=rank, max_size=rank))
    if rank == 4:  # a feature map: channels as convolutions have them
        dims[1] = draw(st.sampled_from([1, 3, 8, 16, 32, 64]))
    while math.prod(dims) > MAX_INPUT_ELEMENTS:
        i = dims.index(max(dims))
        dims[i] = max(1, dims[i] // 2)
    return dims


def _reshape_target(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Another factorisation of the element count, of rank 2 to 4."""
    total = math.prod(shape)
    pairs = [(a, total // a) for a in range(2, total) if total % a == 0]
    target = list(draw(st.sampled_from(pairs))) if pairs else [1, total]
    if draw(st.booleans()):
        target = [1, *target]  # a leading unit dim, as a batch
    return tuple(target)


def _step(draw: st.DrawFn, g: GraphBuilder, x: str, i: int) -> str:
    shape = g.tensors[x].shape
    step, name = draw(st.sampled_from(STEPS)), f"op{i}"
    if step == "unary":
        kind = draw(st.sampled_from(UNARY))
        attrs = {"const": 2.0} if kind in (K.MULCONST, K.ADDCONST) else {}
        return g.op(kind, [x], name, **attrs)
    if step == "binary":
        same = [t for t, v in g.tensors.items()
                if v.shape == shape and v.kind is TensorKind.ACTIVATION]
        if draw(st.booleans()):
            other = draw(st.sampled_from(same))
        else:
            other = g.weight(f"w{i}", tuple(d if draw(st.booleans()) else 1 for d in shape))
        return g.op(draw(st.sampled_from(BINARY)), [x, other], name)
    if step == "matmul":
        n = draw(st.sampled_from([1, 8, 32, 96, 130]))
        ins = [x, g.weight(f"w{i}", (shape[-1], n))]
        if draw(st.booleans()):
            ins.append(g.weight(f"b{i}", (n,)))
        return g.op(K.MATMUL, ins, name)
    if step == "self_matmul":  # activation x activation, as attention's products
        order = list(range(len(shape)))
        order[-1], order[-2] = order[-2], order[-1]
        t = g.op(K.PERMUTE, [x], f"{name}.t", order=tuple(order))
        return g.op(K.MATMUL, [x, t], name)
    if step == "conv" and len(shape) == 4:
        k, s = draw(st.sampled_from([1, 3, 5])), draw(st.sampled_from([1, 2]))
        p = draw(st.integers(0, k // 2))
        if min(shape[2], shape[3]) + 2 * p >= k:
            groups = shape[1] if draw(st.booleans()) else 1  # depthwise or dense
            oc = shape[1] if groups > 1 else draw(st.sampled_from([4, 16, 64, 96]))
            ins = [x, g.weight(f"w{i}", (oc, shape[1] // groups, k, k))]
            if draw(st.booleans()):
                ins.append(g.weight(f"b{i}", (oc,)))
            return g.op(K.CONV2D, ins, name, strides=(s, s), pads=(p, p, p, p), group=groups)
    if step == "norm":
        if draw(st.booleans()):
            return g.op(K.SOFTMAX, [x], name, axis=-1)
        d = shape[-1]
        return g.op(K.LAYERNORM, [x, g.weight(f"g{i}", (d,)), g.weight(f"b{i}", (d,))], name,
                    axis=-1, eps=1e-5)
    if step == "reshape":
        return g.op(K.RESHAPE, [x], name, shape=_reshape_target(draw, shape))
    if step == "permute":
        return g.op(K.PERMUTE, [x], name, order=tuple(draw(st.permutations(range(len(shape))))))
    return x  # a convolution that does not apply to this shape


@st.composite
def graphs(draw: st.DrawFn, max_ops: int = 6) -> Graph:
    g = GraphBuilder("random")
    x = g.input("x", _input_shape(draw), draw(st.sampled_from([DType.F32, DType.F16])))
    for i in range(draw(st.integers(1, max_ops))):
        x = _step(draw, g, x, i)
    g.output(x)
    return g.build()


@st.composite
def chips(draw: st.DrawFn, base: Chip) -> Chip:
    """`base` with its structure, rates, efficiencies, latencies and chip timing drawn from
    sensible ranges (down to local memories too small for some ops: a CompileError is a valid
    outcome)."""
    banks = draw(st.sampled_from([4, 8, 16, 32]))
    fraction = st.floats(0.05, 1.0)
    return base.replace(
        npu_count=draw(st.sampled_from([4, 8, 16, 32, 64])),
        eu_bytes=draw(st.sampled_from([4, 16, 32, 64, 128])),
        lmem_banks=banks,
        lmem_bytes_per_npu=banks * draw(st.sampled_from([512, 1024, 4096, 16384, 32768])),
        ddr_tensor_align_bytes=draw(st.sampled_from([1, 64, 4096])),
        tiu_mhz=draw(st.floats(100, 3000)),
        gdma_mhz=draw(st.floats(100, 3000)),
        cube_int8_macs_per_cycle=draw(st.sampled_from([1024, 4096, 16384, 65536])),
        cube_f16_macs_per_cycle=draw(st.sampled_from([512, 2048, 8192, 32768])),
        cube_f32_macs_per_cycle=draw(st.sampled_from([64, 256, 1024, 4096])),
        cube_int8_columns=draw(st.sampled_from([1, 2, 4, 8])),
        cube_f16_columns=draw(st.sampled_from([1, 2, 4, 8])),
        cube_f32_columns=draw(st.sampled_from([1, 4, 16])),
        sfu_exp_f32_passes=draw(st.floats(1, 40)),
        ar_divide_passes=draw(st.floats(1, 40)),
        flat_tile_unit_elems=draw(st.sampled_from([1, 16, 256, 1024])),
        lut_elems_per_cycle_per_npu=draw(st.floats(0.1, 8)),
        ddr_gbps=draw(st.floats(1, 1024)),
        ddr_read_efficiency=draw(fraction),
        ddr_write_efficiency=draw(fraction),
        gdma_tensor_efficiency=draw(fraction),
        ddr_copy_efficiency=draw(fraction),
        ddr_min_access_bytes=draw(st.sampled_from([1, 32, 64, 256, 512])),
        ddr_short_row_bytes=draw(st.sampled_from([1, 64, 128, 512])),
        ddr_store_merge_bytes=draw(st.sampled_from([1, 8, 32])),
        gdma_accesses_in_flight=draw(st.integers(1, 8)),
        gdma_bytes_per_cycle=draw(st.sampled_from([8.0, 32.0, 64.0, 128.0])),
        tiu_startup_cycles=draw(st.floats(0, 200)),
        gdma_startup_cycles=draw(st.floats(0, 500)),
        sync_latency_cycles=draw(st.floats(0, 50)),
        chip_conv_kernel_efficiency=draw(fraction),
        chip_short_row_cost=draw(st.floats(0.0, 1.0)),
        chip_contention=draw(st.floats(0.0, 1.0)),
        chip_lmem_bank_conflict=draw(st.floats(0.0, 1.0)),
        chip_ddr_turnaround_ns=draw(st.floats(0.0, 100.0)),
    )
