"""ONNX import: a model file to a tpusim `Graph`. Timing needs shapes, never weight values.

`load_onnx(path)` reads the file with the `onnx` package (an optional dependency), converts it
node by node, runs the front-end canonicalisation (`tpusim.passes.canonicalize`) and checks that
every operator left is one tpusim can cost.

- Shapes come from the file's value_info where it gives them, otherwise from tpusim's own shape
  inference; where both exist they must agree (a disagreement is an error naming the node).
- Integer shape arithmetic (Shape, Gather, Concat, Range, ...) is evaluated while reading
  (`onnx_eval`): the IR keeps reshape targets, slice bounds, axes and gather indices as static
  attributes. Values are kept for integer initializers, Constant nodes and float tensors of at
  most 64 elements; other weights may be missing or external.
- Every other node becomes one tpusim op (a few become two or three: `onnx_ops`). An ONNX
  operator without a tpusim kind (Gemm, BatchNormalization, Identity, Where, ...) becomes an
  Opaque op carrying its ONNX type, which canonicalisation rewrites or folds away. An Opaque op
  that survives canonicalisation is one tpusim does not know: an UnsupportedOperatorError, or
  with `unknown_ops="fallback"` it is costed as memory-bound element-wise work (load every
  input, one element-wise pass over each output, store every output) and a warning
  (`UnknownOperatorWarning`) lists every such node. Its output shapes must be in value_info,
  unless it keeps its input's shape (SHAPE_PRESERVING).
- Batch: the file is imported at its own batch (the leading dimension of its inputs) and the
  canonical graph is then re-batched (`tpusim.passes.rebatch`, which documents the rule for
  reshape targets that bake the batch in). A symbolic leading dimension takes `batch` directly.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tpusim.errors import GraphError, ModelError, UnsupportedOperatorError
from tpusim.frontend.onnx_eval import EVALUATED_OPS, evaluate
from tpusim.frontend.onnx_ops import CONVERTERS
from tpusim.frontend.onnx_proto import (
    Node,
    Unsupported,
    array_dtype,
    decode_attrs,
    dims_of,
    element_dtype,
)
from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, Op, Tensor, TensorKind, fresh_name
from tpusim.ir.ops import OpKind
from tpusim.ir.shapes import infer
from tpusim.ir.verify import verify
from tpusim.limits import MAX_OPS

UNKNOWN_OPS = ("error", "fallback")
# Operators tpusim does not model whose output has their first input's shape: the fallback
# can cost them even when the file gives no value_info.
SHAPE_PRESERVING = frozenset({
    "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "ThresholdedRelu", "Softplus", "Softsign",
    "Mish", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Tan", "Atan",
    "Sinh", "Cosh", "IsNaN", "IsInf", "LRN", "InstanceNormalization", "LpNormalization",
    "MeanVarianceNormalization", "GroupNormalization", "LogSoftmax", "Hardmax", "CumSum",
    "Shrink"})
_KEEP_FLOAT_VALUES = 64  # float constants up to this size keep their values (scalars, scales)


class UnknownOperatorWarning(UserWarning):
    """Operators tpusim does not model were costed by the memory-bound fallback."""


def warn_unknown(where: str, ops: Sequence[Op], stacklevel: int) -> None:
    """One UnknownOperatorWarning listing every op costed by the fallback."""
    listed = ", ".join(f"{op.name} ({op.attr('op_type')})" for op in ops)
    warnings.warn(UnknownOperatorWarning(
        f"{where}: {len(ops)} operator(s) tpusim does not model are costed as memory-bound "
        f"element-wise work: {listed}"), stacklevel=stacklevel + 1)


def load_onnx(path: str | Path | Any, batch: int | None = None,
              unknown_ops: str = "error", max_ops: int = MAX_OPS) -> Graph:
    """The canonical tpusim graph of an ONNX model (a file path or an onnx.ModelProto).
    A file of more than `max_ops` nodes is refused before any is converted."""
    from tpusim.passes.canonicalize import canonicalize
    from tpusim.passes.rebatch import rebatch

    if unknown_ops not in UNKNOWN_OPS:
        raise ModelError(f"unknown_ops must be one of {', '.join(UNKNOWN_OPS)}, "
                         f"got {unknown_ops!r}")
    if batch is not None and batch < 1:
        raise ModelError(f"batch size must be >= 1, got {batch}")
    model, where = _read(path)
    if len(model.graph.node) > max_ops:
        raise ModelError(f"{where}: {len(model.graph.node):,} nodes, more than the bound of "
                         f"{max_ops:,} (max_ops)")
    graph, file_batch = _Importer(model, where, batch).run()
    graph = _check_operators(canonicalize(graph), where, unknown_ops)
    if batch is not None and file_batch is not None and batch != file_batch:
        graph = rebatch(graph, batch)
    return verify(graph)


def import_onnx(path: str | Path | Any, batch: int | None = None) -> Graph:
    """The graph as read, before canonicalisation (for tests and for looking at passes)."""
    model, where = _read(path)
    return _Importer(model, where, batch).run()[0]


# ---- reading the file ----------------------------------------------------------------------


def _read(path: str | Path | Any) -> tuple[Any, str]:
    try:
        import onnx
    except ImportError:
        raise ModelError("reading ONNX files needs the onnx package: pip install "
                         "'tpusim[onnx]' (from a checkout of tpusim: pip install '.[onnx]')"
                         ) from None
    if isinstance(path, onnx.ModelProto):
        return path, path.graph.name or "<onnx model>"
    where = str(path)
    if not Path(path).is_file():
        raise ModelError(f"model file not found: {where}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own types; any failure means the same
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{where}: not a readable ONNX model ({reason})") from None
    if not model.ir_version or not model.HasField("graph") or not model.graph.output:
        raise ModelError(f"{where}: not an ONNX model (no graph with outputs; "
                         "the file may be truncated or of another kind)")
    _check_names(model, where)
    return model, where


def _check_names(model: Any, where: str) -> None:
    """Names and operator types are text; protobuf hands over bytes that are not UTF-8 as
    bytes, which no later step expects."""
    g = model.graph
    named = [("input", vi.name) for vi in [*g.input, *g.output, *g.value_info]]
    named += [("initializer", t.name) for t in g.initializer]
    for i, n in enumerate(g.node):
        named += [(f"node {i + 1}", text) for text in (n.name, n.op_type, n.domain,
                                                        *n.input, *n.output)]
    for what, text in named:
        if not isinstance(text, str):
            raise ModelError(f"{where}: {what} has a name or type that is not UTF-8 text "
                             f"({text[:40]!r}; a corrupted file?)")


def _check_operators(graph: Graph, where: str, unknown_ops: str) -> Graph:
    opaque = [op for op in graph.ops if op.kind is OpKind.OPAQUE]
    if not opaque:
        return graph
    if unknown_ops == "error":
        op = opaque[0]
        others = sorted({o.attr("op_type") for o in opaque[1:]} - {op.attr("op_type")})
        more = f"; also unsupported: {', '.join(others)}" if others else ""
        raise UnsupportedOperatorError(
            f"{where}: node {op.name!r} ({op.attr('op_type')}): {op.attr('reason')}{more} "
            "(unknown_ops='fallback' or --unknown-ops fallback costs such operators as "
            "memory-bound element-wise work)")
    warn_unknown(where, opaque, stacklevel=3)
    return graph


# ---- the importer --------------------------------------------------------------------------


class _Importer:
    """Reads one model. Converters (`onnx_ops`) call `shape`, `value`, `emit` and `opaque`."""

    def __init__(self, model: Any, where: str, batch: int | None) -> None:
        self.model, self.where, self.batch = model, where, batch
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          1)
        self.shapes: dict[str, tuple[int, ...]] = {}  # ONNX shapes (rank 0 allowed)
        self.values: dict[str, np.ndarray] = {}
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self.declared: dict[str, tuple[tuple[int, ...] | None, DType]] = {}
        self.external: dict[str, tuple[tuple[int, ...], DType]] = {}
        self.initializers: set[str] = set()
        self.used: set[str] = set()
        self._tensor_names: set[str] = set()  # every ONNX tensor name, and those made here
        self._op_names: set[str] = set()

    # -- what converters use --

    def shape(self, name: str) -> tuple[int, ...]:
        return self.shapes[name]

    def value(self, name: str) -> np.ndarray | None:
        return self.values.get(name) if name else None

    def is_used(self, name: str) -> bool:
        return bool(name) and name in self.used

    def is_constant(self, name: str) -> bool:
        if name in self.values or name in self.external:
            return True
        t = self.tensors.get(name)
        return t is not None and t.is_constant

    def emit(self, node: Node, kind: OpKind, inputs: Sequence[str], out: str | None = None,
             suffix: str | None = None, **attrs: Any) -> str:
        """Add one op; `out` is an ONNX output name, or None for a new intermediate tensor."""
        return self._add(node, kind, inputs, [out], suffix, attrs)[0]

    def opaque(self, node: Node, out_shapes: Sequence[Sequence[int]] | None = None,
               reason: str | None = None, **attrs: Any) -> None:
        """The node as an Opaque op carrying its ONNX type. Without `out_shapes` they are read
        from value_info (an unknown operator: tpusim cannot infer them)."""
        outs = [o for o in node.outputs if o]
        if out_shapes is None:
            out_shapes = [self._declared_shape(node, o, reason) for o in outs]
        attrs = {"op_type": node.op_type, "out_shapes": tuple(tuple(s) for s in out_shapes),
                 "reason": reason or f"operator {node.op_type} is not supported", **attrs}
        self._add(node, OpKind.OPAQUE, [i for i in node.inputs if i], outs, None, attrs)

    # -- the walk --

    def run(self) -> tuple[Graph, int | None]:
        g = self.model.graph
        self._read_declarations()
        nodes = [Node(n.name or f"{n.op_type}_{i}", self._qualified(n), tuple(n.input),
                      tuple(n.output), decode_attrs(n)) for i, n in enumerate(g.node)]
        self._tensor_names = ({o for n in nodes for o in n.outputs} | set(self.declared)
                              | self.initializers)
        self.used = {i for n in nodes for i in n.inputs} | {o.name for o in g.output}
        file_batch = self._read_inputs()
        for node in nodes:
            if not node.op_type or not any(node.outputs):
                raise ModelError(f"{self.where}: node {node.name!r} has no "
                                 f"{'output' if node.op_type else 'operator type'}")
            self._check_inputs(node)
            try:
                if self._evaluate(node):
                    continue
                converter = CONVERTERS.get(node.op_type)
                if converter is None:
                    raise Unsupported(f"operator {node.op_type} is not supported")
                converter(self, node)
            except Unsupported as exc:
                self.opaque(node, reason=str(exc))
            except (ValueError, IndexError, KeyError, TypeError) as exc:
                raise ModelError(f"{self.where}: node {node.name!r} ({node.op_type}): cannot "
                                 f"read it ({type(exc).__name__}: {exc})") from None
        outputs = [o.name for o in g.output]
        for name in outputs:
            if name not in self.shapes:
                raise ModelError(f"{self.where}: graph output {name!r} is never produced")
            self._operand(name)
        inputs = [i.name for i in g.input if i.name not in self.initializers]
        graph = Graph(Path(self.where).stem or "onnx", dict(self.tensors), list(self.ops),
                      inputs, outputs)
        try:
            return verify(graph.rebuilt(graph.ops)), file_batch
        except GraphError as exc:
            raise ModelError(f"{self.where}: {exc}") from None

    def _qualified(self, n: Any) -> str:
        return n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"

    def _read_declarations(self) -> None:
        from onnx import TensorProto, numpy_helper

        g = self.model.graph
        for vi in [*g.value_info, *g.output, *g.input]:
            dims = dims_of(vi.type)
            static = None if dims is None or any(not isinstance(d, int) or d <= 0
                                                 for d in dims) else tuple(dims)
            self.declared[vi.name] = (static, element_dtype(vi.type.tensor_type.elem_type))
        for init in g.initializer:
            self.initializers.add(init.name)
            shape, dtype = tuple(int(d) for d in init.dims), element_dtype(init.data_type)
            external = init.data_location == TensorProto.EXTERNAL
            keep = init.data_type not in (TensorProto.FLOAT, TensorProto.FLOAT16,
                                          TensorProto.DOUBLE, TensorProto.BFLOAT16) \
                or int(np.prod(shape)) <= _KEEP_FLOAT_VALUES
            if keep and not external:
                try:
                    self.values[init.name] = numpy_helper.to_array(init)
                    self.shapes[init.name] = shape
                    continue
                except Exception:  # a damaged tensor: its shape still serves
                    pass
            self.external[init.name] = (shape, dtype)
            self.shapes[init.name] = shape

    def _read_inputs(self) -> int | None:
        file_batch: int | None = None
        for i, vi in enumerate(self.model.graph.input):
            if vi.name in self.initializers:
                continue
            dims = dims_of(vi.type)
            if not dims:
                raise ModelError(f"{self.where}: input {vi.name!r} has no shape")
            if not isinstance(dims[0], int) or dims[0] <= 0:
                dims[0] = self.batch or 1
            elif i == 0 or file_batch is None:
                file_batch = dims[0]
            bad = [(a, d) for a, d in enumerate(dims) if not isinstance(d, int) or d <= 0]
            if bad:
                raise ModelError(f"{self.where}: input {vi.name!r} has a symbolic dimension "
                                 f"{bad[0][1]!r} at axis {bad[0][0]}; tpusim needs static shapes")
            shape = tuple(int(d) for d in dims)
            self.shapes[vi.name] = shape
            self.tensors[vi.name] = Tensor(vi.name, shape or (1,),
                                           element_dtype(vi.type.tensor_type.elem_type))
        return file_batch

    def _check_inputs(self, node: Node) -> None:
        for name in node.inputs:
            if name and name not in self.shapes:
                raise ModelError(f"{self.where}: node {node.name!r} ({node.op_type}) reads "
                                 f"{name!r}, which no earlier node produces (nodes out of order, "
                                 "or a truncated file)")

    def _evaluate(self, node: Node) -> bool:
        """Compute the node's outputs if its inputs are known values; True if done."""
        if node.op_type in ("Shape", "Size"):
            shape = self.shapes[node.inputs[0]]
            if node.op_type == "Size":
                value = np.array(int(np.prod(shape)), np.int64)
            else:
                start, end = node.attr("start", 0), node.attr("end", len(shape))
                value = np.array(shape[start:end], np.int64)
            self._set_value(node.outputs[0], value)
            return True
        present = [i for i in node.inputs if i]
        if node.op_type not in EVALUATED_OPS or any(i not in self.values for i in present):
            return False
        results = evaluate(node, [self.values.get(i) if i else None for i in node.inputs],
                           self.opset)
        if results is None:
            return False
        for name, value in zip(node.outputs, results):
            if name:
                self._set_value(name, np.asarray(value))
        return True

    def _set_value(self, name: str, value: np.ndarray) -> None:
        self.values[name] = value
        self.shapes[name] = tuple(int(d) for d in value.shape)

    def _operand(self, name: str) -> str:
        """The tpusim tensor for an ONNX name, adding constants the first time they are used."""
        if name in self.tensors:
            return name
        if name in self.values:
            v = self.values[name]
            kind = TensorKind.WEIGHT if name in self.initializers else TensorKind.CONST
            self.tensors[name] = Tensor(name, tuple(v.shape) or (1,), array_dtype(v), kind)
        else:
            shape, dtype = self.external[name]
            self.tensors[name] = Tensor(name, shape or (1,), dtype, TensorKind.WEIGHT)
        return name

    @staticmethod
    def _fresh(stem: str, taken: set[str]) -> str:
        name = fresh_name(stem, taken)
        taken.add(name)
        return name

    def _declared_shape(self, node: Node, out: str, reason: str | None) -> tuple[int, ...]:
        shape = self.declared.get(out, (None, DType.F32))[0]
        if shape is None and node.op_type in SHAPE_PRESERVING and node.inputs[:1] != ("",):
            shape = self.shapes[node.inputs[0]]
        if shape is None:
            why = reason or f"operator {node.op_type} is not supported"
            raise UnsupportedOperatorError(
                f"{self.where}: node {node.name!r} ({node.op_type}): {why}, and the file gives "
                f"no static shape for its output {out!r}, so it cannot be costed either")
        return shape

    def _add(self, node: Node, kind: OpKind, inputs: Sequence[str], outs: Sequence[str | None],
             suffix: str | None, attrs: dict[str, Any]) -> list[str]:
        op_name = self._fresh(node.name if suffix is None else f"{node.name}.{suffix}",
                              self._op_names)
        names = [self._operand(i) for i in inputs]
        in_tensors = [self.tensors[n] for n in names]
        try:
            inferred = infer(kind, [t.shape for t in in_tensors], attrs, op_name)
        except GraphError as exc:
            raise ModelError(f"{self.where}: node {node.name!r} ({node.op_type}): {exc}") \
                from None
        out_names = [o if o else self._fresh(op_name, self._tensor_names) for o in outs]
        default_dtype = in_tensors[0].dtype if in_tensors else DType.F32
        for name, shape in zip(out_names, inferred):
            declared, dtype = self.declared.get(name, (None, default_dtype))
            if declared is not None and (declared or (1,)) != shape:
                raise ModelError(f"{self.where}: node {node.name!r} ({node.op_type}): output "
                                 f"{name!r} is {list(declared)} in the file but tpusim infers "
                                 f"{list(shape)}")
            if kind is OpKind.CAST:
                dtype = DType(attrs["to"])
            self.shapes[name] = declared if declared is not None else shape
            self.tensors[name] = Tensor(name, shape, dtype)
        self.ops.append(Op(kind, op_name, tuple(names), tuple(out_names), attrs))
        return out_names
