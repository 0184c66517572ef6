"""tpu-mlir operators as tpusim IR ops: the kind, the operands that carry data, the attributes.

The file says each operator's tensor types; this module says which tpusim `OpKind` (and so
which kernel and cost rule) stands for each tpu dialect operator. Operators with no rule become
`OpKind.OPAQUE` (costed as memory-bound element-wise work), and the caller warns about them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tpusim.errors import ModelError
from tpusim.frontend.mlir_model import MlirOp, OpaqueAttr, TensorType
from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Op, Tensor, TensorKind
from tpusim.ir.ops import OpKind

_BINARY = {"Add": OpKind.ADD, "Sub": OpKind.SUB, "Mul": OpKind.MUL, "Div": OpKind.DIV,
           "Max": OpKind.MAX, "Min": OpKind.MIN, "Pow": OpKind.POW}
# One pass of element-wise arithmetic each: requantising and casting are conversions; MulShift
# is an int8 multiply and shift.
_UNARY = {"MulConst": OpKind.MULCONST, "AddConst": OpKind.ADDCONST, "SubConst": OpKind.ADDCONST,
          "MulShift": OpKind.MULCONST, "Cast": OpKind.CAST, "RequantInt": OpKind.CAST,
          "RequantIntAxis": OpKind.CAST, "RequantFp": OpKind.CAST, "RequantFpAxis": OpKind.CAST,
          "DequantInt": OpKind.CAST, "DequantIntAxis": OpKind.CAST, "Relu": OpKind.RELU,
          "Clip": OpKind.CLIP, "Abs": OpKind.ABS, "Exp": OpKind.EXP, "Log": OpKind.LOG,
          "Sqrt": OpKind.SQRT, "Rsqrt": OpKind.RSQRT, "Sigmoid": OpKind.SIGMOID,
          "Tanh": OpKind.TANH, "Erf": OpKind.ERF, "GELU": OpKind.GELU, "SiLU": OpKind.SILU}
# tpu.Active's `mode` (tpu-mlir's ActiveMode names).
_ACTIVE = {"ERF": OpKind.ERF, "GELU": OpKind.GELU, "SILU": OpKind.SILU,
           "SIGMOID": OpKind.SIGMOID, "TANH": OpKind.TANH, "EXP": OpKind.EXP, "LN": OpKind.LOG,
           "LOG": OpKind.LOG, "SQRT": OpKind.SQRT, "RSQRT": OpKind.RSQRT, "ABSVAL": OpKind.ABS,
           "RELU": OpKind.RELU, "HSWISH": OpKind.HARDSWISH, "HSIGMOID": OpKind.HARDSIGMOID}
_VIEWS = frozenset({"Reshape", "Squeeze", "Unsqueeze"})
_REDUCE = {"ReduceMean": OpKind.REDUCE_MEAN, "ReduceSum": OpKind.REDUCE_SUM,
           "ReduceMax": OpKind.REDUCE_MAX}
# A table lookup is costed by the `lut` attribute whatever the function; Erf stands in for it
# (tpu-mlir turns the erf of an int8 GELU into tpu.Lut).
_LUT_CARRIER = OpKind.ERF

_DTYPES = {"f32": DType.F32, "f16": DType.F16, "bf16": DType.BF16, "f64": DType.F32,
           "tf32": DType.F32, "i8": DType.INT8, "si8": DType.INT8, "ui8": DType.UINT8,
           "i16": DType.INT16, "si16": DType.INT16, "ui16": DType.INT16, "i32": DType.INT32,
           "si32": DType.INT32, "ui32": DType.INT32, "i4": DType.INT8, "si4": DType.INT8,
           "ui4": DType.UINT8}


def dtype_of(t: TensorType, where: str) -> DType:
    """tpusim's dtype for a tensor type (4-bit types count as 8-bit, f64 as f32)."""
    dtype = _DTYPES.get(t.dtype)
    if dtype is None and t.dtype.startswith("f8"):
        dtype = DType.INT8  # fp8 storage: one byte per element
    if dtype is None:
        raise ModelError(f"{where}: element type {t.dtype} is not supported")
    return dtype


def shape_of(t: TensorType) -> tuple[int, ...]:
    """The shape tpusim keeps: at least one dimension, every dimension at least 1."""
    return tuple(max(1, d) for d in t.shape) or (1,)


@dataclass
class Converted:
    """One tpu operator as a tpusim op, with any tensor the conversion had to add."""

    op: Op
    extra: list[Tensor] = field(default_factory=list)

    @property
    def unknown(self) -> bool:
        return self.op.kind is OpKind.OPAQUE


def _mode(value: Any) -> str:
    return value.value if isinstance(value, OpaqueAttr) else str(value)


def _ints(value: Any, default: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, tuple) and value else tuple(default)


def convert(op: MlirOp, name: str, inputs: list[str], input_types: list[TensorType],
            outputs: list[str], where: str) -> Converted:
    """The tpusim op for `op`. `inputs` are the tensor names of its data operands (no `none`,
    no scratch buffer), `input_types` their types, `outputs` the names of its results."""
    kind, attrs = op.kind, op.attrs
    ins, outs = tuple(inputs), tuple(outputs)

    def make(op_kind: OpKind, keep: tuple[str, ...] = ins, **values: Any) -> Converted:
        return Converted(Op(op_kind, name, keep, outs, values))

    if kind in _BINARY:
        return make(_BINARY[kind])
    if kind in _UNARY:
        return make(_UNARY[kind], ins[:1])
    if kind == "Active":
        mode = _mode(attrs.get("mode"))
        if mode in _ACTIVE:
            return make(_ACTIVE[mode], ins[:1])
        return _opaque(op, name, ins, outs, f"activation mode {mode} has no cost rule")
    if kind == "Lut":
        return make(_LUT_CARRIER, ins[:2], lut=True)
    if kind in _VIEWS:
        return make(OpKind.RESHAPE, ins[:1])
    if kind == "MatMul":
        flags = {k: bool(attrs.get(k, False)) for k in ("hdim_is_batch", "right_transpose",
                                                        "left_transpose", "output_transpose")}
        return make(OpKind.MATMUL, ins[:3], **flags)
    if kind == "Conv2D":
        return _conv(op, name, ins, input_types, outs, where)
    if kind == "Pool2D":
        pool = OpKind.MAXPOOL if "max" in _mode(attrs.get("pool_mode")).lower() else \
            OpKind.AVGPOOL
        return make(pool, ins[:1], kernel=_ints(attrs.get("kernel_shape"), (1, 1)),
                    strides=_ints(attrs.get("strides"), (1, 1)),
                    pads=_ints(attrs.get("pads"), (0, 0, 0, 0)))
    if kind == "LayerNorm":
        return make(OpKind.LAYERNORM, ins[:3], axis=int(attrs.get("axis", -1)))
    if kind == "Softmax":
        return make(OpKind.SOFTMAX, ins[:1], axis=int(attrs.get("axis", -1)))
    if kind in _REDUCE or (kind == "Reduce" and _mode(attrs.get("mode")) in _REDUCE):
        reduce = _REDUCE.get(kind) or _REDUCE[_mode(attrs.get("mode"))]
        return make(reduce, ins[:1], axes=_ints(attrs.get("axes"), ()))
    if kind == "Permute":
        return make(OpKind.PERMUTE, ins[:1], order=_ints(attrs.get("order"), ()))
    if kind == "Depth2Space":
        return make(OpKind.PERMUTE, ins[:1], order=_depth2space_order(op, input_types[0]))
    if kind in ("Slice", "SwapDimInner"):
        return make(OpKind.SLICE, ins[:1], **_slice_box(op, input_types[0]))
    if kind == "Concat":
        return make(OpKind.CONCAT, axis=int(attrs.get("axis", 0)))
    if kind == "Gather":
        return make(OpKind.GATHER, ins[:2], axis=int(attrs.get("axis", 0)))
    if kind == "GatherND":
        return make(OpKind.GATHERND, ins[:2], batch_dims=int(attrs.get("batch_dims", 0)))
    if kind in ("Compare", "CompareConst"):
        values = {"const": float(attrs.get("const_val", 0.0))} if kind == "CompareConst" else {}
        return make(OpKind.COMPARE, ins[:2] if kind == "Compare" else ins[:1],
                    mode=_mode(attrs.get("mode", "Equal")), **values)
    if kind == "Where":  # constant branches are attributes: a select of the condition alone
        return make(OpKind.WHERE, ins[:3]) if len(ins) >= 3 else make(OpKind.NOT, ins[:1])
    if kind == "FAttention":
        return make(OpKind.ATTENTION, ins[:4], scale=float(attrs.get("scale", 1.0)),
                    heads=int(attrs.get("q_head", attrs.get("head", 1))),
                    dim=int(attrs.get("dim", 1)))
    if kind == "Pad":
        return make(OpKind.PAD, ins[:1], pads=_ints(attrs.get("paddings"), ()))
    if kind == "Upsample":
        scale = (1, 1, int(attrs.get("scale_h", 1)), int(attrs.get("scale_w", 1)))
        return make(OpKind.UPSAMPLE, ins[:1], scales=scale)
    return _opaque(op, name, ins, outs, "tpusim has no rule for this operator")


def _opaque(op: MlirOp, name: str, ins: tuple[str, ...], outs: tuple[str, ...],
            reason: str) -> Converted:
    label = op.name if op.kind != "Active" else f"{op.name}({_mode(op.attrs.get('mode'))})"
    shapes = tuple(shape_of(t) for t in op.result_types)
    return Converted(Op(OpKind.OPAQUE, name, ins, outs,
                        {"op_type": label, "out_shapes": shapes, "reason": reason}))


def _conv(op: MlirOp, name: str, ins: tuple[str, ...], types: list[TensorType],
          outs: tuple[str, ...], where: str) -> Converted:
    """tpu-mlir stores convolution weights rearranged for the cube (e.g. 1x64x1x224 for a
    7x7 over 3 channels), so the op reads a logical [OC, IC/g, KH, KW] weight beside it."""
    attrs = op.attrs
    if len(ins) < 2 or len(types[0].shape) != 4 or len(op.result_types[0].shape) != 4:
        raise ModelError(f"{where}: tpu.Conv2D needs a 4-D input, a weight and a 4-D result")
    group = int(attrs.get("group", 1))
    kh, kw = _ints(attrs.get("kernel_shape"), (1, 1))[:2]
    oc, ic = op.result_types[0].shape[1], types[0].shape[1]
    weight = Tensor(f"{ins[1]}:oihw", (oc, max(1, ic // group), kh, kw),
                    dtype_of(types[1], where), TensorKind.WEIGHT)
    values = {"strides": _ints(attrs.get("strides"), (1, 1)),
              "pads": _ints(attrs.get("pads"), (0, 0, 0, 0)),
              "dilations": _ints(attrs.get("dilations"), (1, 1)), "group": group}
    keep = (ins[0], weight.name, *ins[2:3])
    return Converted(Op(OpKind.CONV2D, name, keep, outs, values), [weight])


def _depth2space_order(op: MlirOp, x: TensorType) -> tuple[int, ...]:
    """A Permute order that moves data as Depth2Space does. With channels last, runs of C
    elements stay whole (a Permute keeping the last axis: a DDR-to-DDR copy); with channels
    first, single elements move (a Permute of the last axis)."""
    if len(x.shape) != 4:
        return tuple(range(len(x.shape)))
    return (0, 2, 1, 3) if not op.attrs.get("in_is_NCHW", True) else (0, 1, 3, 2)


def _slice_box(op: MlirOp, x: TensorType) -> dict[str, tuple[int, ...]]:
    """starts/ends/steps per axis from tpu.Slice's offset/ends/steps; SwapDimInner (a rotation
    along some axes) moves the whole tensor."""
    shape = shape_of(x)
    rank = len(shape)
    full = {"starts": (0,) * rank, "ends": shape, "steps": (1,) * rank}
    if op.kind != "Slice":
        return full
    starts = _ints(op.attrs.get("offset"), ())
    ends = _ints(op.attrs.get("ends"), ())
    steps = _ints(op.attrs.get("steps"), ())
    if not len(starts) == len(ends) == len(steps) == rank or any(s <= 0 for s in steps):
        return full
    ends = tuple(d if e <= 0 or e > d else e for e, d in zip(ends, shape))
    return {"starts": starts, "ends": ends, "steps": steps}


def local_axis(axis: int, original: Sequence[int], local: Sequence[int]) -> int:
    """The axis of a local-memory layout where the trailing block `original[axis:]` starts,
    so a reduction over it reduces the same elements (SMALL_C groups reshape tensors)."""
    rank = len(original)
    axis = axis % rank if rank else 0
    block = math.prod(original[axis:])
    for k in range(len(local) - 1, -1, -1):
        if math.prod(local[k:]) == block:
            return k
    return min(axis, len(local) - 1)


__all__ = ["Converted", "convert", "dtype_of", "local_axis", "shape_of"]
