"""Operators that only move data in DDR - slices, concats, pads, gathers of known rows, expands,
scatters, and permutes that keep the innermost axis - run as DDR-to-DDR GDMA copies of runs,
with no kernel (kernels.py) and no local memory."""

from __future__ import annotations

import math

from tpusim.ir.graph import Graph, Op
from tpusim.ir.ops import OpKind
from tpusim.lower.commands import Direction, Dma
from tpusim.lower.layout import dma_rows, transfer

Move = tuple[str, Dma]  # (tensor name, transfer)


def permute_keeps_rows(op: Op, rank: int) -> int:
    """How many trailing axes a Permute leaves in place (their elements stay contiguous)."""
    order = list(op.attr("order"))
    kept = 0
    while kept < rank and order[rank - 1 - kept] == rank - 1 - kept:
        kept += 1
    return kept


def is_ddr_copy(op: Op, g: Graph) -> bool:
    """Ops that run as DDR-to-DDR copies: slices, concats, pads, gathers, expands, and permutes
    that keep the innermost axis (the GDMA copies its runs with strides). A permute that moves
    the innermost axis goes through local memory (`_permute`)."""
    if op.kind is OpKind.PERMUTE:
        return permute_keeps_rows(op, len(g.tensors[op.inputs[0]].shape)) > 0
    if op.kind is OpKind.GATHER:
        return len(op.inputs) == 1  # constant indices: copies of known rows
    return op.kind in (OpKind.SLICE, OpKind.CONCAT, OpKind.PAD, OpKind.EXPAND,
                       OpKind.SCATTERND)


def ddr_copies(op: Op, g: Graph) -> list[Move]:
    """DDR-to-DDR transfers of a data-movement op that runs as a global layer."""
    out = g.tensors[op.outputs[0]]
    x = g.tensors[op.inputs[0]]
    dt = out.dtype

    def copy(name: str, rows: int, row_bytes: int) -> Move:
        return name, transfer(Direction.S2S, rows, row_bytes)

    if op.kind is OpKind.PERMUTE:
        kept = permute_keeps_rows(op, len(x.shape))
        run = math.prod(x.shape[len(x.shape) - kept:])
        return [copy(x.name, x.numel // run, run * dt.bytes)]
    if op.kind is OpKind.SLICE:
        rows, row = dma_rows(x.shape, _slice_box(op, x.shape), dt, op.attr("steps"))
        return [copy(x.name, rows, row)]
    if op.kind is OpKind.CONCAT:
        axis = op.attr("axis") % len(out.shape)
        moves = []
        for name in op.inputs:
            t = g.tensors[name]
            run = math.prod(t.shape[axis:])
            moves.append(copy(name, t.numel // run, run * dt.bytes))
        return moves
    if op.kind is OpKind.GATHER:
        axis = op.attr("axis", 0) % len(x.shape)
        inner = math.prod(x.shape[axis + 1:])
        return [copy(x.name, out.numel // inner, inner * dt.bytes)]
    if op.kind is OpKind.SCATTERND:
        moves = [copy(x.name, 1, x.nbytes)]
        upd = g.tensors[op.inputs[-1]]
        first = upd.shape[0] if upd.shape else 1
        moves.append(copy(upd.name, first, max(1, upd.nbytes // max(1, first))))
        return moves
    if op.kind is OpKind.PAD:  # the input lands inside the output as a sub-box
        rows, row = dma_rows(out.shape, x.shape, dt)
        return [copy(x.name, rows, row)]
    # Expand: runs last as long as the trailing axes are not broadcast.
    run = 1
    for d_in, d_out in zip(reversed(x.shape), reversed(out.shape)):
        if d_in != d_out:
            break
        run *= d_out
    return [copy(x.name, out.numel // run, run * dt.bytes)]


def _slice_box(op: Op, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(len(range(*slice(b, e, s).indices(d)))
                 for d, b, e, s in zip(shape, op.attr("starts"), op.attr("ends"), op.attr("steps")))


__all__ = ["Move", "ddr_copies", "is_ddr_copy", "permute_keeps_rows"]
