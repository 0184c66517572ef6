"""Per-group table: what each layer group did in the simulation against tpu-mlir's estimate."""

from __future__ import annotations

from dataclasses import dataclass

from tpusim.lower.commands import Program
from tpusim.sim.engine import Record


@dataclass
class GroupRow:
    index: int
    ops: int
    first: str
    last: str
    type: str
    secs: str
    slices: int
    lmem_bytes: int
    start_ns: float
    end_ns: float
    tiu_ns: float
    gdma_ns: float
    estimate_ns: float

    @property
    def span_ns(self) -> float:
        return self.end_ns - self.start_ns

    @property
    def bound(self) -> str:
        return "TIU" if self.tiu_ns >= self.gdma_ns else "GDMA"

    @property
    def parallelism(self) -> float:
        """(TIU busy + GDMA busy) / span: above 1 when the engines overlap."""
        return (self.tiu_ns + self.gdma_ns) / self.span_ns if self.span_ns else 0.0

    @property
    def estimate_ratio(self) -> float:
        """Simulated span over tpu-mlir's formula estimate."""
        return self.span_ns / self.estimate_ns if self.estimate_ns else 0.0


def group_rows(program: Program, records: list[Record]) -> list[GroupRow]:
    rows = {g.index: GroupRow(g.index, len(g.ops), g.ops[0].name, g.ops[-1].name, g.type.value,
                              str(g.secs), len(g.slices), g.lmem_bytes, float("inf"), 0.0, 0.0,
                              0.0, g.estimate_ns)
            for g in program.groups}
    for r in records:
        row = rows.get(r.group)
        if row is None:
            continue
        row.start_ns = min(row.start_ns, r.start_ns)
        row.end_ns = max(row.end_ns, r.end_ns)
        if r.engine == "TIU":
            row.tiu_ns += r.duration_ns
        else:
            row.gdma_ns += r.duration_ns
    return [row for _, row in sorted(rows.items()) if row.end_ns > 0]
