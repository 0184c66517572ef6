"""Which local-memory banks each command touches, from its group's allocation (group/lmem.py).

A bank serves one access at a time. A TIU command reads its op's operands and writes its
result (and scratch); a GDMA transfer writes or reads the buffer of the tensor it moves. A
command of a global layer, or of a group without an allocation, touches no known bank (mask 0)
and never contends.
"""

from __future__ import annotations

from tpusim.group.lmem import scratch_name
from tpusim.lower.commands import Program


def bank_masks(program: Program, bank_bytes: int) -> tuple[list[int], list[int], list[bool]]:
    """Per TIU command its banks, per GDMA command its banks, and per TIU command whether an
    operand shares a bank with the result (the command conflicts with itself)."""
    groups = {plan.index: plan for plan in program.groups if plan.lmem is not None}
    per_layer: dict[int, tuple[int, bool]] = {}
    for index, op in program.local_ops().items():
        plan = groups.get(program.layers[index].group)
        if plan is None:
            continue
        lmem = plan.lmem
        reads = 0
        for t in op.inputs:
            reads |= lmem.bank_mask(t, bank_bytes)
        writes = 0
        for t in op.outputs:
            writes |= lmem.bank_mask(t, bank_bytes)
        scratch = lmem.bank_mask(scratch_name(op.name), bank_bytes)
        per_layer[index] = (reads | writes | scratch, bool(reads & writes))
    tiu = [per_layer.get(c.layer, (0, False)) for c in program.tiu]
    gdma = [groups[c.group].lmem.bank_mask(c.tensor, bank_bytes) if c.group in groups else 0
            for c in program.gdma]
    return [m for m, _ in tiu], gdma, [own for _, own in tiu]


__all__ = ["bank_masks"]
