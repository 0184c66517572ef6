"""`verify(graph)`: the IR rules every pass keeps true."""

from __future__ import annotations

from tpusim.errors import GraphError
from tpusim.ir.graph import Graph
from tpusim.ir.shapes import infer


def verify(graph: Graph) -> Graph:
    """Check the graph and return it; raise GraphError naming the first broken rule.

    Rules: every name resolves to a tensor; each tensor has at most one producer; ops are in
    topological order (inputs produced earlier, or graph inputs or constants); constants are
    never produced; stored shapes equal inferred shapes; every graph output is defined.
    """
    where = f"graph {graph.name!r}"
    for name, t in graph.tensors.items():
        if name != t.name:
            raise GraphError(f"{where}: tensor stored as {name!r} is named {t.name!r}")
        if not t.shape or any(not isinstance(d, int) or d <= 0 for d in t.shape):
            raise GraphError(f"{where}: tensor {name!r} has invalid shape {list(t.shape)}")
    ready = set(graph.inputs)
    ready.update(n for n, t in graph.tensors.items() if t.is_constant)
    for name in graph.inputs:
        if name not in graph.tensors:
            raise GraphError(f"{where}: input {name!r} is not a tensor")
    produced: set[str] = set()
    op_names: set[str] = set()
    for op in graph.ops:
        if op.name in op_names:
            raise GraphError(f"{where}: two ops are named {op.name!r}")
        op_names.add(op.name)
        for t in op.inputs:
            if t not in graph.tensors:
                raise GraphError(f"{where}: op {op.name!r} reads unknown tensor {t!r}")
            if t not in ready:
                raise GraphError(f"{where}: op {op.name!r} reads {t!r} before it is produced")
        shapes = infer(op.kind, [graph.tensors[t].shape for t in op.inputs], op.attrs, op.name)
        if len(shapes) != len(op.outputs):
            raise GraphError(f"{where}: op {op.name!r} has {len(op.outputs)} outputs, "
                             f"expected {len(shapes)}")
        for t, shape in zip(op.outputs, shapes):
            tensor = graph.tensors.get(t)
            if tensor is None:
                raise GraphError(f"{where}: op {op.name!r} writes unknown tensor {t!r}")
            if tensor.is_constant or t in produced or t in graph.inputs:
                raise GraphError(f"{where}: tensor {t!r} is written more than once")
            if tensor.shape != shape:
                raise GraphError(f"{where}: op {op.name!r} output {t!r} has shape "
                                 f"{list(tensor.shape)}, inferred {list(shape)}")
            produced.add(t)
            ready.add(t)
    for t in graph.outputs:
        if t not in ready:
            raise GraphError(f"{where}: output {t!r} is never produced")
    return graph
