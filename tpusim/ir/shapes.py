"""Shape inference: the output shapes of an op from its input shapes and attributes."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tpusim.errors import GraphError
from tpusim.ir.ops import BINARY, UNARY, OpKind

Shape = tuple[int, ...]
_Rule = Callable[[list[Shape], Mapping[str, Any]], list[Shape]]


class _Bad(Exception):
    """Raised inside a rule; turned into a GraphError naming the op."""


def infer(kind: OpKind, shapes: Sequence[Sequence[int]], attrs: Mapping[str, Any],
          op_name: str = "?") -> list[Shape]:
    """Output shapes of an op, or a GraphError naming the op and the problem."""
    shapes = [tuple(int(d) for d in s) for s in shapes]
    rule = _RULES.get(kind)
    if rule is None:
        raise GraphError(f"op {op_name!r}: no shape rule for {kind.value}")
    try:
        out = rule(shapes, attrs)
    except _Bad as exc:
        raise GraphError(f"op {op_name!r} ({kind.value}): {exc}") from None
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise GraphError(f"op {op_name!r} ({kind.value}): bad inputs or attributes ({exc})") \
            from None
    for s in out:
        if any(d <= 0 for d in s):
            raise GraphError(f"op {op_name!r} ({kind.value}): empty output shape {list(s)}")
    return out


def broadcast(a: Shape, b: Shape) -> Shape:
    """numpy broadcasting of two shapes."""
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise _Bad(f"shapes {list(a)} and {list(b)} do not broadcast")
        out.append(max(x, y))
    return tuple(out)


def norm_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise _Bad(f"axis {axis} out of range for rank {rank}")
    return axis % rank


def _need(shapes: list[Shape], n: int, most: int | None = None) -> None:
    most = n if most is None else most
    if not n <= len(shapes) <= most:
        raise _Bad(f"expects {n}{'' if most == n else f'-{most}'} inputs, got {len(shapes)}")


def _binary(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 2)
    return [broadcast(shapes[0], shapes[1])]


def _compare(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    """Two masks, or one against the constant `const` (tpu-mlir's CompareConst)."""
    _need(shapes, 1, 2)
    return [broadcast(shapes[0], shapes[-1])]


def _unary(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    return [shapes[0]]


def matmul_dims(a: Shape, b: Shape, attrs: Mapping[str, Any]) -> tuple[Shape, int, int, int]:
    """(batch shape, M, K, N) of a MatMul; checks that K agrees."""
    if attrs.get("hdim_is_batch"):
        if len(a) != 4 or len(b) != 4:
            raise _Bad("hdim_is_batch needs 4-D operands [B, M, H, K]")
        bt, m, h, k = a
        if attrs.get("right_transpose"):
            b_batch, n, b_h, kb = b
        else:
            b_batch, kb, b_h, n = b
        if (b_batch, b_h) != (bt, h):
            raise _Bad(f"hdim_is_batch operands {list(a)} and {list(b)} disagree on B or H")
        batch: Shape = (bt, h)
    else:
        if len(a) < 2 or len(b) < 2:
            raise _Bad("operands must have rank >= 2")
        m, k = a[-2:]
        n, kb = (b[-2], b[-1]) if attrs.get("right_transpose") else (b[-1], b[-2])
        batch = broadcast(a[:-2], b[:-2])
    if k != kb:
        raise _Bad(f"inner dimensions differ: {list(a)} x {list(b)}")
    return batch, m, k, n


def _matmul(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 2, 3)
    a, b = shapes[0], shapes[1]
    batch, m, _, n = matmul_dims(a, b, attrs)
    if attrs.get("hdim_is_batch"):
        out: Shape = (batch[0], m, batch[1], n)
    else:
        out = (*batch, m, n)
    if len(shapes) == 3 and broadcast(out, shapes[2]) != out:
        raise _Bad(f"bias {list(shapes[2])} does not broadcast to {list(out)}")
    return [out]


def conv_out(size: int, k: int, stride: int, pad0: int, pad1: int, dil: int) -> int:
    return (size + pad0 + pad1 - dil * (k - 1) - 1) // stride + 1


def _conv(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 2, 3)
    x, w = shapes[0], shapes[1]
    if len(x) != 4 or len(w) != 4:
        raise _Bad("Conv2D needs a 4-D input [N,C,H,W] and weight [OC,C/g,KH,KW]")
    g = attrs.get("group", 1)
    sh, sw = attrs.get("strides", (1, 1))
    pt, pl, pb, pr = attrs.get("pads", (0, 0, 0, 0))
    dh, dw = attrs.get("dilations", (1, 1))
    if x[1] % g or w[0] % g or w[1] * g != x[1]:
        raise _Bad(f"input channels {x[1]} and weight {list(w)} disagree for group {g}")
    oh = conv_out(x[2], w[2], sh, pt, pb, dh)
    ow = conv_out(x[3], w[3], sw, pl, pr, dw)
    if len(shapes) == 3 and math.prod(shapes[2]) != w[0]:
        raise _Bad(f"bias {list(shapes[2])} does not match {w[0]} output channels")
    return [(x[0], w[0], oh, ow)]


def _pool(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    x = shapes[0]
    if len(x) != 4:
        raise _Bad("pooling needs a 4-D input [N,C,H,W]")
    kh, kw = attrs["kernel"]
    sh, sw = attrs.get("strides", (kh, kw))
    pt, pl, pb, pr = attrs.get("pads", (0, 0, 0, 0))
    return [(x[0], x[1], conv_out(x[2], kh, sh, pt, pb, 1), conv_out(x[3], kw, sw, pl, pr, 1))]


def _layernorm(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1, 3)
    norm_axis(attrs.get("axis", -1), len(shapes[0]))
    return [shapes[0]]


def _softmax(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    norm_axis(attrs.get("axis", -1), len(shapes[0]))
    return [shapes[0]]


def _reduce(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    x = shapes[0]
    axes = {norm_axis(a, len(x)) for a in attrs["axes"]}
    if attrs.get("keepdims", True):
        return [tuple(1 if i in axes else d for i, d in enumerate(x))]
    out = tuple(d for i, d in enumerate(x) if i not in axes)
    return [out or (1,)]


def reshape_target(x: Shape, target: Sequence[int]) -> Shape:
    target = [int(d) for d in target]
    if target.count(-1) > 1:
        raise _Bad("reshape target has more than one -1")
    if -1 in target:
        known = math.prod(d for d in target if d != -1)
        if known == 0 or math.prod(x) % known:
            raise _Bad(f"cannot reshape {list(x)} to {target}")
        target[target.index(-1)] = math.prod(x) // known
    if math.prod(target) != math.prod(x):
        raise _Bad(f"cannot reshape {list(x)} ({math.prod(x)} elements) to {target}")
    return tuple(target)


def _reshape(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    return [reshape_target(shapes[0], attrs["shape"])]


def _squeeze(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    x = shapes[0]
    axes = {norm_axis(a, len(x)) for a in attrs["axes"]}
    if any(x[a] != 1 for a in axes):
        raise _Bad(f"cannot squeeze axes {sorted(axes)} of {list(x)}")
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


def _unsqueeze(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    out = list(shapes[0])
    rank = len(out) + len(attrs["axes"])
    for a in sorted(norm_axis(a, rank) for a in attrs["axes"]):
        out.insert(a, 1)
    return [tuple(out)]


def _permute(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    x, order = shapes[0], list(attrs["order"])
    if sorted(order) != list(range(len(x))):
        raise _Bad(f"order {order} is not a permutation of {len(x)} axes")
    return [tuple(x[i] for i in order)]


def _slice(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    x = shapes[0]
    starts, ends, steps = attrs["starts"], attrs["ends"], attrs["steps"]
    if not len(starts) == len(ends) == len(steps) == len(x):
        raise _Bad("starts, ends and steps must give one value per axis")
    if any(s <= 0 for s in steps):
        raise _Bad("slice steps must be positive")
    return [tuple(len(range(*slice(b, e, s).indices(d)))
                  for d, b, e, s in zip(x, starts, ends, steps))]


def _concat(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    if not shapes:
        raise _Bad("needs at least one input")
    axis = norm_axis(attrs["axis"], len(shapes[0]))
    for s in shapes[1:]:
        if len(s) != len(shapes[0]) or any(
                a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis):
            raise _Bad(f"inputs {[list(s) for s in shapes]} differ off axis {axis}")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [tuple(out)]


def _pad(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    x, pads = shapes[0], list(attrs["pads"])
    if len(pads) != 2 * len(x):
        raise _Bad("pads must hold a begin and an end per axis")
    return [tuple(d + pads[i] + pads[i + len(x)] for i, d in enumerate(x))]


def _gather(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    """Constant indices are an attribute; run-time ones the second input."""
    _need(shapes, 1, 2)
    x = shapes[0]
    axis = norm_axis(attrs.get("axis", 0), len(x))
    indices = shapes[1] if len(shapes) == 2 else tuple(attrs["indices_shape"])
    return [x[:axis] + tuple(indices) + x[axis + 1:]]


def _gathernd(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    """ONNX GatherND: indices [..., k] pick slices of data past its first batch_dims + k."""
    _need(shapes, 2)
    data, indices = shapes
    batch = int(attrs.get("batch_dims", 0))
    k = indices[-1] if indices else 0
    if not indices or batch + k > len(data) or indices[:batch] != data[:batch]:
        raise _Bad(f"indices {list(indices)} do not index data {list(data)}")
    return [indices[:-1] + data[batch + k:]]


def _attention(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 3, 4)
    q, k, v = shapes[:3]
    if len(q) != 4 or k != v or len(k) != 4 or (q[0], q[2], q[3]) != (k[0], k[2], k[3]):
        raise _Bad(f"q {list(q)}, k {list(k)}, v {list(v)} are not [B, M|N, H, D]")
    return [(q[0], q[1], q[2] * q[3])]


def _where(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 3)
    return [broadcast(broadcast(shapes[0], shapes[1]), shapes[2])]


def _expand(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    return [broadcast(shapes[0], tuple(attrs["shape"]))]


def _upsample(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 1)
    x, scales = shapes[0], attrs["scales"]
    if len(scales) != len(x):
        raise _Bad("scales must give one value per axis")
    return [tuple(math.floor(d * s) for d, s in zip(x, scales))]


def _scatternd(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    _need(shapes, 2, 3)
    return [shapes[0]]


def _opaque(shapes: list[Shape], attrs: Mapping[str, Any]) -> list[Shape]:
    """An operator tpusim does not model: its output shapes were read from the model file."""
    return [tuple(int(d) for d in s) for s in attrs["out_shapes"]]


_RULES: dict[OpKind, _Rule] = {
    **{k: _binary for k in BINARY},
    **{k: _unary for k in UNARY},
    OpKind.MATMUL: _matmul,
    OpKind.CONV2D: _conv,
    OpKind.MAXPOOL: _pool,
    OpKind.AVGPOOL: _pool,
    OpKind.LAYERNORM: _layernorm,
    OpKind.SOFTMAX: _softmax,
    OpKind.REDUCE_MEAN: _reduce,
    OpKind.REDUCE_SUM: _reduce,
    OpKind.REDUCE_MAX: _reduce,
    OpKind.RESHAPE: _reshape,
    OpKind.SQUEEZE: _squeeze,
    OpKind.UNSQUEEZE: _unsqueeze,
    OpKind.PERMUTE: _permute,
    OpKind.SLICE: _slice,
    OpKind.CONCAT: _concat,
    OpKind.PAD: _pad,
    OpKind.GATHER: _gather,
    OpKind.GATHERND: _gathernd,
    OpKind.WHERE: _where,
    OpKind.COMPARE: _compare,
    OpKind.ATTENTION: _attention,
    OpKind.EXPAND: _expand,
    OpKind.UPSAMPLE: _upsample,
    OpKind.SCATTERND: _scatternd,
    OpKind.OPAQUE: _opaque,
}
