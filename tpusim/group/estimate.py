"""tpu-mlir's own estimate of a group's time (CycleCalculator::getGroupCycle, bm1684x.md 3.5).

Each timestep row costs max(TIU, GDMA) over the pipeline stages active in that iteration:
iteration i runs stage 0 for slice i, stage 1 for slice i-1 and stage 2 for slice i-2, so the
first two iterations fill the pipeline and the last two drain it. Held weights are charged
once. tpu-mlir takes one slice's costs for every iteration; so does this (the first slice).
tpu-mlir 1.30.2 leaves csecs out of its loop count; here every slice counts.
"""

from __future__ import annotations

import math

from tpusim.cost.gdma import gdma_ns
from tpusim.cost.tiu import tiu_ns
from tpusim.group.plan import PIPELINE_STAGES as STAGES
from tpusim.group.plan import GroupPlan, Transfer
from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph
from tpusim.ir.ops import OpKind
from tpusim.lower.commands import Direction, Dma
from tpusim.lower.layout import transfer as transfer_rows
from tpusim.lower.local import local_works, slice_transfer, weight_transfer


class SliceCosts:
    """Memoised TIU and GDMA times of ops and transfers on given slice shapes (one compile)."""

    def __init__(self, g: Graph, chip: Chip) -> None:
        self.g, self.chip = g, chip
        self._ops: dict[tuple, float] = {}
        self._op_keys: dict[str, tuple] = {}
        self._dma: dict[Dma, float] = {}
        self._transfers: dict[tuple, float] = {}

    def op_ns(self, plan: GroupPlan, slice_index: int, op_index: int) -> float:
        op, g = plan.ops[op_index], self.g
        shapes = plan.slices[slice_index]
        ins = [shapes.get(t, g.tensors[t].shape) for t in op.inputs]
        out = shapes.get(op.outputs[0], g.tensors[op.outputs[0]].shape)
        op_key = self._op_keys.get(op.name)
        if op_key is None:
            op_key = self._op_keys[op.name] = g.op_key(op, shapes=False)
        key = (op_key, tuple(ins), out)  # ops of repeated blocks share their costs
        ns = self._ops.get(key)
        if ns is None:
            works = local_works(op, g, ins, out, self.chip)
            ns = self._ops[key] = sum(tiu_ns(w, self.chip) for w in works)
        return ns

    def transfer_ns(self, plan: GroupPlan, slice_index: int, tr: Transfer) -> float:
        shapes = plan.slices[slice_index]
        served = plan.ops[tr.op].kind if 0 <= tr.op < len(plan.ops) else None
        key = (tr.tensor, tr.store, shapes.get(tr.tensor), served is OpKind.PERMUTE)
        ns = self._transfers.get(key)
        if ns is None:
            dma = transfer(plan, self.g, self.chip, slice_index, tr)
            ns = self._dma.get(dma)
            if ns is None:
                ns = self._dma[dma] = gdma_ns(dma, self.chip)
            self._transfers[key] = ns
        return ns


def transfer(plan: GroupPlan, g: Graph, chip: Chip, slice_index: int, tr: Transfer) -> Dma:
    """The GDMA transfer of one row entry for one slice."""
    t = g.tensors[tr.tensor]
    if tr.tensor not in plan.slices[slice_index]:  # a weight loaded whole: spread it
        return weight_transfer(t.nbytes, chip)
    direction = Direction.L2S if tr.store else Direction.S2L
    part = plan.slices[slice_index][tr.tensor]
    served = plan.ops[tr.op] if 0 <= tr.op < len(plan.ops) else None
    if not tr.store and served is not None and served.kind is OpKind.PERMUTE:
        # the load does the permute: it reads the innermost runs in the permuted order
        return transfer_rows(direction, math.prod(part) // part[-1], part[-1] * t.dtype.bytes)
    return slice_transfer(direction, t.shape, part, t.dtype)


def group_estimate_ns(plan: GroupPlan, g: Graph, chip: Chip,
                      costs: SliceCosts | None = None) -> float:
    costs = costs or SliceCosts(g, chip)
    loops = len(plan.slices)
    tiu = [[0.0] * STAGES for _ in plan.rows]
    gdma = [[0.0] * STAGES for _ in plan.rows]
    held = 0.0
    for r, row in enumerate(plan.rows):
        for c in row.computes:
            tiu[r][c.stage] += costs.op_ns(plan, 0, c.op)
        for tr in row.transfers:
            ns = costs.transfer_ns(plan, 0, tr)
            if tr.held:
                held += ns
            else:
                gdma[r][tr.stage] += ns

    def iteration(i: int) -> float:
        active = [s for s in range(STAGES) if 0 <= i - s < loops]
        return sum(max(sum(t[s] for s in active), sum(d[s] for s in active))
                   for t, d in zip(tiu, gdma))

    total_iterations = loops + STAGES - 1
    edge = [i for i in range(total_iterations) if i < STAGES - 1 or i >= loops]
    steady = total_iterations - len(edge)
    total = sum(iteration(i) for i in edge)
    if steady > 0:
        total += steady * iteration(STAGES - 1)
    return total + held
