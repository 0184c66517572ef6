"""Small graphs for what-if tests: they compile in milliseconds, and keep both engines busy."""

from __future__ import annotations

from collections.abc import Sequence

from tpusim.ir import GraphBuilder, OpKind
from tpusim.ir.graph import Graph

K = OpKind


def conv_block(channels: int = 64, size: int = 32, name: str = "block") -> Graph:
    """conv 3x3 -> relu -> conv 3x3 -> add (residual) -> sigmoid."""
    g = GraphBuilder(name)
    x = g.input("x", (1, channels, size, size))
    y = x
    for i in range(2):
        w = g.weight(f"w{i}", (channels, channels, 3, 3))
        y = g.op(K.CONV2D, [y, w], f"conv{i}", strides=(1, 1), pads=(1, 1, 1, 1))
        if i == 0:
            y = g.op(K.RELU, [y], "relu")
    y = g.op(K.ADD, [y, x], "add")
    g.output(g.op(K.SIGMOID, [y], "out"))
    return g.build()


def chain(shape: Sequence[int], kinds: Sequence[OpKind], name: str = "chain") -> Graph:
    """Element-wise and convolution ops one after the other on one activation."""
    g = GraphBuilder(name)
    x = g.input("x", shape)
    for i, kind in enumerate(kinds):
        if kind is K.CONV2D:
            w = g.weight(f"w{i}", (shape[1], shape[1], 3, 3))
            x = g.op(kind, [x, w], f"op{i}", strides=(1, 1), pads=(1, 1, 1, 1))
        else:
            attrs = {"const": 2.0} if kind in (K.MULCONST, K.ADDCONST) else {}
            x = g.op(kind, [x], f"op{i}", **attrs)
    g.output(x)
    return g.build()
