"""The local-memory map: where each buffer of a layer group lies (address in a lane) and when it
holds a slice, as tpu-mlir's profile draws LOCAL MEM (address against time).

A buffer holds slice s of its tensor from the first command that touches that slice (the load,
or the TIU command computing it) to the last (the last reader, or the store); a weight held
for every slice, from its load to its last reader. A tensor with two copies (loaded for the
next slice while this one is read) alternates between them slice by slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tpusim.group.lmem import scratch_name
from tpusim.profile.summary import first_inference

if TYPE_CHECKING:
    from tpusim.sim.result import Result


@dataclass(frozen=True)
class Placement:
    group: int
    tensor: str
    slice: int  # -1: a weight held for every slice
    addr: int  # bytes into each lane's local memory
    size: int  # bytes per lane
    first_bank: int
    last_bank: int
    start_ns: float
    end_ns: float


def lmem_map(result: Result) -> list[Placement]:
    """Every buffer of every allocated group, for every slice it held, in time order."""
    program = result.program
    plans = {p.index: p for p in program.groups if p.lmem is not None}
    if not plans:
        return []
    touches = {index: (*op.inputs, *op.outputs, scratch_name(op.name))  # by TIU commands
               for index, op in program.local_ops().items()}
    held = {g: set(p.held) if len(p.slices) > 1 else set() for g, p in plans.items()}
    spans: dict[tuple[int, str, int], list[float]] = {}
    for r in first_inference(result.records):
        if r.group not in plans:
            continue
        tensors = (r.tensor,) if r.engine == "GDMA" else touches.get(r.layer, ())
        for t in tensors:
            key = (r.group, t, -1 if t in held[r.group] else r.slice)
            span = spans.get(key)
            if span is None:
                spans[key] = [r.start_ns, r.end_ns]
            else:
                span[0], span[1] = min(span[0], r.start_ns), max(span[1], r.end_ns)
    bank = result.chip.lmem_bank_bytes
    copies: dict[tuple[int, str], list] = {}
    for g, plan in plans.items():
        for b in plan.lmem.buffers:
            copies.setdefault((g, b.tensor), []).append(b)
    out = []
    for (g, t, s), (start, end) in spans.items():
        found = copies.get((g, t))
        if not found:
            continue
        b = found[max(s, 0) % len(found)]
        out.append(Placement(g, t, s, b.addr, b.size, b.addr // bank,
                             (b.end - 1) // bank, start, end))
    out.sort(key=lambda p: (p.start_ns, p.addr, p.group, p.tensor))
    return out


def lmem_table(result: Result) -> tuple[list[str], list[list]]:
    """lmem.csv: one row per buffer and slice."""
    header = ["group", "tensor", "slice", "addr", "bytes", "first_bank", "last_bank",
              "start_ns", "end_ns"]
    return header, [[p.group, p.tensor, p.slice, p.addr, p.size, p.first_bank, p.last_bank,
                     round(p.start_ns, 3), round(p.end_ns, 3)] for p in lmem_map(result)]


__all__ = ["Placement", "lmem_map", "lmem_table"]
