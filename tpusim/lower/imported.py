"""`lower_imported`: a program tpu-mlir compiled, as tpusim's two command queues.

No pass and no grouping runs: global layers go through the same kernels as tpusim's own
(`kernels.plan`, `global_layer`), and each group through `emit_group` with the plan read from
the file. The program remembers which layer each of tpu-mlir's profile numbers names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tpusim.frontend.tpu_mlir import ImportedModel
from tpusim.group.estimate import group_estimate_ns
from tpusim.group.plan import GroupPlan
from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph, Op
from tpusim.ir.stats import op_macs
from tpusim.limits import MAX_COMMANDS
from tpusim.lower.commands import Layer, Program
from tpusim.lower.group_layer import emit_group
from tpusim.lower.program import emit_global_op
from tpusim.lower.stream import Streams


@dataclass
class ImportedProgram(Program):
    """A Program whose layers are tpu-mlir's: `vendor_layers` maps the numbers tpu-mlir's
    profile gives layers ("Load_14" is 14) to indices into `layers`."""

    vendor_layers: dict[int, int] = field(default_factory=dict)
    mode: str = ""  # module.mode of the file: "F16", "INT8", ...


def _macs(graph: Graph, op: Op) -> int:
    try:
        return op_macs(graph, op)
    except Exception:  # shapes tpusim's MatMul rule does not read (some local layouts)
        return 0


def lower_imported(model: ImportedModel, chip: Chip,
                   max_commands: int = MAX_COMMANDS) -> ImportedProgram:
    graph = model.graph
    program = ImportedProgram(model.name, chip.name, model.mode.lower(), graph=graph,
                              mode=model.mode)
    ops = {op.name: op for op in graph.ops}
    plans = {s.index: s for s in model.steps if isinstance(s, GroupPlan)}
    layer_of: dict[str, int] = {}
    for index, layer in enumerate(model.layers):
        layer_of[layer.name] = index
        op = ops.get(layer.name)
        group = plans.get(layer.group)
        program.layers.append(Layer(layer.name, layer.kind, layer.group,
                                    _macs(graph, op) if op is not None else 0,
                                    tiles=len(group.slices) if group else 1,
                                    lmem_bytes=group.lmem_bytes if group else 0))
        if layer.vendor_id is not None:
            program.vendor_layers[layer.vendor_id] = index
    streams = Streams(program, max_commands)
    for step in model.steps:
        if isinstance(step, GroupPlan):
            step.estimate_ns = group_estimate_ns(step, graph, chip)
            program.groups.append(step)
            emit_group(streams, step, graph, chip, layer_of)
            continue
        index = layer_of[step]
        emit_global_op(streams, index, ops[step], graph, chip, program.layers[index])
    return program


__all__ = ["ImportedProgram", "lower_imported"]
