"""Operator kinds and the groups the compiler reasons about."""

from __future__ import annotations

from enum import Enum


class OpKind(Enum):
    __hash__ = object.__hash__  # members are singletons: identity hashes, fast
    # element-wise with two operands (numpy broadcasting)
    ADD = "Add"
    SUB = "Sub"
    MUL = "Mul"
    DIV = "Div"
    MAX = "Max"
    MIN = "Min"
    POW = "Pow"
    COMPARE = "Compare"  # a comparison or logic of two masks; attrs: mode (Equal, Less, And, ...)
    # element-wise with three operands
    WHERE = "Where"  # select: condition ? x : y
    # element-wise with one operand
    MULCONST = "MulConst"
    ADDCONST = "AddConst"
    RELU = "Relu"
    CLIP = "Clip"
    SIGMOID = "Sigmoid"
    HARDSIGMOID = "HardSigmoid"
    HARDSWISH = "HardSwish"
    SILU = "SiLU"
    GELU = "GELU"
    TANH = "Tanh"
    ERF = "Erf"
    EXP = "Exp"
    LOG = "Log"
    SQRT = "Sqrt"
    RSQRT = "Rsqrt"
    ABS = "Abs"
    NOT = "Not"
    CAST = "Cast"
    # matrix and cube work
    MATMUL = "MatMul"
    CONV2D = "Conv2D"
    # softmax(q k^T * scale + mask) v over heads, fused (tpu-mlir's FAttention): inputs q
    # [B, M, H, D], k and v [B, N, H, D], an optional mask; output [B, M, H * D]
    ATTENTION = "Attention"
    # normalisations and reductions
    LAYERNORM = "LayerNorm"
    SOFTMAX = "Softmax"
    REDUCE_MEAN = "ReduceMean"
    REDUCE_SUM = "ReduceSum"
    REDUCE_MAX = "ReduceMax"
    MAXPOOL = "MaxPool"
    AVGPOOL = "AvgPool"
    # data movement
    RESHAPE = "Reshape"
    SQUEEZE = "Squeeze"
    UNSQUEEZE = "Unsqueeze"
    PERMUTE = "Permute"
    SLICE = "Slice"
    CONCAT = "Concat"
    PAD = "Pad"
    GATHER = "Gather"  # constant indices (attrs), or run-time ones (a second input)
    GATHERND = "GatherND"
    EXPAND = "Expand"
    UPSAMPLE = "Upsample"
    SCATTERND = "ScatterND"
    # an operator tpusim does not model (ONNX import fallback): attrs carry its type
    # ("op_type") and its output shapes ("out_shapes"); costed as memory-bound element-wise work
    OPAQUE = "Opaque"

    def __str__(self) -> str:
        return self.value


BINARY = frozenset({OpKind.ADD, OpKind.SUB, OpKind.MUL, OpKind.DIV, OpKind.MAX, OpKind.MIN,
                    OpKind.POW, OpKind.COMPARE})
# Comparison modes (ONNX names); And, Or and Xor combine masks.
COMPARE_MODES = ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or",
                 "Xor")
ACTIVATIONS = frozenset({OpKind.RELU, OpKind.CLIP, OpKind.SIGMOID, OpKind.HARDSIGMOID,
                         OpKind.HARDSWISH, OpKind.SILU, OpKind.GELU, OpKind.TANH, OpKind.ERF,
                         OpKind.EXP, OpKind.LOG, OpKind.SQRT, OpKind.RSQRT, OpKind.ABS})
UNARY = frozenset({OpKind.MULCONST, OpKind.ADDCONST, OpKind.CAST, OpKind.NOT}) | ACTIVATIONS
ELEMENTWISE = BINARY | UNARY | {OpKind.WHERE}
# Activations that need the special-function unit (tables, exp) rather than plain arithmetic.
TRANSCENDENTAL = frozenset({OpKind.SIGMOID, OpKind.SILU, OpKind.GELU, OpKind.TANH, OpKind.ERF,
                            OpKind.EXP, OpKind.LOG, OpKind.SQRT, OpKind.RSQRT})
# Ops that only reinterpret a contiguous tensor: no data moves when they run alone.
VIEWS = frozenset({OpKind.RESHAPE, OpKind.SQUEEZE, OpKind.UNSQUEEZE})
DATA_MOVEMENT = VIEWS | frozenset({OpKind.PERMUTE, OpKind.SLICE, OpKind.CONCAT, OpKind.PAD,
                                   OpKind.GATHER, OpKind.GATHERND, OpKind.EXPAND,
                                   OpKind.UPSAMPLE, OpKind.SCATTERND})
# Ops whose second input holds indices (int32), not data.
INDEXED = frozenset({OpKind.GATHER, OpKind.GATHERND})
