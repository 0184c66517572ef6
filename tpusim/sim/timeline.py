"""What a run produced, command by command: `Timeline` (each command's start, end and stalls,
by index) and the `Record`s made from it on demand."""

from __future__ import annotations

from dataclasses import dataclass, field

from tpusim.lower.commands import Dma, Engine, Program


@dataclass(slots=True)
class Record:
    engine: str
    cmd_id: int
    dep: int
    kind: str
    layer: int
    group: int
    slice: int
    start_ns: float
    end_ns: float
    bytes: int
    direction: str
    tensor: str
    lmem_stall_ns: float = 0.0  # waiting for a local-memory bank
    ddr_stall_ns: float = 0.0  # waiting for DDR: turnarounds, other DMA engines' transfers
    inference: int = 0  # which inference of a stream

    @property
    def duration_ns(self) -> float:
        return self.end_ns - self.start_ns


@dataclass
class Timeline:
    """When each command of a program ran: start and end (ns) per engine, by command index
    (a stream of `inferences` runs the queues that many times, one after the other), and how
    long each waited for local memory and for DDR."""

    program: Program
    tiu_start: list[float]
    tiu_end: list[float]
    gdma_start: list[float]
    gdma_end: list[float]
    inferences: int = 1
    tiu_lmem_stall: list[float] | None = None
    gdma_lmem_stall: list[float] | None = None
    gdma_ddr_stall: list[float] | None = None
    other_cores_ns: list[float] = field(default_factory=list)  # when each other core ends
    host: dict[str, list[float]] | None = None  # a stream's host copies: up/down start/end

    @property
    def latencies_ns(self) -> list[float]:
        """Per inference of a stream: from its upload's start to its download's end."""
        if not self.host:
            return []
        return [e - s for s, e in zip(self.host["up_start"], self.host["down_end"])]

    @property
    def total_ns(self) -> float:
        host = self.host["down_end"] if self.host else []
        return max(max(self.tiu_end, default=0.0), max(self.gdma_end, default=0.0),
                   *self.other_cores_ns, *host)

    def busy_ns(self, engine: str) -> float:
        starts, ends = ((self.tiu_start, self.tiu_end) if engine == "TIU" else
                        (self.gdma_start, self.gdma_end))
        return sum(end - start for start, end in zip(starts, ends))

    def stall_ns(self, kind: str) -> float:
        """All commands' waits for "lmem" (banks) or "ddr"."""
        lists = ((self.tiu_lmem_stall, self.gdma_lmem_stall) if kind == "lmem"
                 else (self.gdma_ddr_stall,))
        return sum(sum(x) for x in lists if x)

    def records(self) -> list[Record]:
        """One record per command, in order of start (then engine, then id)."""
        out = []
        for engine, queue, starts, ends, lmem, ddr in (
                ("TIU", self.program.tiu, self.tiu_start, self.tiu_end, self.tiu_lmem_stall,
                 None),
                ("GDMA", self.program.gdma, self.gdma_start, self.gdma_end,
                 self.gdma_lmem_stall, self.gdma_ddr_stall)):
            n, n_other = len(queue), len(self.program.queue(Engine(engine).other))
            for k in range(self.inferences):  # a stream's ids go on from one to the next
                for i, cmd in enumerate(queue):
                    at = k * n + i
                    work = cmd.work
                    nbytes, direction = ((work.bytes, work.direction.value)
                                         if isinstance(work, Dma) else (0, ""))
                    dep = cmd.dep + k * n_other if cmd.dep else 0
                    out.append(Record(engine, cmd.id + k * n, dep, work.kind, cmd.layer,
                                      cmd.group, cmd.slice, starts[at], ends[at], nbytes,
                                      direction, cmd.tensor, lmem[at] if lmem else 0.0,
                                      ddr[at] if ddr else 0.0, k))
        out.sort(key=lambda r: (r.start_ns, r.engine, r.cmd_id))
        return out


__all__ = ["Record", "Timeline"]
