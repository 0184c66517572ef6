"""Converters of ONNX data-movement operators (Reshape, Transpose, Slice, Gather, Resize, ...)
to tpusim ops with static attributes; `onnx_ops` holds the rest and the full table."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from tpusim.frontend.onnx_proto import Node, Unsupported, reshape_target, split_sizes
from tpusim.ir.ops import OpKind as K

if TYPE_CHECKING:
    from tpusim.frontend.onnx_import import _Importer as Ctx

Converter = Callable[["Ctx", Node], None]


def ints(ctx: Ctx, node: Node, index: int, attr: str | None, what: str) -> list[int] | None:
    """An integer list from an attribute or a constant input; Unsupported if computed."""
    if attr is not None and attr in node.attrs:
        return [int(v) for v in node.attrs[attr]]
    if index >= len(node.inputs) or not node.inputs[index]:
        return None
    value = ctx.value(node.inputs[index])
    if value is None:
        raise Unsupported(f"its {what} is computed at run time (tpusim needs it constant)")
    return [int(v) for v in np.asarray(value).reshape(-1)]


def scalar_value(ctx: Ctx, name: str) -> float | None:
    value = ctx.value(name)
    return None if value is None or value.size != 1 else float(value.reshape(-1)[0])


def axes_of(axes: list[int], rank: int) -> tuple[int, ...]:
    return tuple(sorted(a % rank for a in axes))


def _resize(ctx: Ctx, node: Node) -> None:
    shape = ctx.shape(node.inputs[0])
    ins = [*node.inputs, "", "", ""]
    if node.op_type == "Upsample" and "scales" in node.attrs:
        scales = [float(s) for s in node.attrs["scales"]]
    else:
        scale_input = ins[1] if node.op_type == "Upsample" or ctx.opset < 11 else ins[2]
        scales_value = ctx.value(scale_input) if scale_input else None
        sizes = ints(ctx, node, 3, None, "sizes") if node.op_type == "Resize" else None
        if scales_value is not None and scales_value.size:
            scales = [float(s) for s in scales_value.reshape(-1)]
        elif sizes:
            scales = []
            for d, size in zip(shape, sizes):
                s = size / d
                scales.append(s if math.floor(d * s) == size else math.nextafter(s, math.inf))
        else:
            raise Unsupported("its scales and sizes are computed at run time")
    ctx.emit(node, K.UPSAMPLE, node.inputs[:1], node.outputs[0], scales=tuple(scales),
             mode=node.attr("mode", "nearest"))


def _reshape(ctx: Ctx, node: Node) -> None:
    shape = ctx.shape(node.inputs[0])
    target = ints(ctx, node, 1, "shape", "target shape") or []
    target = reshape_target(shape, target, node.attr("allowzero", 0))
    if -1 in target:
        known = math.prod(d for d in target if d != -1)
        target[target.index(-1)] = math.prod(shape) // max(1, known)
    ctx.emit(node, K.RESHAPE, node.inputs[:1], node.outputs[0], shape=tuple(target) or (1,))


def _flatten(ctx: Ctx, node: Node) -> None:
    shape = ctx.shape(node.inputs[0])
    axis = node.attr("axis", 1) % (len(shape) + 1) if shape else 0
    ctx.emit(node, K.RESHAPE, node.inputs[:1], node.outputs[0],
             shape=(math.prod(shape[:axis]), math.prod(shape[axis:])))


def _transpose(ctx: Ctx, node: Node) -> None:
    rank = len(ctx.shape(node.inputs[0]))
    order = node.attr("perm", list(reversed(range(rank))))
    ctx.emit(node, K.PERMUTE, node.inputs[:1], node.outputs[0], order=tuple(order))


def _squeeze(ctx: Ctx, node: Node) -> None:
    shape = ctx.shape(node.inputs[0])
    axes = ints(ctx, node, 1, "axes", "axes")
    axes = list(axes) if axes else [i for i, d in enumerate(shape) if d == 1]
    ctx.emit(node, K.SQUEEZE, node.inputs[:1], node.outputs[0], axes=axes_of(axes, len(shape)))


def _unsqueeze(ctx: Ctx, node: Node) -> None:
    axes = ints(ctx, node, 1, "axes", "axes") or []
    rank = len(ctx.shape(node.inputs[0])) + len(axes)
    ctx.emit(node, K.UNSQUEEZE, node.inputs[:1], node.outputs[0], axes=axes_of(axes, rank))


def _full_slice(shape: tuple[int, ...], axes: list[int], starts: list[int], ends: list[int],
                steps: list[int]) -> dict[str, tuple[int, ...]]:
    """Static per-axis bounds, clamped to the shape (ends beyond an axis become its size)."""
    b, e, s = [0] * len(shape), list(shape), [1] * len(shape)
    for a, start, end, step in zip(axes, starts, ends, steps):
        if step <= 0:
            raise Unsupported("a Slice with a negative step")
        a %= len(shape)
        b[a], e[a], s[a] = slice(start, end, step).indices(shape[a])
    return {"starts": tuple(b), "ends": tuple(e), "steps": tuple(s)}


def _slice(ctx: Ctx, node: Node) -> None:
    shape = ctx.shape(node.inputs[0])
    if ctx.opset < 10:
        starts, ends = list(node.attrs["starts"]), list(node.attrs["ends"])
        axes = list(node.attr("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts = ints(ctx, node, 1, None, "starts") or []
        ends = ints(ctx, node, 2, None, "ends") or []
        axes = ints(ctx, node, 3, None, "axes") or list(range(len(starts)))
        steps = ints(ctx, node, 4, None, "steps") or [1] * len(starts)
    ctx.emit(node, K.SLICE, node.inputs[:1], node.outputs[0],
             **_full_slice(shape, axes, starts, ends, steps))


def _split(ctx: Ctx, node: Node) -> None:
    shape = ctx.shape(node.inputs[0])
    axis = node.attr("axis", 0) % len(shape)
    outs = list(node.outputs)
    sizes = ints(ctx, node, 1, "split", "split sizes")
    if sizes is None:
        sizes = split_sizes(shape[axis], len(outs))
    begin = 0
    for i, (out, size) in enumerate(zip(outs, sizes)):
        bounds = _full_slice(shape, [axis], [begin], [begin + size], [1])
        begin += size
        if out:
            ctx.emit(node, K.SLICE, node.inputs[:1], out, str(i), **bounds)


def _concat(ctx: Ctx, node: Node) -> None:
    ins = [i for i in node.inputs if i and math.prod(ctx.shape(i)) > 0]
    ctx.emit(node, K.CONCAT, ins, node.outputs[0], axis=int(node.attrs["axis"]))


def _gather(ctx: Ctx, node: Node) -> None:
    """Constant indices become attributes (canonicalisation turns most such Gathers into
    Slices); run-time ones (an embedding lookup) stay an input."""
    indices = ctx.value(node.inputs[1])
    shape = ctx.shape(node.inputs[0])
    axis = node.attr("axis", 0) % len(shape)
    if indices is None:
        ctx.emit(node, K.GATHER, node.inputs[:2], node.outputs[0], axis=axis)
        return
    flat = [int(i) % shape[axis] for i in np.asarray(indices).reshape(-1)]
    ctx.emit(node, K.GATHER, node.inputs[:1], node.outputs[0], axis=axis,
             indices_shape=tuple(int(d) for d in indices.shape), indices=tuple(flat))


def _gathernd(ctx: Ctx, node: Node) -> None:
    ctx.emit(node, K.GATHERND, node.inputs[:2], node.outputs[0],
             batch_dims=int(node.attr("batch_dims", 0)))


def _expand(ctx: Ctx, node: Node) -> None:
    target = ints(ctx, node, 1, None, "target shape") or []
    ctx.emit(node, K.EXPAND, node.inputs[:1], node.outputs[0], shape=tuple(target))


def _pad(ctx: Ctx, node: Node) -> None:
    rank = len(ctx.shape(node.inputs[0]))
    pads = ints(ctx, node, 1, "pads" if ctx.opset < 11 else None, "pads") or [0] * (2 * rank)
    axes = ints(ctx, node, 3, None, "axes")
    if axes is not None:  # pads given for some axes only
        full = [0] * (2 * rank)
        for i, a in enumerate(axes):
            full[a % rank], full[a % rank + rank] = pads[i], pads[i + len(axes)]
        pads = full
    if any(p < 0 for p in pads):
        raise Unsupported("a Pad with negative pads (a crop)")
    ctx.emit(node, K.PAD, node.inputs[:1], node.outputs[0], pads=tuple(pads),
             mode=node.attr("mode", "constant"))


def _scatter_nd(ctx: Ctx, node: Node) -> None:
    ctx.emit(node, K.SCATTERND, node.inputs[:3], node.outputs[0],
             reduction=node.attr("reduction", "none"))


LAYOUT_CONVERTERS: dict[str, Converter] = {
    "Resize": _resize,
    "Upsample": _resize,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Transpose": _transpose,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Slice": _slice,
    "Split": _split,
    "Concat": _concat,
    "Gather": _gather,
    "GatherND": _gathernd,
    "Expand": _expand,
    "Pad": _pad,
    "ScatterND": _scatter_nd,
}
