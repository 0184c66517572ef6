"""`lower`: a compiled graph to a `Program` of TIU and GDMA command queues."""

from __future__ import annotations

from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph
from tpusim.ir.ops import VIEWS
from tpusim.ir.stats import op_macs
from tpusim.lower.commands import Layer, Program
from tpusim.lower.global_layer import emit_copies, emit_global
from tpusim.lower.kernels import ddr_copies, plan
from tpusim.lower.stream import Streams


def lower(graph: Graph, chip: Chip, precision: str) -> Program:
    """Every op as a global layer, in graph order."""
    program = Program(graph.name, chip.name, precision)
    streams = Streams(program)
    for op in graph.ops:
        index = len(program.layers)
        layer = Layer(op.name, op.kind.value, macs=op_macs(graph, op))
        program.layers.append(layer)
        kernel = plan(op, graph, chip)
        if kernel is not None:
            layer.tiles, layer.lmem_bytes = emit_global(streams, index, op, kernel, chip)
        else:
            emit_copies(streams, index, [] if op.kind in VIEWS else ddr_copies(op, graph))
            layer.tiles = 0
    return program
