"""Which operators may run locally (inside a layer group) and how they may be sliced.

tpu-mlir decides the first with each operator's LocalGenSupport() and the second with
AllowDataSplit(axis) (bm1684x.md 3.1). The table below restates the BM1684X rules; the
compiler options of the Swin-T study switch some of them on.

Slicing axes are the output's dims 0, 1 and 2 (n, c and h of tpu-mlir's left-aligned NCHW
view). Local reshapes keep dims 0 and 1, so every tensor of a group shares them.
"""

from __future__ import annotations

from collections.abc import Callable

from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, Op
from tpusim.ir.ops import ELEMENTWISE, OpKind
from tpusim.options import Options

N, C, H = 0, 1, 2


def _same_leading_dims(g: Graph, op: Op) -> bool:
    src, dst = g.tensors[op.inputs[0]].shape, g.tensors[op.outputs[0]].shape
    return len(src) >= 2 and len(dst) >= 2 and src[:2] == dst[:2]


def _matmul(g: Graph, op: Op, opts: Options) -> bool:
    a, b = (g.tensors[t] for t in op.inputs[:2])
    if a.dtype is DType.F32:
        return False  # LocalGenSupport rejects F32 input on BM1684X
    if b.is_constant and len(b.shape) == 2:
        return True  # activation x 2-D weight
    if op.attr("hdim_is_batch"):
        return len(a.shape) == len(b.shape) == 4  # (B1, M, B2, K) x (B1, K, B2, N)
    # 3-D x 3-D: bm1684x.md reads the rule as batch 1 only, but tpu-mlir 1.30.2 groups
    # batched attention products ([192,49,32] x [192,32,49] in tpu-mlir/micro), so any batch.
    return len(a.shape) == len(b.shape) == 3 and a.shape[0] == b.shape[0]


def _slice(g: Graph, op: Op, opts: Options) -> bool:
    shape = g.tensors[op.inputs[0]].shape
    sliced = [i for i, (d, b, e, s) in enumerate(zip(shape, op.attr("starts"), op.attr("ends"),
                                                      op.attr("steps")))
              if (b, min(e, d), s) != (0, d, 1)]
    if len(shape) == 5:  # 3-D group layout [n, c, d, h*w]: slicing d stays inside each lane
        return opts.slice5d_local and sliced == [2]
    return len(shape) in (3, 4) and op.attr("steps")[1] == 1 and N not in sliced


def _reduce(g: Graph, op: Op, opts: Options) -> bool:
    rank = len(g.tensors[op.inputs[0]].shape)
    return rank == 4 and {a % rank for a in op.attr("axes")} == {2, 3}


_LOCAL: dict[OpKind, Callable[[Graph, Op, Options], bool]] = {
    OpKind.MATMUL: _matmul,
    OpKind.CONV2D: lambda g, op, o: True,
    OpKind.MAXPOOL: lambda g, op, o: True,
    OpKind.AVGPOOL: lambda g, op, o: True,
    OpKind.LAYERNORM: lambda g, op, o: 1 <= op.attr("axis", -1) % len(
        g.tensors[op.inputs[0]].shape) <= 4,
    OpKind.SOFTMAX: lambda g, op, o: len(g.tensors[op.inputs[0]].shape) == 4 and op.attr(
        "axis", -1) % 4 in (2, 3),
    # Local reshapes keep dims 0 and 1; the article's grouping of MatMul -> Reshape(5-D) ->
    # Slice -> Squeeze implies the rank may change (tpu-mlir HEAD only allows <=4 -> <=4).
    OpKind.RESHAPE: lambda g, op, o: _same_leading_dims(g, op),
    OpKind.SQUEEZE: lambda g, op, o: o.squeeze_local and _same_leading_dims(g, op),
    OpKind.UNSQUEEZE: lambda g, op, o: o.squeeze_local and _same_leading_dims(g, op),
    OpKind.SLICE: _slice,
    OpKind.CONCAT: lambda g, op, o: op.attr("axis") % len(g.tensors[op.outputs[0]].shape) != 0,
    OpKind.REDUCE_MEAN: _reduce,
    OpKind.REDUCE_SUM: _reduce,
    OpKind.REDUCE_MAX: _reduce,
    # nearest-neighbour upsampling (tpu.Upsample) runs in groups; interpolation (tpu.Interp)
    # runs alone
    OpKind.UPSAMPLE: lambda g, op, o: op.attr("mode", "nearest") == "nearest",
    # Permute has no LocalGenInterface, but tpu-mlir 1.30 folds a Permute that swaps dims 1
    # and 2 of a 4-D tensor into the Load that brings its input into a group (a strided GDMA
    # load, `indexing_map_s2l`: ERNIE's INT8 attention); `build` only lets it start a group.
    # Pad, Gather, Expand and ScatterND are global.
    OpKind.PERMUTE: lambda g, op, o: is_load_permute(op),
}


def is_load_permute(op: Op) -> bool:
    """A Permute a group's Load can do (see _LOCAL)."""
    return op.kind is OpKind.PERMUTE and tuple(op.attr("order")) == (0, 2, 1, 3)


def is_local(g: Graph, op: Op, opts: Options) -> bool:
    """May `op` run inside a layer group (tpu-mlir's LocalGenSupport)?"""
    if op.kind in ELEMENTWISE:
        return _elementwise_local(g, op)
    rule = _LOCAL.get(op.kind)
    return bool(rule and rule(g, op, opts))


def _elementwise_local(g: Graph, op: Op) -> bool:
    out = g.tensors[op.outputs[0]]
    if len(out.shape) > 5:
        return False
    if len(out.shape) == 5 and op.kind not in (OpKind.CAST,) and any(
            g.tensors[t].shape != out.shape for t in op.inputs):
        return out.dtype in (DType.F32, DType.F16, DType.BF16)  # 5-D broadcast: floats only
    return True


def split_axes(g: Graph, op: Op, opts: Options) -> frozenset[int]:
    """Output dims (0, 1, 2) along which the op's slices can be computed independently."""
    out = g.tensors[op.outputs[0]].shape
    rank = len(out)
    axes = set(range(min(rank, 3)))
    kind = op.kind
    if kind is OpKind.MATMUL:
        a = g.tensors[op.inputs[0]].shape
        if op.attr("hdim_is_batch"):
            axes = {N, H}
        elif g.tensors[op.inputs[1]].is_constant and len(g.tensors[op.inputs[1]].shape) == 2:
            axes = set(range(min(len(a) - 1, 3)))  # every dim but K
        else:
            axes = {N}  # batched products: both operands cut along the batch
    elif kind in (OpKind.CONV2D, OpKind.MAXPOOL, OpKind.AVGPOOL):
        axes = {N, H}
    elif kind in (OpKind.LAYERNORM, OpKind.SOFTMAX):
        axis = op.attr("axis", -1) % rank
        axes = {a for a in axes if a < axis} if kind is OpKind.LAYERNORM else axes - {axis}
    elif kind in (OpKind.RESHAPE, OpKind.SQUEEZE, OpKind.UNSQUEEZE):
        axes = {N, C}
    elif kind is OpKind.SLICE:
        shape = g.tensors[op.inputs[0]].shape
        axes -= {i for i in range(min(rank, 3)) if shape[i] != out[i]}
    elif kind is OpKind.CONCAT:
        axes.discard(op.attr("axis") % rank)
    elif kind in (OpKind.REDUCE_MEAN, OpKind.REDUCE_SUM, OpKind.REDUCE_MAX):
        axes -= {a % rank for a in op.attr("axes")}
    elif kind is OpKind.UPSAMPLE:
        axes = {a for a in axes if op.attr("scales")[a] == 1}
    elif kind is OpKind.PERMUTE:  # dims 1 and 2 trade places
        axes = {N}
    if kind in ELEMENTWISE and not opts.weight_split:
        axes -= _weight_blocked_axes(g, op)
    return frozenset(axes)


def _weight_blocked_axes(g: Graph, op: Op) -> set[int]:
    """Axes a held (unsplittable) weight operand spans fully: slicing them would need a slice
    of the weight, which only `allow_split` provides."""
    out = g.tensors[op.outputs[0]].shape
    blocked: set[int] = set()
    for name in op.inputs:
        t = g.tensors[name]
        if not t.is_constant or t.numel == 1:
            continue
        shape = (1,) * (len(out) - len(t.shape)) + t.shape
        blocked.update(a for a in range(min(len(out), 3)) if shape[a] == out[a] > 1)
    return blocked
