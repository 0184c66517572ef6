"""`lower`: layer groups and global layers (the grouping's segments) to a `Program` of TIU
and GDMA command queues; `global_op_ns`, the time of one op run alone, which the grouping
prices its choices with."""

from __future__ import annotations

from collections.abc import Sequence

from tpusim.group.plan import Segment
from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph, Op
from tpusim.ir.ops import VIEWS
from tpusim.ir.stats import op_macs
from tpusim.limits import MAX_COMMANDS
from tpusim.lower.commands import Layer, Program
from tpusim.lower.ddr_copies import ddr_copies
from tpusim.lower.global_layer import emit_copies, emit_global
from tpusim.lower.group_layer import emit_group
from tpusim.lower.kernels import plan
from tpusim.lower.stream import Streams
from tpusim.sim.fast import replay_ns


def emit_global_op(streams: Streams, index: int, op: Op, graph: Graph, chip: Chip,
                   layer: Layer) -> None:
    """An op's commands as global layer `index`, recording its tiles and local memory."""
    kernel = plan(op, graph, chip)
    if kernel is not None:
        layer.tiles, layer.lmem_bytes = emit_global(streams, index, op, kernel, chip)
    else:
        emit_copies(streams, index, [] if op.kind in VIEWS else ddr_copies(op, graph))
        layer.tiles = 0


def global_op_ns(op: Op, graph: Graph, chip: Chip, max_commands: int = MAX_COMMANDS) -> float:
    """Time of one op run alone as a global layer (the grouping search's price of an op)."""
    scratch = Program(f"op {op.name!r} as a global layer", chip.name, "")
    emit_global_op(Streams(scratch, max_commands), 0, op, graph, chip,
                    Layer(op.name, op.kind.value))
    return replay_ns(scratch.tiu, scratch.gdma, chip)


def lower(graph: Graph, segments: Sequence[Segment], chip: Chip, precision: str,
          max_commands: int = MAX_COMMANDS) -> Program:
    """Layer groups and global layers, in graph order, as two command queues (a CompileError
    once they would hold more than `max_commands` commands)."""
    program = Program(graph.name, chip.name, precision, graph=graph)
    streams = Streams(program, max_commands)
    for segment in segments:
        group = segment.plan
        layer_of: dict[str, int] = {}
        for op in segment.ops:
            layer_of[op.name] = len(program.layers)
            program.layers.append(Layer(op.name, op.kind.value, -1 if group is None else
                                        group.index, op_macs(graph, op),
                                        tiles=len(group.slices) if group else 1,
                                        lmem_bytes=group.lmem_bytes if group else 0))
        if group is None:
            op = segment.ops[0]
            emit_global_op(streams, layer_of[op.name], op, graph, chip,
                            program.layers[layer_of[op.name]])
        else:
            program.groups.append(group)
            emit_group(streams, group, graph, chip, layer_of)
    return program
