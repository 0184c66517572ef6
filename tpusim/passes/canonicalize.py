"""Front-end canonicalisation: an imported graph brought to the form tpu-mlir's front end gives.

`canonicalize` runs the passes of `PIPELINE` in order; each is a pure function Graph -> Graph.
The simplifying passes live here, the operator fusions in `fusion.py`:

- remove_identities: Identity, Dropout, no-op Cast (same type, or float to float: the compile
  precision decides float types), zero Pad, and Reshape/Expand/Slice/Permute that change nothing.
- fold_constants: an op whose inputs are all constants becomes a constant tensor of its output
  shape (Swin's shift mask, ConstantOfShape/ScatterND/Where/Equal chains, gathered bias tables).
  Values are not needed, only shapes.
- gemm_to_matmul: Gemm becomes a MatMul on the transposed constant weight, with its bias.
- fold_batchnorm: BatchNormalization folds into the Conv before it (weights and a bias);
  elsewhere it becomes a Mul and an Add with per-channel constants.
- gather_to_slice: Gather of one constant index becomes Slice+Squeeze (as tpu-mlir imports it),
  of a contiguous range a Slice, of every index in order nothing (or a Reshape).
- scalar_to_const_ops: Mul/Div/Add/Sub by a one-element constant become MulConst/AddConst.
  Element-wise ops with larger constant operands stay binary ops (Swin's bias and mask Adds).
- fuse_matmul_bias (fusion.py): MatMul with a constant weight + Add of a bias vector.
- fuse_relu (fusion.py): a ReLU folds into the convolution, MatMul, pool or arithmetic before it.
- merge_reshapes, merge_slices: chains collapse into one op.
- drop_dead_ops; classify_constants: a constant is a WEIGHT where a layer reads it as its
  parameters (MatMul and Conv weights and biases, LayerNorm scale and bias), a CONST elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, Op, Tensor, TensorKind
from tpusim.ir.ops import OpKind as K
from tpusim.passes.fusion import (
    fuse_gelu,
    fuse_hardswish,
    fuse_layernorm,
    fuse_matmul_bias,
    fuse_relu,
    fuse_silu,
)
from tpusim.passes.permutes import is_identity
from tpusim.passes.rewrite import Rewrite, axis_box, use_counts

Pass = Callable[[Graph], Graph]


def _opaque_type(op: Op) -> str | None:
    return op.attr("op_type") if op.kind is K.OPAQUE else None


def _is_identity(op: Op, g: Graph) -> bool:
    src, out = g.tensors[op.inputs[0]] if op.inputs else None, g.tensors[op.outputs[0]]
    if src is None:
        return False
    if _opaque_type(op) in ("Identity", "Dropout"):
        return True
    if op.kind is K.CAST:
        to = DType.parse(op.attr("to")) if op.attr("to") else out.dtype
        return src.dtype is to or (src.dtype.is_float and to.is_float)
    if op.kind is K.PAD:
        return not any(op.attr("pads"))
    if op.kind is K.PERMUTE:
        return is_identity(op.attr("order"))
    if op.kind is K.SLICE:
        return src.shape == out.shape and set(op.attr("steps")) == {1}
    return op.kind in (K.RESHAPE, K.EXPAND) and src.shape == out.shape


def remove_identities(graph: Graph) -> Graph:
    rw = Rewrite(graph)
    uses = use_counts(graph)
    for op in graph.ops:
        extra_used = any(uses.get(t) for t in op.outputs[1:])
        if not extra_used and _is_identity(op, graph):
            rw.alias(op.outputs[0], op.inputs[0])
            rw.remove(op)
    return rw.build()


def fold_constants(graph: Graph) -> Graph:
    rw = Rewrite(graph)
    constant = {n for n, t in graph.tensors.items() if t.is_constant}
    for op in graph.ops:
        if all(t in constant for t in op.inputs):
            rw.remove(op)
            for t in op.outputs:
                old = graph.tensors[t]
                rw.add_tensor(Tensor(t, old.shape, old.dtype, TensorKind.CONST))
                constant.add(t)
    return rw.build()


def _transposed_constant(rw: Rewrite, name: str) -> str:
    """A constant 2-D tensor transposed at compile time (a new tensor; values are not kept)."""
    t = rw.tensor(name)
    return rw.add_tensor(Tensor(rw.fresh(f"{name}.T"), t.shape[::-1], t.dtype, t.kind))


def _gemm_as_matmul(op: Op, graph: Graph, rw: Rewrite) -> list[Op]:
    a, b, *rest = op.inputs
    c = rest[0] if rest else None
    const = {t: graph.tensors[t].is_constant for t in op.inputs}
    out = graph.tensors[op.outputs[0]]
    ops: list[Op] = []

    def emit(kind: K, inputs: list[str], stem: str, **attrs: object) -> str:
        name = rw.fresh(stem)
        shape = graph.tensors[inputs[0]].shape[::-1] if kind is K.PERMUTE else out.shape
        rw.add_tensor(Tensor(name, shape, out.dtype))
        ops.append(Op(kind, name, tuple(inputs), (name,), attrs))
        return name

    if op.attr("transA"):
        a = _transposed_constant(rw, a) if const[a] else emit(
            K.PERMUTE, [a], f"{op.name}.transpose_a", order=(1, 0))
    attrs: dict[str, object] = {}
    if op.attr("transB"):
        if const[b]:
            b = _transposed_constant(rw, b)
        else:
            attrs["right_transpose"] = True
    n = out.shape[-1]
    bias = graph.tensors[c] if c is not None else None
    bias_in_matmul = bias is not None and bias.is_constant and bias.numel == n \
        and bias.shape[-1] == n
    y = emit(K.MATMUL, [a, b, c] if bias_in_matmul else [a, b], op.name, **attrs)
    # alpha and beta fold into constant operands at compile time; otherwise they cost an op
    if op.attr("alpha", 1.0) != 1.0 and not const[b]:
        y = emit(K.MULCONST, [y], f"{op.name}.alpha", const=op.attr("alpha"))
    if c is not None and not bias_in_matmul:
        emit(K.ADD, [y, c], f"{op.name}.bias")
    last = ops[-1]
    ops[-1] = Op(last.kind, last.name, last.inputs, op.outputs, last.attrs)
    return ops


def gemm_to_matmul(graph: Graph) -> Graph:
    rw = Rewrite(graph)
    for op in graph.ops:
        if _opaque_type(op) == "Gemm":
            rw.replace(op, *_gemm_as_matmul(op, graph, rw))
    return rw.build()


def fold_batchnorm(graph: Graph) -> Graph:
    rw = Rewrite(graph)
    producers, uses = graph.producers(), use_counts(graph)
    for op in graph.ops:
        if _opaque_type(op) != "BatchNormalization":
            continue
        x = graph.tensors[op.inputs[0]]
        conv = producers.get(x.name)
        if (conv is not None and conv.kind is K.CONV2D and uses.get(x.name) == 1
                and graph.tensors[conv.inputs[1]].is_constant and not rw.claimed(conv)):
            oc = graph.tensors[conv.inputs[1]].shape[0]
            bias = conv.inputs[2] if len(conv.inputs) > 2 else rw.add_tensor(
                Tensor(rw.fresh(f"{conv.name}.bias"), (oc,), x.dtype, TensorKind.WEIGHT))
            rw.replace(conv, Op(K.CONV2D, conv.name, (*conv.inputs[:2], bias), op.outputs,
                                conv.attrs))
            rw.remove(op)
            continue
        # a lone BatchNormalization: y = x * scale + shift, per channel (axis 1)
        per_channel = (x.shape[1],) + (1,) * (len(x.shape) - 2)
        scale, shift = (rw.add_tensor(Tensor(rw.fresh(f"{op.name}.{what}"), per_channel,
                                             x.dtype, TensorKind.CONST))
                        for what in ("scale", "shift"))
        scaled = rw.add_tensor(Tensor(rw.fresh(f"{op.name}.scaled"), x.shape, x.dtype))
        rw.replace(op, Op(K.MUL, rw.fresh(f"{op.name}.mul"), (x.name, scale), (scaled,)),
                   Op(K.ADD, op.name, (scaled, shift), op.outputs))
    return rw.build()


def gather_to_slice(graph: Graph) -> Graph:
    rw = Rewrite(graph)
    for op in graph.ops:
        indices = op.attr("indices")
        if op.kind is not K.GATHER or indices is None:
            continue
        x, out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        axis = op.attr("axis", 0) % len(x.shape)
        first, count = indices[0], len(indices)
        if tuple(op.attr("indices_shape")) == ():  # x[i]: Slice then Squeeze
            sliced = (*x.shape[:axis], 1, *x.shape[axis + 1:])
            mid = rw.add_tensor(Tensor(rw.fresh(f"{op.name}.slice"), sliced, x.dtype))
            rw.replace(op, Op(K.SLICE, mid, (x.name,), (mid,),
                              axis_box(x.shape, axis, first, first + 1)),
                       Op(K.SQUEEZE, rw.fresh(f"{op.name}.squeeze"), (mid,), op.outputs,
                          {"axes": (axis,)}))
        elif list(indices) == list(range(x.shape[axis])):  # every index in order: a view
            if out.shape == x.shape:
                rw.alias(out.name, x.name)
                rw.remove(op)
            else:
                rw.replace(op, Op(K.RESHAPE, op.name, op.inputs, op.outputs,
                                  {"shape": out.shape}))
        elif len(op.attr("indices_shape")) == 1 and list(indices) == list(
                range(first, first + count)):  # a contiguous range
            rw.replace(op, Op(K.SLICE, op.name, op.inputs, op.outputs,
                              axis_box(x.shape, axis, first, first + count)))
    return rw.build()


_SCALAR_FORMS = {K.MUL: K.MULCONST, K.DIV: K.MULCONST, K.ADD: K.ADDCONST, K.SUB: K.ADDCONST}


def scalar_to_const_ops(graph: Graph) -> Graph:
    rw = Rewrite(graph)
    for op in graph.ops:
        if op.kind not in _SCALAR_FORMS:
            continue
        a, b = (graph.tensors[t] for t in op.inputs)
        out = graph.tensors[op.outputs[0]]
        one = [t.is_constant and t.numel == 1 for t in (a, b)]
        if one[0] == one[1]:
            continue
        x = b if one[0] else a
        if x.shape != out.shape or (one[0] and op.kind in (K.DIV, K.SUB)):
            continue  # the constant broadcasts x up, or is the dividend / minuend
        value = op.attr("scalar")
        if value is not None and op.kind is K.DIV:
            value = 1.0 / value if value else None
        elif value is not None and op.kind is K.SUB:
            value = -value
        rw.replace(op, Op(_SCALAR_FORMS[op.kind], op.name, (x.name,), op.outputs,
                          {"const": value}))
    return rw.build()


def _chain(graph: Graph, kind: K, merge: Callable[[Op, Op, Graph], Op | None]) -> Graph:
    """Ops of `kind` that read an op of the same kind read its input instead (merged)."""
    rw = Rewrite(graph)
    current: dict[str, Op] = {}  # tensor -> the (possibly merged) op of `kind` writing it
    for op in graph.ops:
        inner = current.get(op.inputs[0]) if op.kind is kind else None
        merged = merge(inner, op, graph) if inner is not None else None
        if merged is not None:
            rw.replace(op, merged)
            op = merged
        if op.kind is kind:
            current[op.outputs[0]] = op
    return rw.build()


def _merge_reshape(inner: Op, outer: Op, g: Graph) -> Op:
    return Op(K.RESHAPE, outer.name, inner.inputs[:1], outer.outputs, outer.attrs)


def _merge_slice(inner: Op, outer: Op, g: Graph) -> Op:
    shape = g.tensors[inner.inputs[0]].shape
    starts, ends, steps = [], [], []
    for d, b1, e1, s1, b2, e2, s2 in zip(shape, *(inner.attr(k) for k in ("starts", "ends",
                                                                            "steps")),
                                         *(outer.attr(k) for k in ("starts", "ends", "steps"))):
        picked = range(*slice(b1, e1, s1).indices(d))[slice(b2, e2, s2)]
        starts.append(picked.start)
        ends.append(min(d, picked.start + (len(picked) - 1) * picked.step + 1))
        steps.append(picked.step)
    attrs = {"starts": tuple(starts), "ends": tuple(ends), "steps": tuple(steps)}
    return Op(K.SLICE, outer.name, inner.inputs[:1], outer.outputs, attrs)


def merge_reshapes(graph: Graph) -> Graph:
    return _chain(graph, K.RESHAPE, _merge_reshape)


def merge_slices(graph: Graph) -> Graph:
    return _chain(graph, K.SLICE, _merge_slice)


def drop_dead_ops(graph: Graph) -> Graph:
    needed = set(graph.outputs)
    kept: list[Op] = []
    for op in reversed(graph.ops):
        if any(t in needed for t in op.outputs):
            kept.append(op)
            needed.update(op.inputs)
    return graph.rebuilt(reversed(kept))


# (kind, input index) pairs where a constant is a layer's learned parameter
_PARAMETER_SLOTS = {(K.MATMUL, 1), (K.MATMUL, 2), (K.CONV2D, 1), (K.CONV2D, 2),
                    (K.LAYERNORM, 1), (K.LAYERNORM, 2)}


def classify_constants(graph: Graph) -> Graph:
    params = {t for op in graph.ops for i, t in enumerate(op.inputs)
              if (op.kind, i) in _PARAMETER_SLOTS}
    tensors = dict(graph.tensors)
    for name, t in graph.tensors.items():
        if t.is_constant:
            kind = TensorKind.WEIGHT if name in params else TensorKind.CONST
            tensors[name] = Tensor(name, t.shape, t.dtype, kind)
    return graph.rebuilt(graph.ops, tensors)


PIPELINE: tuple[Pass, ...] = (
    remove_identities,
    fold_constants,
    gemm_to_matmul,
    fold_batchnorm,
    gather_to_slice,
    scalar_to_const_ops,
    fuse_gelu,
    fuse_layernorm,
    fuse_silu,
    fuse_hardswish,
    fuse_matmul_bias,
    fuse_relu,
    merge_reshapes,
    merge_slices,
    remove_identities,
    drop_dead_ops,
    classify_constants,
)


def canonicalize(graph: Graph, passes: tuple[Pass, ...] = PIPELINE) -> Graph:
    for run in passes:
        graph = run(graph)
    return graph
