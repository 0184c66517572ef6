"""Small tools the rewriting passes share: use counts, and `Rewrite`, which collects edits to a
graph and builds the edited copy (the graph it was given is never changed)."""

from __future__ import annotations

from tpusim.ir.graph import Graph, Op, Tensor, fresh_name


def use_counts(graph: Graph) -> dict[str, int]:
    """How many times each tensor is read (a graph output counts as a read)."""
    uses: dict[str, int] = {}
    for op in graph.ops:
        for t in op.inputs:
            uses[t] = uses.get(t, 0) + 1
    for t in graph.outputs:
        uses[t] = uses.get(t, 0) + 1
    return uses


class Rewrite:
    """Edits to one graph: ops replaced (in place) or removed, tensors aliased, tensors added.

    `alias(old, new)` makes every reader of `old` (graph outputs included) read `new`.
    Replacement ops take the position of the op they replace, so they may read anything that
    op could read.
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._replaced: dict[str, list[Op]] = {}
        self._removed: set[str] = set()
        self._alias: dict[str, str] = {}
        self._tensors: dict[str, Tensor] = {}
        self._taken = set(graph.tensors) | {op.name for op in graph.ops}

    def replace(self, op: Op, *ops: Op) -> None:
        self._replaced[op.name] = list(ops)

    def remove(self, *ops: Op) -> None:
        self._removed.update(op.name for op in ops)

    def claimed(self, op: Op) -> bool:
        """Whether an earlier edit already replaced or removed `op`."""
        return op.name in self._replaced or op.name in self._removed

    def alias(self, old: str, new: str) -> None:
        self._alias[old] = new

    def add_tensor(self, tensor: Tensor) -> str:
        self._tensors[tensor.name] = tensor
        return tensor.name

    def tensor(self, name: str) -> Tensor:
        return self._tensors.get(name) or self.graph.tensors[name]

    def fresh(self, stem: str) -> str:
        """A tensor or op name not used in the graph nor by this rewrite."""
        name = fresh_name(stem, self._taken)
        self._taken.add(name)
        return name

    def resolve(self, name: str) -> str:
        seen = set()
        while name in self._alias and name not in seen:
            seen.add(name)
            name = self._alias[name]
        return name

    def build(self) -> Graph:
        """The rewritten graph (the graph itself when nothing was edited)."""
        if not (self._removed or self._replaced or self._alias or self._tensors):
            return self.graph
        ops: list[Op] = []
        for op in self.graph.ops:
            if op.name in self._removed:
                continue
            for new in self._replaced.get(op.name, [op]):
                ops.append(Op(new.kind, new.name, tuple(self.resolve(t) for t in new.inputs),
                              new.outputs, new.attrs))
        tensors = {**self.graph.tensors, **self._tensors}
        outputs = [self.resolve(t) for t in self.graph.outputs]
        g = Graph(self.graph.name, tensors, ops, list(self.graph.inputs), outputs)
        return g.rebuilt(ops)


def axis_box(shape: tuple[int, ...], axis: int, start: int, stop: int) -> dict[str, tuple]:
    """Slice attributes taking [start, stop) on `axis` and everything elsewhere."""
    return {"starts": tuple(start if i == axis else 0 for i in range(len(shape))),
            "ends": tuple(stop if i == axis else d for i, d in enumerate(shape)),
            "steps": (1,) * len(shape)}
