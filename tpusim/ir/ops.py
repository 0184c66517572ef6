"""Operator kinds and the groups the compiler reasons about."""

from __future__ import annotations

from enum import Enum


class OpKind(Enum):
    # element-wise with two operands (numpy broadcasting)
    ADD = "Add"
    SUB = "Sub"
    MUL = "Mul"
    DIV = "Div"
    MAX = "Max"
    MIN = "Min"
    POW = "Pow"
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
    CAST = "Cast"
    # matrix and cube work
    MATMUL = "MatMul"
    CONV2D = "Conv2D"
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
    GATHER = "Gather"
    EXPAND = "Expand"
    UPSAMPLE = "Upsample"
    SCATTERND = "ScatterND"
    # an operator tpusim does not model (ONNX import fallback): attrs carry its type
    # ("op_type") and its output shapes ("out_shapes"); costed as memory-bound element-wise work
    OPAQUE = "Opaque"

    def __str__(self) -> str:
        return self.value


BINARY = frozenset({OpKind.ADD, OpKind.SUB, OpKind.MUL, OpKind.DIV, OpKind.MAX, OpKind.MIN,
                    OpKind.POW})
ACTIVATIONS = frozenset({OpKind.RELU, OpKind.CLIP, OpKind.SIGMOID, OpKind.HARDSIGMOID,
                         OpKind.HARDSWISH, OpKind.SILU, OpKind.GELU, OpKind.TANH, OpKind.ERF,
                         OpKind.EXP, OpKind.LOG, OpKind.SQRT, OpKind.RSQRT, OpKind.ABS})
UNARY = frozenset({OpKind.MULCONST, OpKind.ADDCONST, OpKind.CAST}) | ACTIVATIONS
ELEMENTWISE = BINARY | UNARY
# Activations that need the special-function unit (tables, exp) rather than plain arithmetic.
TRANSCENDENTAL = frozenset({OpKind.SIGMOID, OpKind.SILU, OpKind.GELU, OpKind.TANH, OpKind.ERF,
                            OpKind.EXP, OpKind.LOG, OpKind.SQRT, OpKind.RSQRT})
# Ops that only reinterpret a contiguous tensor: no data moves when they run alone.
VIEWS = frozenset({OpKind.RESHAPE, OpKind.SQUEEZE, OpKind.UNSQUEEZE})
DATA_MOVEMENT = VIEWS | frozenset({OpKind.PERMUTE, OpKind.SLICE, OpKind.CONCAT, OpKind.PAD,
                                   OpKind.GATHER, OpKind.EXPAND, OpKind.UPSAMPLE,
                                   OpKind.SCATTERND})
