"""Permute rewrites: merge adjacent permutes, cancel permutes that undo each other.

Both are pure functions Graph -> Graph. A permute of a constant that a rewrite introduces is
left as an op on the constant; `fold_constants` turns it into a constant at the end of the
pipeline, and the reference evaluator can still check the rewrite before that.
"""

from __future__ import annotations

from collections.abc import Sequence

from tpusim.ir.graph import Graph, Op, Tensor
from tpusim.ir.ops import OpKind as K
from tpusim.passes.rewrite import Rewrite, use_counts

Order = tuple[int, ...]

# Ops a permute commutes with: element-wise with one activation (constants get permuted too),
# and Softmax (its axis moves).
_SINKABLE = frozenset({K.MULCONST, K.ADDCONST, K.CAST, K.RELU, K.GELU, K.SIGMOID, K.SILU,
                       K.ADD, K.SUB, K.MUL, K.DIV, K.MAX, K.MIN, K.SOFTMAX})


def constant_valued(graph: Graph) -> set[str]:
    """Constants, and tensors computed from constants only (folded at the end of the passes)."""
    known = {name for name, t in graph.tensors.items() if t.is_constant}
    for op in graph.ops:
        if op.inputs and all(t in known for t in op.inputs):
            known.update(op.outputs)
    return known


def compose(first: Sequence[int], second: Sequence[int]) -> Order:
    """The single order equal to permuting by `first`, then by `second`."""
    return tuple(first[i] for i in second)


def inverse(order: Sequence[int]) -> Order:
    inv = [0] * len(order)
    for i, o in enumerate(order):
        inv[o] = i
    return tuple(inv)


def is_identity(order: Sequence[int]) -> bool:
    return tuple(order) == tuple(range(len(order)))


def permute_fuse(graph: Graph) -> Graph:
    """Adjacent permutes merge into one; a permute with the identity order vanishes."""
    while True:
        producers = graph.producers()
        uses = use_counts(graph)
        rw = Rewrite(graph)
        changed = False
        for op in graph.ops:
            if op.kind is not K.PERMUTE or rw.claimed(op):
                continue
            src = producers.get(op.inputs[0])
            if is_identity(op.attr("order")):
                rw.remove(op)
                rw.alias(op.outputs[0], op.inputs[0])
                changed = True
            elif (src is not None and src.kind is K.PERMUTE and uses[src.outputs[0]] == 1
                  and not rw.claimed(src)):
                order = compose(src.attr("order"), op.attr("order"))
                rw.remove(src)
                rw.replace(op, Op(K.PERMUTE, op.name, src.inputs, op.outputs, {"order": order}))
                changed = True
        if not changed:
            return graph
        graph = rw.build()


def sinkable_chain(graph: Graph, start: str, uses: dict[str, int],
                   consumers: dict[str, list[Op]], consts: set[str]) -> list[Op]:
    """The ops a permute producing `start` could move below: single-use, one activation."""
    chain: list[Op] = []
    tensor = start
    while uses.get(tensor, 0) == 1 and consumers.get(tensor):
        op = consumers[tensor][0]
        if op.kind not in _SINKABLE or not _one_activation(graph, op, tensor, consts):
            break
        chain.append(op)
        tensor = op.outputs[0]
    return chain


def _one_activation(graph: Graph, op: Op, tensor: str, consts: set[str]) -> bool:
    """Is `tensor` the op's only non-constant input (and not broadcast)?"""
    if any(t not in consts for t in op.inputs if t != tensor):
        return False
    return graph.tensors[op.outputs[0]].shape == graph.tensors[tensor].shape


def move_below(rw: Rewrite, graph: Graph, chain: list[Op], order: Order, source: str,
               consts: set[str], result: str | None = None) -> str:
    """Rewrite `chain` to run on `source` (the permute's input) instead of its output; returns
    the tensor that holds the chain's result in the un-permuted layout (named `result` if
    given). Constant operands get permuted by the inverse order, and a Softmax axis moves."""
    back = inverse(order)
    tensor = source
    for op in chain:
        inputs, prelude = [], []
        for t in op.inputs:
            if t in consts and graph.tensors[t].numel > 1:
                name, ops = _permuted_constant(rw, graph, t, back, len(order))
                inputs.append(name)
                prelude += ops
            elif t in consts:
                inputs.append(t)
            else:
                inputs.append(tensor)
        attrs = dict(op.attrs)
        if op.kind is K.SOFTMAX:
            attrs["axis"] = order[op.attr("axis", -1) % len(order)]
        name = result if result and op is chain[-1] else rw.fresh(f"{op.name}.unpermuted")
        out = rw.add_tensor(Tensor(name, rw.tensor(tensor).shape,
                                   graph.tensors[op.outputs[0]].dtype))
        rw.replace(op, *prelude, Op(op.kind, op.name, tuple(inputs), (out,), attrs))
        tensor = out
    return tensor


def _permuted_constant(rw: Rewrite, graph: Graph, name: str, order: Order,
                       rank: int) -> tuple[str, list[Op]]:
    """`name` broadcast to `rank` dims and permuted by `order`, as ops on the constant placed
    just before its reader (`fold_constants` makes their result a constant again)."""
    t = graph.tensors[name]
    src, ops = name, []
    if len(t.shape) < rank:
        padded = (1,) * (rank - len(t.shape)) + t.shape
        src = rw.add_tensor(Tensor(rw.fresh(f"{name}.r{rank}"), padded, t.dtype))
        ops.append(Op(K.RESHAPE, src, (name,), (src,), {"shape": padded}))
    shape = tuple(rw.tensor(src).shape[i] for i in order)
    out = rw.add_tensor(Tensor(rw.fresh(f"{name}.permuted"), shape, t.dtype))
    ops.append(Op(K.PERMUTE, out, (src,), (out,), {"order": order}))
    return out, ops


def permute_cancel(graph: Graph) -> Graph:
    """A permute followed, through ops it commutes with, by its inverse: both vanish."""
    while True:
        uses = use_counts(graph)
        consumers = graph.consumers()
        consts = constant_valued(graph)
        rw = Rewrite(graph)
        changed = False
        for op in graph.ops:
            if op.kind is not K.PERMUTE or rw.claimed(op) or op.inputs[0] in consts:
                continue
            order = tuple(op.attr("order"))
            chain = sinkable_chain(graph, op.outputs[0], uses, consumers, consts)
            end = chain[-1].outputs[0] if chain else op.outputs[0]
            nxt = consumers.get(end, [])
            if (uses.get(end) != 1 or not nxt or nxt[0].kind is not K.PERMUTE
                    or any(rw.claimed(o) for o in (*chain, nxt[0]))
                    or not is_identity(compose(order, nxt[0].attr("order")))):
                continue
            final = nxt[0].outputs[0]
            result = move_below(rw, graph, chain, order, op.inputs[0], consts, final)
            rw.remove(op, nxt[0])
            if result != final:
                rw.alias(final, result)
            changed = True
        if not changed:
            return graph
        graph = rw.build()
