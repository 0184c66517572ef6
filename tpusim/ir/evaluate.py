"""A reference evaluator of the IR with numpy, in float64: what a graph computes.

Used to check that rewrites preserve meaning: evaluate a graph before and after on the same
random inputs and constants. Dtypes are ignored (Casts are identities). Not fast; meant for
small graphs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from tpusim.errors import UnsupportedOperatorError
from tpusim.ir.graph import Graph, Op
from tpusim.ir.ops import OpKind as K

Array = np.ndarray
_erf = np.vectorize(math.erf, otypes=[float])


def random_values(graph: Graph, seed: int = 0) -> dict[str, Array]:
    """Random inputs and constants for every graph input and constant tensor."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(t.shape) for name, t in sorted(graph.tensors.items())
            if name in graph.inputs or t.is_constant}


def evaluate(graph: Graph, values: Mapping[str, Array]) -> dict[str, Array]:
    """The graph's outputs given values for its inputs and constants (extra values ignored)."""
    env: dict[str, Array] = dict(values)
    for op in graph.ops:
        args = [env[t] for t in op.inputs]
        result = _EVAL[op.kind](op, args) if op.kind in _EVAL else None
        if result is None:
            raise UnsupportedOperatorError(f"op {op.name!r}: cannot evaluate {op.kind.value}")
        outs = result if isinstance(result, list) else [result]
        for name, value in zip(op.outputs, outs):
            env[name] = np.asarray(value, dtype=float).reshape(graph.tensors[name].shape)
    return {t: env[t] for t in graph.outputs}


def _matmul(op: Op, a: list[Array]) -> Array:
    left, right = a[0], a[1]
    if op.attr("hdim_is_batch"):  # [B, M, H, K] x [B, K, H, N] (or [B, N, H, K] transposed)
        left = left.transpose(0, 2, 1, 3)
        right = right.transpose(0, 2, 3, 1) if op.attr("right_transpose") else \
            right.transpose(0, 2, 1, 3)
        out = (left @ right).transpose(0, 2, 1, 3)
    else:
        if op.attr("right_transpose"):
            right = np.swapaxes(right, -1, -2)
        out = left @ right
    return out + a[2] if len(a) > 2 else out


def _conv(op: Op, a: list[Array]) -> Array:
    x, w = a[0], a[1]
    sh, sw = op.attr("strides", (1, 1))
    pt, pl, pb, pr = op.attr("pads", (0, 0, 0, 0))
    dh, dw = op.attr("dilations", (1, 1))
    groups = op.attr("group", 1)
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, _, h, wd = x.shape
    oc, icg, kh, kw = w.shape
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (wd - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, oc, oh, ow))
    ocg = oc // groups
    for gi in range(groups):
        xs = x[:, gi * icg:(gi + 1) * icg]
        ws = w[gi * ocg:(gi + 1) * ocg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dh:i * dh + sh * oh:sh, j * dw:j * dw + sw * ow:sw]
                out[:, gi * ocg:(gi + 1) * ocg] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    return out + a[2].reshape(1, -1, 1, 1) if len(a) > 2 else out


def _pool(op: Op, a: list[Array]) -> Array:
    kh, kw = op.attr("kernel")
    sh, sw = op.attr("strides", (kh, kw))
    pt, pl, pb, pr = op.attr("pads", (0, 0, 0, 0))
    is_max = op.kind is K.MAXPOOL
    x = np.pad(a[0], ((0, 0), (0, 0), (pt, pb), (pl, pr)),
               constant_values=-np.inf if is_max else 0.0)
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    windows = [x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] for i in range(kh) for j in range(kw)]
    stack = np.stack(windows)
    return stack.max(axis=0) if is_max else stack.mean(axis=0)


def _layernorm(op: Op, a: list[Array]) -> Array:
    x = a[0]
    axes = tuple(range(op.attr("axis", -1) % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + op.attr("eps", 1e-5))
    if len(a) > 1:
        y = y * a[1]
    return y + a[2] if len(a) > 2 else y


def _softmax(op: Op, a: list[Array]) -> Array:
    x = a[0]
    axis = op.attr("axis", -1)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _slice(op: Op, a: list[Array]) -> Array:
    index = tuple(slice(b, e, s) for b, e, s in zip(op.attr("starts"), op.attr("ends"),
                                                     op.attr("steps")))
    return a[0][index]


def _reduce(fn: Callable[..., Array]) -> Callable[[Op, list[Array]], Array]:
    return lambda op, a: fn(a[0], axis=tuple(op.attr("axes")),
                            keepdims=op.attr("keepdims", True))


def _pad(op: Op, a: list[Array]) -> Array:
    x, pads = a[0], op.attr("pads")
    return np.pad(x, [(pads[i], pads[i + x.ndim]) for i in range(x.ndim)],
                  constant_values=op.attr("value", 0.0))


def _gather(op: Op, a: list[Array]) -> Array:
    axis = op.attr("axis", 0)
    if len(a) > 1:  # run-time indices, wrapped into range
        return np.take(a[0], np.asarray(a[1]).astype(int) % a[0].shape[axis], axis=axis)
    indices = np.asarray(op.attr("indices"), dtype=int).reshape(op.attr("indices_shape"))
    return np.take(a[0], indices, axis=axis)


def _gathernd(op: Op, a: list[Array]) -> Array:
    data, indices = a[0], np.asarray(a[1]).astype(int)
    batch = op.attr("batch_dims", 0)
    k = indices.shape[-1]
    bounds = np.array(data.shape[batch:batch + k])
    flat_b = int(np.prod(data.shape[:batch], dtype=int))
    d = data.reshape((flat_b, *data.shape[batch:]))
    idx = (indices % bounds).reshape(flat_b, -1, k)
    rows = [d[b][tuple(idx[b].T)] for b in range(flat_b)]
    return np.stack(rows)


def _attention(op: Op, a: list[Array]) -> Array:
    q, k, v = (x.transpose(0, 2, 1, 3) for x in a[:3])  # [B, H, M|N, D]
    scores = q @ k.transpose(0, 1, 3, 2) * op.attr("scale", 1.0)
    if len(a) > 3:
        scores = scores + a[3]
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    out = (p / p.sum(axis=-1, keepdims=True)) @ v  # [B, H, M, D]
    return out.transpose(0, 2, 1, 3).reshape(q.shape[0], q.shape[2], -1)


_COMPARE: dict[str, Callable[[Array, Array], Array]] = {
    "Equal": np.equal, "Less": np.less, "LessOrEqual": np.less_equal, "Greater": np.greater,
    "GreaterOrEqual": np.greater_equal, "And": lambda x, y: (x != 0) & (y != 0),
    "Or": lambda x, y: (x != 0) | (y != 0), "Xor": lambda x, y: (x != 0) ^ (y != 0),
}


def _upsample(op: Op, a: list[Array]) -> Array:
    x = a[0]
    for axis, s in enumerate(op.attr("scales")):
        if s != 1:
            x = np.repeat(x, int(s), axis=axis)
    return x


_EVAL: dict[K, Callable[[Op, list[Array]], Array | list[Array] | None]] = {
    K.ADD: lambda op, a: a[0] + a[1],
    K.SUB: lambda op, a: a[0] - a[1],
    K.MUL: lambda op, a: a[0] * a[1],
    K.DIV: lambda op, a: a[0] / a[1],
    K.MAX: lambda op, a: np.maximum(a[0], a[1]),
    K.MIN: lambda op, a: np.minimum(a[0], a[1]),
    K.POW: lambda op, a: np.abs(a[0]) ** a[1],
    K.MULCONST: lambda op, a: a[0] * op.attr("const"),
    K.ADDCONST: lambda op, a: a[0] + op.attr("const"),
    K.RELU: lambda op, a: np.maximum(a[0], 0.0),
    K.CLIP: lambda op, a: np.clip(a[0], op.attr("min", -np.inf), op.attr("max", np.inf)),
    K.SIGMOID: lambda op, a: 1.0 / (1.0 + np.exp(-a[0])),
    K.HARDSIGMOID: lambda op, a: np.clip(a[0] * op.attr("alpha", 0.2) + op.attr("beta", 0.5),
                                         0.0, 1.0),
    K.HARDSWISH: lambda op, a: a[0] * np.clip(a[0] / 6.0 + 0.5, 0.0, 1.0),
    K.SILU: lambda op, a: a[0] / (1.0 + np.exp(-a[0])),
    K.GELU: lambda op, a: 0.5 * a[0] * (1.0 + _erf(a[0] / math.sqrt(2.0))),
    K.TANH: lambda op, a: np.tanh(a[0]),
    K.ERF: lambda op, a: _erf(a[0]),
    K.EXP: lambda op, a: np.exp(a[0]),
    K.LOG: lambda op, a: np.log(np.abs(a[0]) + 1e-12),
    K.SQRT: lambda op, a: np.sqrt(np.abs(a[0])),
    K.RSQRT: lambda op, a: 1.0 / np.sqrt(np.abs(a[0]) + 1e-12),
    K.ABS: lambda op, a: np.abs(a[0]),
    K.CAST: lambda op, a: a[0],
    K.MATMUL: _matmul,
    K.CONV2D: _conv,
    K.MAXPOOL: _pool,
    K.AVGPOOL: _pool,
    K.LAYERNORM: _layernorm,
    K.SOFTMAX: _softmax,
    K.REDUCE_MEAN: _reduce(np.mean),
    K.REDUCE_SUM: _reduce(np.sum),
    K.REDUCE_MAX: _reduce(np.max),
    K.RESHAPE: lambda op, a: a[0],  # evaluate() reshapes every result to its tensor's shape
    K.SQUEEZE: lambda op, a: a[0],
    K.UNSQUEEZE: lambda op, a: a[0],
    K.PERMUTE: lambda op, a: a[0].transpose(op.attr("order")),
    K.SLICE: _slice,
    K.CONCAT: lambda op, a: np.concatenate(a, axis=op.attr("axis")),
    K.PAD: _pad,
    K.GATHER: lambda op, a: _gather(op, a) if len(a) > 1 or op.attr("indices") is not None
    else None,
    K.GATHERND: _gathernd,
    K.COMPARE: lambda op, a: _COMPARE[op.attr("mode")](a[0], a[1] if len(a) > 1
                                                        else op.attr("const", 0.0)),
    K.NOT: lambda op, a: a[0] == 0,
    K.WHERE: lambda op, a: np.where(a[0] != 0, a[1], a[2]),
    K.ATTENTION: _attention,
    K.EXPAND: lambda op, a: np.broadcast_to(a[0], op.attr("shape")),
    K.UPSAMPLE: _upsample,
}
