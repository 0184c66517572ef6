"""`Result`: what a simulation produced, below both the API that makes it and the profiler that
reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tpusim.hw.chip import Chip
from tpusim.ir.stats import macs
from tpusim.lower.commands import Program
from tpusim.progress import report
from tpusim.sim.timeline import Record, Timeline


class Result:
    """A program's run: its records (one per command, made on first use from the timeline)
    and the totals people ask for first."""

    def __init__(self, program: Program, chip: Chip, records: list[Record] | Timeline,
                 sim_wall_s: float = 0.0, info: dict[str, Any] | None = None) -> None:
        self.program, self.chip, self.sim_wall_s = program, chip, sim_wall_s
        self.info: dict[str, Any] = dict(info or {})
        self._timeline = records if isinstance(records, Timeline) else None
        self._records = None if isinstance(records, Timeline) else list(records)

    @property
    def records(self) -> list[Record]:
        if self._records is None:
            self._records = self._timeline.records()
        return self._records

    @records.setter
    def records(self, value: list[Record]) -> None:
        self._records, self._timeline = list(value), None

    def __repr__(self) -> str:
        return (f"Result(program={self.program.name!r}, chip={self.chip.name!r}, "
                f"total_ns={self.total_ns}, info={self.info})")

    @property
    def total_ns(self) -> float:
        if self._timeline is not None:
            return self._timeline.total_ns
        return max((r.end_ns for r in self.records), default=0.0)

    @property
    def total_ms(self) -> float:
        return self.total_ns / 1e6

    def busy_ns(self, engine: str) -> float:
        if self._timeline is not None:
            return self._timeline.busy_ns(engine)
        return sum(r.end_ns - r.start_ns for r in self.records if r.engine == engine)

    def stall_ns(self, kind: str) -> float:
        """Time commands waited for "lmem" (a local-memory bank) or "ddr" (the bus)."""
        if self._timeline is not None:
            return self._timeline.stall_ns(kind)
        key = "lmem_stall_ns" if kind == "lmem" else "ddr_stall_ns"
        return sum(getattr(r, key) for r in self.records)

    def stream(self) -> dict[str, Any]:
        """A stream's numbers: inferences, mean latency and throughput (empty otherwise)."""
        timeline = self._timeline
        if timeline is None or not timeline.host:
            return {}
        latencies = timeline.latencies_ns
        host = timeline.host
        span = max(host["down_end"]) - min(host["up_start"])
        return {"stream": timeline.inferences,
                "latency_ms": round(sum(latencies) / len(latencies) / 1e6, 6),
                "latency_max_ms": round(max(latencies) / 1e6, 6),
                "throughput_per_s": round(timeline.inferences / span * 1e9, 3)}

    def ddr_bytes(self) -> int:
        """Bytes the GDMA moved to or from DDR (over every inference of a stream)."""
        inferences = self._timeline.inferences if self._timeline is not None else 1
        return inferences * sum(c.work.bytes for c in self.program.gdma
                                if c.work.direction.value != "L2L")

    def summary(self) -> dict[str, Any]:
        """The headline numbers (the fields `tpusim run --json` prints)."""
        p = self.program
        graph = getattr(p, "graph", None)
        return {
            "model": p.name,
            "chip": self.chip.name,
            "precision": p.precision,
            **self.info,
            "total_ms": round(self.total_ms, 6),
            "tiu_busy_ms": round(self.busy_ns("TIU") / 1e6, 6),
            "gdma_busy_ms": round(self.busy_ns("GDMA") / 1e6, 6),
            "lmem_stall_ms": round(self.stall_ns("lmem") / 1e6, 6),
            "ddr_stall_ms": round(self.stall_ns("ddr") / 1e6, 6),
            "ddr_bytes": self.ddr_bytes(),
            "tiu_commands": len(p.tiu),
            "gdma_commands": len(p.gdma),
            "groups": len(p.groups),
            "global_layers": sum(1 for layer in p.layers if layer.group < 0),
            "gmacs": round(macs(graph) / 1e9, 6) if graph is not None else None,
            "sim_wall_s": round(self.sim_wall_s, 3),
            **self.stream(),
        }

    def save(self, directory: str | Path) -> list[Path]:
        """Write the timeline and summaries into `directory` (whole files or none)."""
        from tpusim.profile.report import save_result  # the profiler reads results

        report(f"writing the timeline and summaries of {self.program.name}")
        return save_result(self, Path(directory))


__all__ = ["Result"]
