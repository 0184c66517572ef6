"""Per-operator converters: one ONNX node to tpusim ops, with static attributes.

This module holds element-wise, matrix, normalisation, reduction and pooling operators and
`CONVERTERS`, the whole table; data movement is in `onnx_layout`.

Each converter reads what it needs from the importer (`shape`, `value`) and adds ops with
`emit`, or an Opaque op with `opaque` for ONNX operators that canonicalisation rewrites (Gemm,
BatchNormalization, Identity, Dropout) or folds when their inputs are constants (Where, Equal,
ConstantOfShape, ...). A converter raises `Unsupported` when this use of the operator has no
tpusim form (a run-time reshape target, a 3-D convolution, ...); the importer then treats the
node as an unknown operator.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tpusim.frontend.onnx_layout import (
    LAYOUT_CONVERTERS,
    Converter,
    axes_of,
    ints,
    scalar_value,
)
from tpusim.frontend.onnx_proto import Node, Unsupported, element_dtype
from tpusim.ir.ops import COMPARE_MODES
from tpusim.ir.ops import OpKind as K

if TYPE_CHECKING:
    from tpusim.frontend.onnx_import import _Importer as Ctx


# ---- helpers -------------------------------------------------------------------------------


def _spatial(node: Node, key: str, default: int, n: int) -> tuple[int, ...]:
    return tuple(int(v) for v in node.attr(key, [default] * n))


def _window_pads(node: Node, size: tuple[int, ...], kernel: tuple[int, ...],
                 strides: tuple[int, ...], dilations: tuple[int, ...]) -> tuple[int, ...]:
    """(top, left, bottom, right) from `pads` or `auto_pad`."""
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for d, k, s, dil in zip(size, kernel, strides, dilations):
            total = max(0, (math.ceil(d / s) - 1) * s + (k - 1) * dil + 1 - d)
            small = total // 2
            begin.append(small if auto == "SAME_UPPER" else total - small)
            end.append(total - begin[-1])
        return (*begin, *end)
    if auto == "VALID":
        return (0,) * (2 * len(size))
    return tuple(int(p) for p in node.attr("pads", [0] * (2 * len(size))))


def _one_output(node: Node, ctx: Ctx) -> None:
    extra = [o for o in node.outputs[1:] if ctx.is_used(o)]
    if extra:
        raise Unsupported(f"its extra output {extra[0]!r} is used")


# ---- element-wise --------------------------------------------------------------------------


def _unary(kind: K, **fixed: Any) -> Converter:
    def convert(ctx: Ctx, node: Node) -> None:
        ctx.emit(node, kind, node.inputs[:1], node.outputs[0], **fixed)

    return convert


def _binary(kind: K) -> Converter:
    def convert(ctx: Ctx, node: Node) -> None:
        a, b = node.inputs[:2]
        attrs = {}
        scalars = [scalar_value(ctx, t) if ctx.is_constant(t) else None for t in (a, b)]
        if (scalars[0] is None) != (scalars[1] is None):  # recorded for canonicalisation
            attrs["scalar"] = scalars[0] if scalars[1] is None else scalars[1]
        ctx.emit(node, kind, [a, b], node.outputs[0], **attrs)

    return convert


def _variadic(kind: K) -> Converter:
    def convert(ctx: Ctx, node: Node) -> None:
        ins = [i for i in node.inputs if i]
        if len(ins) < 2:
            raise Unsupported(f"{node.op_type} of a single input")
        acc = ins[0]
        for i, t in enumerate(ins[1:], 1):
            last = i == len(ins) - 1
            acc = ctx.emit(node, kind, [acc, t], node.outputs[0] if last else None,
                           None if last else str(i))

    return convert


def _clip(ctx: Ctx, node: Node) -> None:
    if ctx.opset < 11:
        low, high = node.attr("min"), node.attr("max")
    else:
        ins = [*node.inputs, "", ""]
        low = scalar_value(ctx, ins[1]) if ins[1] else None
        high = scalar_value(ctx, ins[2]) if ins[2] else None
    ctx.emit(node, K.CLIP, node.inputs[:1], node.outputs[0], min=low, max=high)


def _hardsigmoid(ctx: Ctx, node: Node) -> None:
    ctx.emit(node, K.HARDSIGMOID, node.inputs[:1], node.outputs[0],
             alpha=float(node.attr("alpha", 0.2)), beta=float(node.attr("beta", 0.5)))


def _gelu(ctx: Ctx, node: Node) -> None:
    ctx.emit(node, K.GELU, node.inputs[:1], node.outputs[0],
             approximate=node.attr("approximate", "none"))


def _cast(ctx: Ctx, node: Node) -> None:
    ctx.emit(node, K.CAST, node.inputs[:1], node.outputs[0],
             to=element_dtype(node.attrs["to"]).value)


def _softmax(ctx: Ctx, node: Node) -> None:
    shape = ctx.shape(node.inputs[0])
    axis = node.attr("axis", -1 if ctx.opset >= 13 else 1) % len(shape)
    if ctx.opset >= 13 or axis == len(shape) - 1:
        ctx.emit(node, K.SOFTMAX, node.inputs[:1], node.outputs[0], axis=axis - len(shape))
        return
    # opset < 13: softmax over all axes from `axis` on, as one flattened row
    flat = ctx.emit(node, K.RESHAPE, node.inputs[:1], None, "flatten",
                    shape=(math.prod(shape[:axis]), math.prod(shape[axis:])))
    rows = ctx.emit(node, K.SOFTMAX, [flat], None, "softmax", axis=-1)
    ctx.emit(node, K.RESHAPE, [rows], node.outputs[0], shape=shape)


# ---- matrix and cube work ------------------------------------------------------------------


def _matmul(ctx: Ctx, node: Node) -> None:
    a, b = node.inputs[:2]
    sa, sb = ctx.shape(a), ctx.shape(b)
    if len(sa) >= 2 and len(sb) >= 2:
        ctx.emit(node, K.MATMUL, [a, b], node.outputs[0])
        return
    # a 1-D operand (numpy semantics): made a row or a column, the product reshaped back
    if len(sa) == 1:
        a = ctx.emit(node, K.RESHAPE, [a], None, "row", shape=(1, sa[0]))
    if len(sb) == 1:
        b = ctx.emit(node, K.RESHAPE, [b], None, "column", shape=(sb[0], 1))
    product = ctx.emit(node, K.MATMUL, [a, b], None, "matmul")
    out = (*np.broadcast_shapes(sa[:-2], sb[:-2]), *sa[-2:-1], *(sb[-1:] if len(sb) > 1 else ()))
    ctx.emit(node, K.RESHAPE, [product], node.outputs[0], shape=tuple(out) or (1,))


def _gemm(ctx: Ctx, node: Node) -> None:
    sa, sb = ctx.shape(node.inputs[0]), ctx.shape(node.inputs[1])
    if len(sa) != 2 or len(sb) != 2:
        raise Unsupported("Gemm needs 2-D operands")
    trans_a, trans_b = int(node.attr("transA", 0)), int(node.attr("transB", 0))
    m = sa[1] if trans_a else sa[0]
    n = sb[0] if trans_b else sb[1]
    ctx.opaque(node, [(m, n)], transA=trans_a, transB=trans_b,
               alpha=float(node.attr("alpha", 1.0)), beta=float(node.attr("beta", 1.0)))


def _windowed_rank(ctx: Ctx, node: Node) -> tuple[int, ...]:
    shape = ctx.shape(node.inputs[0])
    if len(shape) not in (3, 4):
        raise Unsupported(f"{node.op_type} on a {len(shape)}-D input (tpusim models the 1-D "
                          "and 2-D forms)")
    return shape


def _as_2d(ctx: Ctx, node: Node, name: str, what: str) -> str:
    """A 1-D window operand [N, C, L] seen as 2-D, [N, C, 1, L] (as tpu-mlir does)."""
    n, c, length = ctx.shape(name)
    return ctx.emit(node, K.RESHAPE, [name], None, what, shape=(n, c, 1, length))


def _to_1d(ctx: Ctx, node: Node, y: str) -> None:
    n, c, _, length = ctx.shape(y)
    ctx.emit(node, K.RESHAPE, [y], node.outputs[0], shape=(n, c, length))


def _conv(ctx: Ctx, node: Node) -> None:
    x = _windowed_rank(ctx, node)
    w = ctx.shape(node.inputs[1])
    strides = _spatial(node, "strides", 1, len(x) - 2)
    dilations = _spatial(node, "dilations", 1, len(x) - 2)
    pads = _window_pads(node, x[2:], tuple(w[2:]), strides, dilations)
    inputs = [i for i in node.inputs[:3] if i]
    group = int(node.attr("group", 1))
    if len(x) == 4:
        ctx.emit(node, K.CONV2D, inputs, node.outputs[0], strides=strides, pads=pads,
                 dilations=dilations, group=group)
        return
    inputs[:2] = _as_2d(ctx, node, inputs[0], "to_2d"), _as_2d(ctx, node, inputs[1], "weight_2d")
    y = ctx.emit(node, K.CONV2D, inputs, None, "conv2d", strides=(1, *strides),
                 pads=(0, pads[0], 0, pads[1]), dilations=(1, *dilations), group=group)
    _to_1d(ctx, node, y)


def _batchnorm(ctx: Ctx, node: Node) -> None:
    _one_output(node, ctx)
    ctx.opaque(node, [ctx.shape(node.inputs[0])] * len([o for o in node.outputs if o]),
               epsilon=float(node.attr("epsilon", 1e-5)))


def _layernorm(ctx: Ctx, node: Node) -> None:
    _one_output(node, ctx)
    inputs = [i for i in node.inputs[:3] if i]
    ctx.emit(node, K.LAYERNORM, inputs, node.outputs[0], axis=int(node.attr("axis", -1)),
             eps=float(node.attr("epsilon", 1e-5)))


# ---- reductions and pooling ----------------------------------------------------------------


def _reduce(kind: K, attr_until: int) -> Converter:
    def convert(ctx: Ctx, node: Node) -> None:
        rank = len(ctx.shape(node.inputs[0]))
        attr = "axes" if ctx.opset < attr_until else None
        axes = ints(ctx, node, 1, attr, "axes")
        if not axes:
            if node.attr("noop_with_empty_axes", 0):
                raise Unsupported("a reduction over no axes")
            axes = list(range(rank))
        ctx.emit(node, kind, node.inputs[:1], node.outputs[0], axes=axes_of(axes, rank),
                 keepdims=bool(node.attr("keepdims", 1)))

    return convert


def _ceil_mode_pads(size: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...],
                    pads: tuple[int, ...]) -> tuple[int, ...]:
    """End pads that make floor rounding give ceil_mode's output size."""
    out_pads = list(pads)
    for i, (d, k, s) in enumerate(zip(size, kernel, strides)):
        begin, end = pads[i], pads[i + len(size)]
        out = -(-(d + begin + end - k) // s) + 1
        if (out - 1) * s >= d + begin:
            out -= 1  # the last window must start inside the input
        out_pads[i + len(size)] = max(end, (out - 1) * s + k - d - begin)
    return tuple(out_pads)


def _pool(kind: K) -> Converter:
    def convert(ctx: Ctx, node: Node) -> None:
        _one_output(node, ctx)
        x = _windowed_rank(ctx, node)
        kernel = tuple(int(k) for k in node.attrs["kernel_shape"])
        strides = _spatial(node, "strides", 1, len(kernel))
        if any(d != 1 for d in _spatial(node, "dilations", 1, len(kernel))):
            raise Unsupported("dilated pooling")
        pads = _window_pads(node, x[2:], kernel, strides, (1,) * len(kernel))
        if node.attr("ceil_mode", 0):
            pads = _ceil_mode_pads(x[2:], kernel, strides, pads)
        if len(x) == 4:
            ctx.emit(node, kind, node.inputs[:1], node.outputs[0], kernel=kernel,
                     strides=strides, pads=pads)
            return
        y = ctx.emit(node, kind, [_as_2d(ctx, node, node.inputs[0], "to_2d")], None, "pool2d",
                     kernel=(1, *kernel), strides=(1, *strides), pads=(0, pads[0], 0, pads[1]))
        _to_1d(ctx, node, y)

    return convert


def _global_pool(kind: K, reduce: K) -> Converter:
    """A pool over the whole map (tpu-mlir's form) in 2-D; a reduction otherwise."""
    def convert(ctx: Ctx, node: Node) -> None:
        x = ctx.shape(node.inputs[0])
        if len(x) == 4:
            ctx.emit(node, kind, node.inputs[:1], node.outputs[0], kernel=(x[2], x[3]),
                     strides=(1, 1), pads=(0, 0, 0, 0))
        else:
            ctx.emit(node, reduce, node.inputs[:1], node.outputs[0],
                     axes=tuple(range(2, len(x))), keepdims=True)

    return convert


# ---- operators only canonicalisation handles -----------------------------------------------


def _same_shape(ctx: Ctx, node: Node) -> None:
    """Identity, Dropout: removed by canonicalisation."""
    shape = ctx.shape(node.inputs[0])
    ctx.opaque(node, [shape] * len([o for o in node.outputs if o]))


def _compare(ctx: Ctx, node: Node) -> None:
    """Comparisons and logic on masks (canonicalisation folds them on constants, as Swin's
    attention mask)."""
    ctx.emit(node, K.COMPARE, node.inputs[:2], node.outputs[0], mode=node.op_type)


def _where(ctx: Ctx, node: Node) -> None:
    ctx.emit(node, K.WHERE, node.inputs[:3], node.outputs[0])


def _constant_of_shape(ctx: Ctx, node: Node) -> None:
    shape = ints(ctx, node, 0, None, "shape")
    ctx.opaque(node, [tuple(shape or ()) or (1,)],
               reason="ConstantOfShape feeding run-time work is not supported")


CONVERTERS: dict[str, Converter] = {
    **LAYOUT_CONVERTERS,
    "Relu": _unary(K.RELU),
    "Sigmoid": _unary(K.SIGMOID),
    "Tanh": _unary(K.TANH),
    "Erf": _unary(K.ERF),
    "Exp": _unary(K.EXP),
    "Log": _unary(K.LOG),
    "Sqrt": _unary(K.SQRT),
    "Abs": _unary(K.ABS),
    "Neg": _unary(K.MULCONST, const=-1.0),
    "HardSwish": _unary(K.HARDSWISH),
    "HardSigmoid": _hardsigmoid,
    "Gelu": _gelu,
    "Clip": _clip,
    "Cast": _cast,
    "Softmax": _softmax,
    "Add": _binary(K.ADD),
    "Sub": _binary(K.SUB),
    "Mul": _binary(K.MUL),
    "Div": _binary(K.DIV),
    "Pow": _binary(K.POW),
    "Sum": _variadic(K.ADD),
    "Max": _variadic(K.MAX),
    "Min": _variadic(K.MIN),
    "MatMul": _matmul,
    "Gemm": _gemm,
    "Conv": _conv,
    "BatchNormalization": _batchnorm,
    "LayerNormalization": _layernorm,
    "ReduceMean": _reduce(K.REDUCE_MEAN, 18),
    "ReduceSum": _reduce(K.REDUCE_SUM, 13),
    "ReduceMax": _reduce(K.REDUCE_MAX, 18),
    "MaxPool": _pool(K.MAXPOOL),
    "AveragePool": _pool(K.AVGPOOL),
    "GlobalAveragePool": _global_pool(K.AVGPOOL, K.REDUCE_MEAN),
    "GlobalMaxPool": _global_pool(K.MAXPOOL, K.REDUCE_MAX),
    "Identity": _same_shape,
    "Dropout": _same_shape,
    "ConstantOfShape": _constant_of_shape,
    **{mode: _compare for mode in COMPARE_MODES},
    "Not": _unary(K.NOT),
    "Where": _where,
}
