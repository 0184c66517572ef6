"""The compiler driver: a verified graph through the passes, the precision, the layer groups
and the lowering into two command queues - each stage a package of its own, driven from here."""

from __future__ import annotations

from tpusim.group.form import form_groups
from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph, Op
from tpusim.ir.verify import verify
from tpusim.lower.commands import Program
from tpusim.lower.program import global_op_ns, lower
from tpusim.options import Options
from tpusim.passes.pipeline import run_passes
from tpusim.passes.precision import assign_precision
from tpusim.progress import report


def compile_graph(graph: Graph, chip: Chip, precision: str, options: Options, io: str,
                  max_commands: int) -> Program:
    """passes -> precision -> layer groups -> commands (arguments checked by the caller)."""
    label = f"compiling {graph.name} {precision}"
    report(f"{label}: graph passes")
    verify(graph)
    typed = verify(assign_precision(run_passes(graph, options, precision), precision, io))
    prices: dict[tuple, float] = {}

    def price(op: Op) -> float:  # an op alone as a global layer: the grouping's yardstick
        key = typed.op_key(op)  # ops of repeated blocks are priced once
        if key not in prices:
            prices[key] = global_op_ns(op, typed, chip, max_commands)
        return prices[key]

    segments = form_groups(typed, chip, options, price, label)
    report(f"{label}: commands")
    program = lower(typed, segments, chip, precision, max_commands)
    program.options = options
    return program


__all__ = ["compile_graph"]
