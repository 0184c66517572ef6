"""A layer group's commands, as tpu-mlir's codegen_for_group emits them (bm1684x.md 3.4).

For iteration i = 0 .. L+1 (L slices, plus two to drain the pipeline) and each timestep row,
the ops whose stage s has a slice i - s in range are emitted on that slice: the TIU computes
slice i-1 while the GDMA loads slice i (stage 0) and stores slice i-2 (stage 2). Each row is
a barrier (divide_sync_id / merge_sync_id): its first TIU command waits for the GDMA commands
queued before the row, and its first GDMA command for the TIU commands queued before it.
"""

from __future__ import annotations

from tpusim.group.estimate import transfer
from tpusim.group.plan import PIPELINE_STAGES, GroupPlan
from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph
from tpusim.lower.commands import Engine
from tpusim.lower.local import local_works
from tpusim.lower.stream import Streams


def emit_group(streams: Streams, plan: GroupPlan, g: Graph, chip: Chip,
               layer_of: dict[str, int]) -> None:
    """Queue the group's commands; `layer_of` maps op names to program layer indices."""
    loops = len(plan.slices)
    for it in range(loops + PIPELINE_STAGES - 1):
        for row in plan.rows:
            tiu_dep = streams.last(Engine.GDMA)
            gdma_dep = streams.last(Engine.TIU)
            for tr in row.transfers:
                index = it - tr.stage
                if not 0 <= index < loops or (tr.held and index != 0):
                    continue
                dma = transfer(plan, g, chip, index, tr)
                layer = layer_of[tr.layer or plan.ops[tr.op].name]
                streams.emit(Engine.GDMA, dma, gdma_dep, layer, plan.index, index, tr.tensor)
                gdma_dep = 0
            for compute in row.computes:
                index = it - compute.stage
                if not 0 <= index < loops:
                    continue
                op = plan.ops[compute.op]
                shapes = plan.slices[index]
                ins = [shapes.get(t, g.tensors[t].shape) for t in op.inputs]
                out = shapes.get(op.outputs[0], g.tensors[op.outputs[0]].shape)
                for work in local_works(op, g, ins, out, chip):
                    streams.emit(Engine.TIU, work, tiu_dep, layer_of[op.name], plan.index,
                                 index)
                    tiu_dep = 0
