"""Values of ONNX nodes whose inputs are all known: the shape arithmetic of exported models.

tpusim's IR keeps reshape targets, slice bounds, axes and gather indices as static attributes,
so the importer evaluates the integer arithmetic that computes them (Shape -> Gather -> Concat
-> Reshape, Range, ConstantOfShape -> ScatterND, ...) while it reads the file. Only the
operators such arithmetic uses are here. `evaluate` returns None when a result would be too
large to be worth computing; the importer then imports the node as an op on constants, which
canonicalisation folds into a constant tensor (its shape is all timing needs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tpusim.frontend.onnx_proto import Node, reshape_target, split_sizes

# Results larger than this are not computed (a mask or a table; its values are never needed).
MAX_ELEMENTS = 1 << 20


Args = Sequence[np.ndarray | None]
_Eval = Callable[[Node, Args, int], list[np.ndarray] | None]


def int_param(node: Node, args: Args, index: int, attr: str | None) -> list[int] | None:
    """An integer list given as attribute `attr` (older opsets) or as input `index` (newer)."""
    if attr is not None and attr in node.attrs:
        return [int(v) for v in node.attrs[attr]]
    if index < len(args) and args[index] is not None:
        return [int(v) for v in np.asarray(args[index]).reshape(-1)]
    return None


def evaluate(node: Node, args: Args, opset: int) -> list[np.ndarray] | None:
    """The node's output values, or None when tpusim does not compute this one."""
    fn = _EVALUATORS.get(node.op_type)
    return None if fn is None else fn(node, args, opset)


def _too_big(shape: Sequence[int]) -> bool:
    return math.prod(max(0, int(d)) for d in shape) > MAX_ELEMENTS  # exact: no int64 wrap


def _one(fn: Callable[..., np.ndarray]) -> _Eval:
    """An evaluator of a single-output operator from a function of the input arrays; not
    computed when the inputs broadcast to more than MAX_ELEMENTS elements."""

    def run(node: Node, args: Args, opset: int) -> list[np.ndarray] | None:
        arrays = [np.asarray(a) for a in args if a is not None]
        if _too_big(np.broadcast_shapes(*(a.shape for a in arrays))):
            return None
        return [np.asarray(fn(*arrays))]

    return run


def _tensor_value(t: Any) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(t)


def _constant(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    for key in ("value_float", "value_int"):
        if key in node.attrs:
            return [np.array(node.attrs[key], np.float32 if key == "value_float" else np.int64)]
    for key in ("value_floats", "value_ints"):
        if key in node.attrs:
            dtype = np.float32 if key == "value_floats" else np.int64
            return [np.array(node.attrs[key], dtype)]
    if "value" in node.attrs:
        return [_tensor_value(node.attrs["value"])]
    raise ValueError("Constant node holds no value tpusim can read")


def _constant_of_shape(node: Node, args: Args, opset: int) -> list[np.ndarray] | None:
    shape = [int(d) for d in np.asarray(args[0]).reshape(-1)]
    if _too_big(shape):
        return None
    fill = _tensor_value(node.attrs["value"]) if "value" in node.attrs else np.zeros(1, np.float32)
    return [np.full(shape, fill.reshape(-1)[0], dtype=fill.dtype)]


def _cast(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    from onnx import helper

    return [np.asarray(args[0]).astype(helper.tensor_dtype_to_np_dtype(node.attrs["to"]))]


def _reshape(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    x = np.asarray(args[0])
    target = [int(d) for d in np.asarray(args[1]).reshape(-1)]
    return [x.reshape(reshape_target(x.shape, target, node.attr("allowzero", 0)))]


def _flatten(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    x = np.asarray(args[0])
    axis = node.attr("axis", 1) % max(1, x.ndim) if x.ndim else 0
    return [x.reshape(int(np.prod(x.shape[:axis])), -1)]


def _squeeze(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    x = np.asarray(args[0])
    axes = int_param(node, args, 1, "axes")
    return [np.squeeze(x) if not axes else np.squeeze(x, axis=tuple(axes))]


def _unsqueeze(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    x = np.asarray(args[0])
    axes = int_param(node, args, 1, "axes") or []
    rank = x.ndim + len(axes)
    for a in sorted(a % rank for a in axes):
        x = np.expand_dims(x, a)
    return [x]


def _transpose(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    perm = node.attr("perm")
    return [np.transpose(np.asarray(args[0]), None if perm is None else list(perm))]


def _concat(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    parts = [np.asarray(a) for a in args if a is not None]
    return [np.concatenate(parts, axis=node.attrs["axis"])]


def _gather(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    x, idx = np.asarray(args[0]), np.asarray(args[1]).astype(np.int64)
    axis = node.attr("axis", 0)
    if -x.ndim <= axis < x.ndim:  # (a bad axis is left for np.take to report)
        a = axis % x.ndim
        if _too_big([*x.shape[:a], *idx.shape, *x.shape[a + 1:]]):
            return None
    return [np.take(x, idx, axis=axis)]


def _slice(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    x = np.asarray(args[0])
    starts = int_param(node, args, 1, "starts") or []
    ends = int_param(node, args, 2, "ends") or []
    axes = int_param(node, args, 3, "axes") or list(range(len(starts)))
    steps = int_param(node, args, 4, None) or [1] * len(starts)
    box = [slice(None)] * x.ndim
    for a, b, e, s in zip(axes, starts, ends, steps):
        box[a % x.ndim] = slice(b, e, s)
    return [x[tuple(box)]]


def _expand(node: Node, args: Args, opset: int) -> list[np.ndarray] | None:
    x = np.asarray(args[0])
    shape = np.broadcast_shapes(x.shape, tuple(int(d) for d in np.asarray(args[1]).reshape(-1)))
    return None if _too_big(shape) else [np.broadcast_to(x, shape).copy()]


def _tile(node: Node, args: Args, opset: int) -> list[np.ndarray] | None:
    x, reps = np.asarray(args[0]), [int(r) for r in np.asarray(args[1]).reshape(-1)]
    if _too_big([d * r for d, r in zip(x.shape, reps)]):
        return None
    return [np.tile(x, reps)]


def _range(node: Node, args: Args, opset: int) -> list[np.ndarray] | None:
    start, limit, delta = (np.asarray(a).reshape(-1)[0] for a in args[:3])
    if delta == 0 or not np.isfinite((limit - start) / delta) \
            or (limit - start) / delta > MAX_ELEMENTS:
        return None
    return [np.arange(start, limit, delta, dtype=np.asarray(args[0]).dtype)]


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(np.result_type(a, b), np.integer):  # ONNX integer division truncates
        return np.trunc(np.true_divide(a, b)).astype(np.result_type(a, b))
    return np.true_divide(a, b)


def _where(cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(cond, x, y)


def _reduce(fn: Callable[..., np.ndarray]) -> _Eval:
    def run(node: Node, args: Args, opset: int) -> list[np.ndarray]:
        x = np.asarray(args[0])
        axes = int_param(node, args, 1, "axes")
        keep = bool(node.attr("keepdims", 1))
        if not axes:
            if node.attr("noop_with_empty_axes", 0):
                return [x]
            axes = list(range(x.ndim))
        return [fn(x, axis=tuple(a % x.ndim for a in axes), keepdims=keep)]

    return run


def _scatter_nd(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    data = np.array(args[0], copy=True)
    idx, upd = np.asarray(args[1]).astype(np.int64), np.asarray(args[2])
    flat_idx = idx.reshape(-1, idx.shape[-1])
    flat_upd = upd.reshape((flat_idx.shape[0], *data.shape[idx.shape[-1]:]))
    for where, value in zip(flat_idx, flat_upd):
        data[tuple(where)] = value
    return [data]


def _split(node: Node, args: Args, opset: int) -> list[np.ndarray]:
    x = np.asarray(args[0])
    axis = node.attr("axis", 0) % x.ndim
    sizes = int_param(node, args, 1, "split")
    if sizes is None:
        sizes = split_sizes(x.shape[axis], len(node.outputs))
    cuts = np.cumsum(sizes)[:-1]
    return list(np.split(x, cuts, axis=axis))


_EVALUATORS: dict[str, _Eval] = {
    "Constant": _constant,
    "ConstantOfShape": _constant_of_shape,
    "Identity": _one(lambda x: x),
    "Dropout": lambda node, args, opset: [np.asarray(args[0])],
    "Cast": _cast,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Transpose": _transpose,
    "Concat": _concat,
    "Gather": _gather,
    "Slice": _slice,
    "Split": _split,
    "Expand": _expand,
    "Tile": _tile,
    "Range": _range,
    "ScatterND": _scatter_nd,
    "Add": _one(np.add),
    "Sub": _one(np.subtract),
    "Mul": _one(np.multiply),
    "Div": _one(_div),
    "Mod": _one(np.mod),
    "Pow": _one(np.power),
    "Neg": _one(np.negative),
    "Abs": _one(np.abs),
    "Sqrt": _one(np.sqrt),
    "Exp": _one(np.exp),
    "Log": _one(np.log),
    "Floor": _one(np.floor),
    "Ceil": _one(np.ceil),
    "Sign": _one(np.sign),
    "Max": _one(lambda *xs: np.maximum.reduce(np.broadcast_arrays(*xs))),
    "Min": _one(lambda *xs: np.minimum.reduce(np.broadcast_arrays(*xs))),
    "Equal": _one(np.equal),
    "Less": _one(np.less),
    "LessOrEqual": _one(np.less_equal),
    "Greater": _one(np.greater),
    "GreaterOrEqual": _one(np.greater_equal),
    "Not": _one(np.logical_not),
    "And": _one(np.logical_and),
    "Or": _one(np.logical_or),
    "Xor": _one(np.logical_xor),
    "Where": _one(_where),
    "ReduceProd": _reduce(np.prod),
    "ReduceSum": _reduce(np.sum),
    "ReduceMax": _reduce(np.max),
    "ReduceMin": _reduce(np.min),
}

EVALUATED_OPS = frozenset(_EVALUATORS)
