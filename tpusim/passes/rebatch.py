"""Re-batching: the same network for another batch size, shapes derived again op by op.

A model file is exported at one batch; its graph bakes that batch into static attributes. The
rule, applied to the canonical graph in order:

- every graph input whose leading dimension is the file's batch gets the new batch;
- Reshape: when its input's element count changed by a factor f, the leading dimension of the
  target is multiplied by f (the batch, or windows x batch as in Swin, leads every reshape of
  an exported CNN or transformer); a target whose leading dimension is not a multiple of
  1/f is an error naming the op;
- Slice: an axis sliced to its end stays sliced to its (new) end;
- Expand: a target dimension equal to the input's old dimension follows the input;
- Opaque (unknown operators): the leading dimension of each output is scaled like its first
  input's leading dimension;
- constants keep their shapes (masks and tables do not depend on the batch).
Every other op's output shape is inferred again.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from tpusim.errors import GraphError, ModelError
from tpusim.ir.graph import Graph, Op, Tensor
from tpusim.ir.ops import OpKind as K
from tpusim.ir.shapes import infer

Shape = tuple[int, ...]


def rebatch(graph: Graph, batch: int) -> Graph:
    """`graph` for `batch` inputs (its inputs' leading dimension is its current batch)."""
    if batch < 1:
        raise ModelError(f"batch size must be >= 1, got {batch}")
    old = {n: t.shape for n, t in graph.tensors.items()}
    file_batch = graph.tensors[graph.inputs[0]].shape[0] if graph.inputs else batch
    tensors = dict(graph.tensors)
    for name in graph.inputs:
        t = tensors[name]
        if t.shape and t.shape[0] == file_batch:
            tensors[name] = Tensor(name, (batch, *t.shape[1:]), t.dtype, t.kind)
    ops = []
    for op in graph.ops:
        ins = [tensors[t].shape for t in op.inputs]
        attrs = _attrs(op, [old[t] for t in op.inputs], ins, [old[t] for t in op.outputs])
        try:
            shapes = infer(op.kind, ins, attrs, op.name)
        except GraphError as exc:
            raise ModelError(f"cannot change the batch of {graph.name!r} to {batch}: {exc}") \
                from None
        for name, shape in zip(op.outputs, shapes):
            t = tensors[name]
            tensors[name] = Tensor(name, shape, t.dtype, t.kind)
        ops.append(Op(op.kind, op.name, op.inputs, op.outputs, attrs))
    return Graph(graph.name, tensors, ops, list(graph.inputs), list(graph.outputs))


def _attrs(op: Op, old_in: list[Shape], new_in: list[Shape],
           old_out: list[Shape]) -> dict[str, Any]:
    attrs = dict(op.attrs)
    if not old_in or old_in == new_in:
        return attrs
    before, after = old_in[0], new_in[0]
    if op.kind is K.RESHAPE:
        f = Fraction(math.prod(after), math.prod(before))
        target = list(attrs["shape"])
        lead = target[0] * f
        if lead.denominator != 1:
            raise ModelError(f"cannot change the batch: reshape {op.name!r} to {target} has a "
                             f"leading dimension that does not scale by {f}")
        attrs["shape"] = (int(lead), *target[1:])
    elif op.kind is K.SLICE:
        attrs["ends"] = tuple(new if end >= old and old != new else end
                              for end, old, new in zip(attrs["ends"], before, after))
    elif op.kind is K.EXPAND:
        target = list(attrs["shape"])
        offset = len(target) - len(before)
        for i, (old, new) in enumerate(zip(before, after)):
            if offset + i >= 0 and target[offset + i] == old:
                target[offset + i] = new
        attrs["shape"] = tuple(target)
    elif op.kind is K.OPAQUE and before and after and before[0] != after[0]:
        f = Fraction(after[0], before[0])
        attrs["out_shapes"] = tuple(
            (int(s[0] * f), *s[1:]) if s and (s[0] * f).denominator == 1 else tuple(s)
            for s in old_out)
    return attrs
