"""The graph passes a compile runs, in order, in one place.

Always: front-end folding of the shift-mask reshapes, and at F16/BF16 the fusion of BERT-style
attention into one op (tpu-mlir's FAttention). Then the Swin-T study's rewrites that
the options switch on, repeated until nothing changes (one rewrite exposes the next: the
split puts permutes where permute_fuse and hdim_is_batch can take them; hdim_is_batch leaves
permutes that permute_cancel removes). Last, ops on constants fold into constants.
"""

from __future__ import annotations

from collections.abc import Callable

from tpusim.errors import CompileError
from tpusim.ir.graph import Graph
from tpusim.ir.verify import verify
from tpusim.options import Options
from tpusim.passes.attention import (
    fold_reshape_add,
    fuse_attention,
    hdim_is_batch,
    matmul_permute_split,
)
from tpusim.passes.canonicalize import fold_constants
from tpusim.passes.permutes import permute_cancel, permute_fuse

Pass = Callable[[Graph], Graph]


def study_passes(opts: Options, precision: str) -> list[tuple[str, Pass]]:
    """The article's rewrites the options switch on, in the order they apply."""
    passes: list[tuple[str, Pass]] = [
        ("matmul_permute_split", matmul_permute_split),
        ("permute_fuse", permute_fuse),
        ("hdim_is_batch", lambda g: hdim_is_batch(g, precision)),
        ("permute_cancel", permute_cancel),
    ]
    return [(name, fn) for name, fn in passes if getattr(opts, name)]


def run_passes(graph: Graph, opts: Options, precision: str, fold: bool = True) -> Graph:
    """Every graph rewrite of a compile; `fold=False` leaves ops on constants unfolded (so a
    reference evaluation can still check what the rewrites did)."""
    graph = _checked(fuse_attention, _checked(fold_reshape_add, graph), precision)
    passes = study_passes(opts, precision)
    # Swin-T settles in two rounds; a graph still changing after one round per op loops.
    rounds = len(graph.ops) + 2
    for _ in range(rounds):
        before = graph
        for _, fn in passes:
            graph = _checked(fn, graph)
        if _same_ops(before, graph):
            return _checked(fold_constants, graph) if fold else graph
    raise CompileError(f"{graph.name}: the graph rewrites did not settle in {rounds} rounds")


def _checked(fn: Callable[..., Graph], graph: Graph, *args: object) -> Graph:
    """`fn(graph, *args)`, verified unless it left the graph as it was."""
    new = fn(graph, *args)
    return new if new is graph else verify(new)


def _same_ops(a: Graph, b: Graph) -> bool:
    if a is b:
        return True
    return [(op.kind, op.name, op.inputs, op.outputs) for op in a.ops] == \
        [(op.kind, op.name, op.inputs, op.outputs) for op in b.ops]
