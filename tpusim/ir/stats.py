"""Counts a person checks a model against: parameters and multiply-accumulates."""

from __future__ import annotations

import math

from tpusim.ir.graph import Graph, Op, TensorKind
from tpusim.ir.ops import OpKind
from tpusim.ir.shapes import matmul_dims


def op_macs(graph: Graph, op: Op) -> int:
    """Multiply-accumulates of a MatMul, Conv2D or Attention (0 for every other op)."""
    if op.kind is OpKind.MATMUL:
        a, b = (graph.tensors[t].shape for t in op.inputs[:2])
        batch, m, k, n = matmul_dims(a, b, op.attrs)
        return math.prod(batch) * m * k * n
    if op.kind is OpKind.CONV2D:
        out = graph.tensors[op.outputs[0]].shape
        w = graph.tensors[op.inputs[1]].shape
        return math.prod(out) * w[1] * w[2] * w[3]
    if op.kind is OpKind.ATTENTION:  # q k^T and then by v: 2 B H M N D
        b, m, h, d = graph.tensors[op.inputs[0]].shape
        return 2 * b * h * m * graph.tensors[op.inputs[1]].shape[1] * d
    return 0


def macs(graph: Graph) -> int:
    return sum(op_macs(graph, op) for op in graph.ops)


def params(graph: Graph) -> int:
    """Elements of learned weights (constant buffers such as masks are not parameters)."""
    return sum(t.numel for t in graph.tensors.values() if t.kind is TensorKind.WEIGHT)
