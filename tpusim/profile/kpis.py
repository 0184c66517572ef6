"""PerfAI's KPIs and the per-engine table, from a run's records.

PerfAI (tpu-mlir's python/PerfAI) judges a run by how busy the TIU is, how much the two engines
overlap and how hard DDR works. Ratios are plain fractions (0.5 is 50 %); all times are ns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from tpusim.cost.tiu import issued_ops, uarch_rate, useful_ops
from tpusim.lower.commands import TiuWork

if TYPE_CHECKING:
    from tpusim.hw.chip import Chip
    from tpusim.lower.commands import Program
    from tpusim.sim.result import Result


def tiu_rate(program: Program, cmd_id: int, chip: Chip) -> float:
    """The uArch rate of one TIU command; 1.0 for a command the cost model has no record of
    (one read from tpu-mlir's profile)."""
    work = program.tiu[cmd_id - 1].work
    return _rate(work, chip) if isinstance(work, TiuWork) else 1.0


@lru_cache(maxsize=4096)
def _rate(work: TiuWork, chip: Chip) -> float:  # a program repeats its work many times
    return uarch_rate(work, chip)


@dataclass
class Kpis:
    total_ns: float
    tiu_busy_ns: float
    gdma_busy_ns: float
    ddr_bytes: int
    ddr_peak_gbps: float
    useful_ops: int
    issued_ops: float

    @property
    def tiu_working_ratio(self) -> float:
        """TIU busy over the total time."""
        return self.tiu_busy_ns / self.total_ns if self.total_ns else 0.0

    @property
    def parallelism(self) -> float:
        """(TIU busy + GDMA busy) / total: 2.0 when both engines work all the time."""
        return (self.tiu_busy_ns + self.gdma_busy_ns) / self.total_ns if self.total_ns else 0.0

    @property
    def concurrency(self) -> float:
        """(TIU + GDMA - total) / min(TIU, GDMA): the share of the shorter engine's time that
        overlaps the other (exactly so when one engine is always busy); 0 if one never runs."""
        shorter = min(self.tiu_busy_ns, self.gdma_busy_ns)
        if not shorter:
            return 0.0
        return (self.tiu_busy_ns + self.gdma_busy_ns - self.total_ns) / shorter

    @property
    def ddr_avg_gbps(self) -> float:
        """DDR bytes over the total time (1 byte/ns is 1 GB/s)."""
        return self.ddr_bytes / self.total_ns if self.total_ns else 0.0

    @property
    def ddr_utilisation(self) -> float:
        return self.ddr_avg_gbps / self.ddr_peak_gbps

    @property
    def uarch_rate(self) -> float:
        """Sum of useful over sum of issued TIU operations."""
        return self.useful_ops / self.issued_ops if self.issued_ops else 1.0

    def to_dict(self) -> dict[str, float]:
        names = ["total_ns", "tiu_busy_ns", "gdma_busy_ns", "ddr_bytes", "ddr_peak_gbps",
                 "useful_ops", "issued_ops", "tiu_working_ratio", "parallelism",
                 "concurrency", "ddr_avg_gbps", "ddr_utilisation", "uarch_rate"]
        return {name: getattr(self, name) for name in names}


def ddr_bytes(result: Result) -> int:
    """Bytes that crossed the DDR interface (every transfer but local-to-local copies)."""
    return sum(r.bytes for r in result.records if r.direction != "L2L")


def kpis(result: Result) -> Kpis:
    tiu = [c.work for c in result.program.tiu if isinstance(c.work, TiuWork)]
    return Kpis(result.total_ns, result.busy_ns("TIU"), result.busy_ns("GDMA"),
                ddr_bytes(result), result.chip.ddr_gbps,
                sum(useful_ops(work) for work in tiu),
                sum(issued_ops(work, result.chip) for work in tiu))


@dataclass
class EngineRow:
    engine: str
    commands: int = 0
    busy_ns: float = 0.0
    total_ns: float = 0.0
    bytes: int = 0
    by_kind_ns: dict[str, float] = field(default_factory=dict)
    by_direction_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def busy_ratio(self) -> float:
        return self.busy_ns / self.total_ns if self.total_ns else 0.0

    def to_dict(self) -> dict:
        return {"engine": self.engine, "commands": self.commands, "busy_ns": self.busy_ns,
                "busy_ratio": self.busy_ratio, "bytes": self.bytes,
                "by_kind_ns": self.by_kind_ns, "by_direction_bytes": self.by_direction_bytes}


def engine_rows(result: Result) -> list[EngineRow]:
    """TIU then GDMA: commands, busy time (summed in record order, as Result.busy_ns does),
    time per command kind and, for GDMA, bytes per direction."""
    rows = {name: EngineRow(name, total_ns=result.total_ns) for name in ("TIU", "GDMA")}
    for r in result.records:
        row = rows[r.engine]
        row.commands += 1
        row.busy_ns += r.end_ns - r.start_ns
        row.by_kind_ns[r.kind] = row.by_kind_ns.get(r.kind, 0.0) + r.duration_ns
        if r.engine == "GDMA":
            row.bytes += r.bytes
            row.by_direction_bytes[r.direction] = (
                row.by_direction_bytes.get(r.direction, 0) + r.bytes)
    for row in rows.values():
        row.by_kind_ns = dict(sorted(row.by_kind_ns.items()))
        row.by_direction_bytes = dict(sorted(row.by_direction_bytes.items()))
    return list(rows.values())
