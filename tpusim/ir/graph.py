"""The IR: tensors, operators and graphs.

A `Graph` holds tensors by name and operators in a topological order. Operators refer to
tensors by name. Passes never mutate a graph they are given; they build a new one.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from tpusim.errors import GraphError
from tpusim.ir.dtypes import DType
from tpusim.ir.ops import OpKind


def fresh_name(stem: str, taken: Container[str], sep: str = "_", start: int = 1) -> str:
    """`stem`, or the first of stem_1, stem_2, ... (with `sep` and `start`) not in `taken`."""
    name, i = stem, start
    while name in taken:
        name, i = f"{stem}{sep}{i}", i + 1
    return name


class TensorKind(Enum):
    __hash__ = object.__hash__  # members are singletons: identity hashes, fast
    ACTIVATION = "activation"  # computed at run time, lives in DDR between layers
    WEIGHT = "weight"  # a learned parameter, stored in DDR by the compiler
    CONST = "const"  # a constant buffer (a mask, a folded table): stored like a weight


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: DType = DType.F32
    kind: TensorKind = TensorKind.ACTIVATION

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.bytes

    @property
    def is_constant(self) -> bool:
        return self.kind is not TensorKind.ACTIVATION


@dataclass(frozen=True)
class Op:
    kind: OpKind
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def with_attrs(self, **changes: Any) -> Op:
        return replace(self, attrs={**self.attrs, **changes})


@dataclass
class Graph:
    name: str
    tensors: dict[str, Tensor]
    ops: list[Op]
    inputs: list[str]
    outputs: list[str]

    def tensor(self, name: str) -> Tensor:
        try:
            return self.tensors[name]
        except KeyError:
            raise GraphError(f"graph {self.name!r}: no tensor named {name!r}") from None

    def producers(self) -> dict[str, Op]:
        return {t: op for op in self.ops for t in op.outputs}

    def consumers(self) -> dict[str, list[Op]]:
        users: dict[str, list[Op]] = {name: [] for name in self.tensors}
        for op in self.ops:
            for t in op.inputs:
                users.setdefault(t, []).append(op)
        return users

    def op_key(self, op: Op, shapes: bool = True) -> tuple:
        """What an op's cost can depend on, without names: its kind and attributes, and each
        operand's dtype and kind (which operands are the same tensor, too) - and, with
        `shapes`, every operand's and result's shape. Ops of repeated blocks share a key."""
        first = {t: op.inputs.index(t) for t in op.inputs}
        ins = tuple((first[t], self.tensors[t].dtype, self.tensors[t].kind)
                    + ((self.tensors[t].shape,) if shapes else ()) for t in op.inputs)
        outs = tuple((self.tensors[t].dtype,) + ((self.tensors[t].shape,) if shapes else ())
                     for t in op.outputs)
        attrs = tuple(sorted((k, repr(v)) for k, v in op.attrs.items()))
        return op.kind, attrs, ins, outs

    def count(self, kind: OpKind) -> int:
        return sum(op.kind is kind for op in self.ops)

    @property
    def batch(self) -> int:
        """The leading dimension of the first input (1 for a graph without inputs)."""
        return self.tensors[self.inputs[0]].shape[0] if self.inputs else 1

    def kind_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.kind.value] = counts.get(op.kind.value, 0) + 1
        return dict(sorted(counts.items()))

    def rebuilt(self, ops: Iterable[Op], tensors: Mapping[str, Tensor] | None = None,
                name: str | None = None) -> Graph:
        """A new graph with these ops; tensors nobody uses any more are dropped."""
        ops = list(ops)
        pool = dict(self.tensors if tensors is None else tensors)
        used = set(self.inputs) | set(self.outputs)
        for op in ops:
            used.update(op.inputs)
            used.update(op.outputs)
        kept = {n: t for n, t in pool.items() if n in used}
        return Graph(name or self.name, kept, ops, list(self.inputs), list(self.outputs))


class GraphBuilder:
    """Builds a graph op by op, inferring every output's shape as it goes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self._counts: dict[str, int] = {}

    def fresh(self, stem: str) -> str:
        n = self._counts.get(stem, 0)
        self._counts[stem] = n + 1
        name = stem if n == 0 else f"{stem}_{n}"
        return self.fresh(stem) if name in self.tensors else name

    def input(self, name: str, shape: Sequence[int], dtype: DType = DType.F32) -> str:
        self._add(Tensor(name, tuple(shape), dtype))
        self.inputs.append(name)
        return name

    def weight(self, name: str, shape: Sequence[int], kind: TensorKind = TensorKind.WEIGHT,
               dtype: DType = DType.F32) -> str:
        name = self.fresh(name)
        self._add(Tensor(name, tuple(shape), dtype, kind))
        return name

    def op(self, kind: OpKind, inputs: Sequence[str], name: str | None = None,
           **attrs: Any) -> str:
        """Add an op with one output; returns the output's name."""
        return self.op_multi(kind, inputs, 1, name, **attrs)[0]

    def op_multi(self, kind: OpKind, inputs: Sequence[str], n_out: int,
                 name: str | None = None, **attrs: Any) -> list[str]:
        from tpusim.ir.shapes import infer

        op_name = self.fresh(name or kind.value.lower())
        outs = [op_name if n_out == 1 else f"{op_name}:{i}" for i in range(n_out)]
        in_tensors = [self.tensors[t] for t in inputs]
        shapes = infer(kind, [t.shape for t in in_tensors], attrs, op_name)
        for out, shape in zip(outs, shapes):
            self._add(Tensor(out, shape, in_tensors[0].dtype))
        self.ops.append(Op(kind, op_name, tuple(inputs), tuple(outs), attrs))
        return outs

    def output(self, *names: str) -> None:
        self.outputs.extend(names)

    def build(self) -> Graph:
        from tpusim.ir.verify import verify

        graph = Graph(self.name, dict(self.tensors), list(self.ops), list(self.inputs),
                      list(self.outputs))
        verify(graph)
        return graph

    def _add(self, tensor: Tensor) -> None:
        if tensor.name in self.tensors:
            raise GraphError(f"graph {self.name!r}: tensor {tensor.name!r} defined twice")
        self.tensors[tensor.name] = tensor
