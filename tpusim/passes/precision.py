"""Precision: which dtype each operator computes in, and the Casts between them.

tpu-mlir compiles a whole network in one mode (F32, F16, BF16, INT8) but keeps some operators
in another type. The rules below are what tpu-mlir 1.30.2 does on BM1684X, as its compiled
programs show (tpu-mlir/micro and tpu-mlir/swin_t in the shared data):

- F16/BF16: GELU, SiLU and erf are computed in F32 (Cast before and after; the Swin-T F16 program
  holds 28 Casts, 24 of them around the 12 GELUs). At F16, averaging reductions (global
  average pooling, ReduceMean) run in F32 too (tpu-mlir/micro: gavgpool's only dtype is f32).
- INT8: LayerNorm and Softmax stay in F16 (the mode's "high-precision" float on BM1684X);
  transcendental activations become int8 lookup tables (tpu.Lut); MatMul/Conv weights are int8
  with int32 biases.
- Graph inputs and outputs stay F32, as deployed by default, so the first and last operators
  are Casts.

Data-movement operators (Reshape, Permute, Slice, Concat, ...) keep their input's dtype; the
indices of a Gather are int32.
"""

from __future__ import annotations

from tpusim.errors import CompileError
from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, Op, Tensor, fresh_name
from tpusim.ir.ops import DATA_MOVEMENT, INDEXED, TRANSCENDENTAL, OpKind

PRECISIONS = ("f32", "f16", "bf16", "int8")

# Operators computed in F32 in the 16-bit float modes.
_F32_IN_HALF_MODES = frozenset({OpKind.GELU, OpKind.SILU, OpKind.ERF})
# Averaging reductions accumulate in F32 in F16 mode.
_F32_IN_F16_MODE = frozenset({OpKind.AVGPOOL, OpKind.REDUCE_MEAN})
# Operators kept in F16 in INT8 mode.
_F16_IN_INT8_MODE = frozenset({OpKind.LAYERNORM, OpKind.SOFTMAX})


def parse_precision(name: str) -> str:
    key = name.lower().replace("fp", "f")
    if key not in PRECISIONS:
        raise CompileError(f"unknown precision {name!r} (expected one of {', '.join(PRECISIONS)})")
    return key


def compute_dtype(op: Op, precision: str) -> DType:
    """The dtype `op` computes in under `precision` (not used for data-movement ops)."""
    mode = DType.parse(precision)
    if mode in (DType.F16, DType.BF16) and op.kind in _F32_IN_HALF_MODES:
        return DType.F32
    if mode is DType.F16 and op.kind in _F32_IN_F16_MODE:
        return DType.F32
    if mode is DType.INT8 and op.kind in _F16_IN_INT8_MODE:
        return DType.F16
    return mode


def _weight_dtype(op: Op, index: int, dtype: DType) -> DType:
    """Storage dtype of a constant operand: biases of int8 cube ops are int32."""
    if dtype is DType.INT8 and op.kind in (OpKind.MATMUL, OpKind.CONV2D) and index == 2:
        return DType.INT32
    if dtype is not DType.F32 and op.kind in (OpKind.MATMUL, OpKind.CONV2D) and index == 2:
        return DType.F32  # float biases stay f32 (vendor programs: "f16;f32")
    return dtype


def assign_precision(graph: Graph, precision: str, io: str = "f32") -> Graph:
    """A copy of `graph` with every tensor's dtype set and Casts inserted where types change.

    `io` is the dtype of the graph's inputs and outputs: "f32" (tpu-mlir's deploy default, so
    the first and last ops are Casts) or "native" (already in the mode's dtype)."""
    precision = parse_precision(precision)
    if io not in ("f32", "native"):
        raise CompileError(f"unknown io {io!r} (expected f32 or native)")
    io_dtype = DType.F32 if io == "f32" else DType.parse(precision)
    tensors: dict[str, Tensor] = dict(graph.tensors)
    ops: list[Op] = []
    casts: dict[tuple[str, DType], str] = {}

    def cast(name: str, dtype: DType) -> str:
        if tensors[name].dtype is dtype:
            return name
        key = (name, dtype)
        if key not in casts:
            out = fresh_name(f"{name}.to_{dtype.value}", tensors)
            tensors[out] = Tensor(out, tensors[name].shape, dtype)
            ops.append(Op(OpKind.CAST, _fresh_op(ops, f"{name}.cast_{dtype.value}"), (name,),
                          (out,), {"to": dtype.value}))
            casts[key] = out
        return casts[key]

    for name in graph.inputs:
        tensors[name] = Tensor(name, tensors[name].shape, io_dtype)
    for op in graph.ops:
        if op.kind in DATA_MOVEMENT:
            src = tensors[op.inputs[0]]
            dtype = src.dtype
            extra = DType.INT32 if op.kind in INDEXED else dtype  # indices, or more data
            inputs = [op.inputs[0]] + [cast(t, extra) if not tensors[t].is_constant else t
                                       for t in op.inputs[1:]]
        else:
            dtype = compute_dtype(op, precision)
            if dtype is DType.INT8 and op.kind in TRANSCENDENTAL:
                op = op.with_attrs(lut=True)
            inputs = []
            for i, t in enumerate(op.inputs):
                if tensors[t].is_constant:
                    wt = _weight_dtype(op, i, dtype)
                    tensors[t] = Tensor(t, tensors[t].shape, wt, tensors[t].kind)
                    inputs.append(t)
                else:
                    inputs.append(cast(t, dtype))
        for t in op.inputs:
            if tensors[t].is_constant and op.kind in DATA_MOVEMENT:
                tensors[t] = Tensor(t, tensors[t].shape, dtype, tensors[t].kind)
        for t in op.outputs:
            tensors[t] = Tensor(t, tensors[t].shape, dtype)
        ops.append(Op(op.kind, op.name, tuple(inputs), op.outputs, op.attrs))
    outputs = [t if io == "native" else cast(t, DType.F32) for t in graph.outputs]
    result = Graph(graph.name, tensors, ops, list(graph.inputs), outputs)
    return result.rebuilt(ops)


def _fresh_op(ops: list[Op], stem: str) -> str:
    names = {op.name for op in ops}
    name, i = stem, 1
    while name in names:
        name, i = f"{stem}_{i}", i + 1
    return name
