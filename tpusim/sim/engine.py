"""The simulation: one simpy process per engine walking its queue in order.

A command starts when its engine is free and the command it waits for on the other engine has
finished (plus the sync latency). Each command takes its time under the timing model (`chip`
or `vendor`, cost/timing.py), priced before the run: under the chip model a command that
overlaps the other engine's work is slowed by contention (sim/overlap.py). Transfers of DMA
engines that share DDR draw on the bus (`DdrBus`); a lone engine has DDR to itself. The run
keeps each command's start and end (`Timeline`); its `Record`s are made from them on demand.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import simpy

from tpusim.cost.gdma import DmaCost
from tpusim.cost.timing import DEFAULT_TIMING, Timing, parse_timing
from tpusim.hw.chip import Chip
from tpusim.lower.commands import Command, Dma, Engine, Program
from tpusim.sim.ddr import DdrBus
from tpusim.sim.overlap import overlap_fractions
from tpusim.sim.waits import Describe, check_waits, stall_error


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

    @property
    def duration_ns(self) -> float:
        return self.end_ns - self.start_ns


@dataclass
class Timeline:
    """When each command of a program ran: start and end (ns) per engine, by command index."""

    program: Program
    tiu_start: list[float]
    tiu_end: list[float]
    gdma_start: list[float]
    gdma_end: list[float]

    @property
    def total_ns(self) -> float:
        return max(max(self.tiu_end, default=0.0), max(self.gdma_end, default=0.0))

    def busy_ns(self, engine: str) -> float:
        starts, ends = ((self.tiu_start, self.tiu_end) if engine == "TIU" else
                        (self.gdma_start, self.gdma_end))
        return sum(end - start for start, end in zip(starts, ends))

    def records(self) -> list[Record]:
        """One record per command, in order of start (then engine, then id)."""
        out = []
        for engine, queue, starts, ends in (
                ("TIU", self.program.tiu, self.tiu_start, self.tiu_end),
                ("GDMA", self.program.gdma, self.gdma_start, self.gdma_end)):
            for cmd, start, end in zip(queue, starts, ends):
                work = cmd.work
                nbytes, direction = ((work.bytes, work.direction.value) if isinstance(work, Dma)
                                     else (0, ""))
                out.append(Record(engine, cmd.id, cmd.dep, work.kind, cmd.layer, cmd.group,
                                  cmd.slice, start, end, nbytes, direction, cmd.tensor))
        out.sort(key=lambda r: (r.start_ns, r.engine, r.cmd_id))
        return out


def check_dependencies(program: Program) -> None:
    """Reject waits that can never be met - on a command that does not exist, or in a cycle -
    before simulating (they would stop the engines), naming the commands and their layers."""
    check_waits(program.tiu, program.gdma, _layer_of(program))


def _layer_of(program: Program) -> Describe:
    """" (layer 'name')" for a command, as errors about waits name it."""
    def describe(cmd: Command) -> str:
        ok = 0 <= cmd.layer < len(program.layers)
        return f" (layer {repr(program.layers[cmd.layer].name) if ok else cmd.layer})"
    return describe


def tiu_durations(program: Program, timing: Timing, overlap: list[float] | None) -> list[float]:
    """Every TIU command's time under `timing` (`overlap`: each one's, for contention); the
    same work is priced once."""
    cache: dict[object, float] = {}
    out = []
    for c in program.tiu:
        ns = cache.get(c.work)
        if ns is None:
            ns = cache[c.work] = timing.tiu_ns(c.work)
        out.append(ns)
    if overlap is not None:
        out = [ns * timing.contention(f) for ns, f in zip(out, overlap)]
    return out


def dma_costs(program: Program, timing: Timing, overlap: list[float] | None) -> list[DmaCost]:
    """Every GDMA command's cost under `timing`, as `tiu_durations`."""
    cache: dict[Dma, DmaCost] = {}
    out = []
    for c in program.gdma:
        cost = cache.get(c.work)
        if cost is None:
            cost = cache[c.work] = timing.dma(c.work)
        out.append(cost)
    if overlap is not None:
        out = [cost.scaled(timing.contention(f)) for cost, f in zip(out, overlap)]
    return out


class Simulation:
    """All state of one run: the simpy environment and the engines' progress."""

    def __init__(self, program: Program, chip: Chip, timing: str = DEFAULT_TIMING,
                 dma_engines: int = 1) -> None:
        check_dependencies(program)
        self.program = program
        self.chip = chip
        self.timing = Timing(chip, parse_timing(timing))
        overlap: tuple[list[float] | None, list[float] | None] = (None, None)
        if self.timing.is_chip and chip.chip_contention:
            overlap = overlap_fractions(program, chip)
        self.tiu_ns = tiu_durations(program, self.timing, overlap[0])
        self.dma = dma_costs(program, self.timing, overlap[1])
        self.env = simpy.Environment()
        # with one DMA engine DDR is never shared: a transfer takes its time alone
        self.bus = DdrBus(self.env) if dma_engines > 1 else None
        n_tiu, n_gdma = len(program.tiu), len(program.gdma)
        self.start = {Engine.TIU: [0.0] * n_tiu, Engine.GDMA: [0.0] * n_gdma}
        self.end = {Engine.TIU: [0.0] * (n_tiu + 1), Engine.GDMA: [0.0] * (n_gdma + 1)}
        # an event only for the commands the other engine waits for
        self._done = {e: {c.dep: self.env.event() for c in program.queue(e.other) if c.dep}
                      for e in Engine}
        self._finished = {Engine.TIU: 0, Engine.GDMA: 0}

    def execute(self) -> Timeline:
        procs = [self.env.process(self._engine(e)) for e in Engine]
        self.env.run()
        if any(p.is_alive for p in procs):  # only if check_dependencies was bypassed
            raise stall_error(self.program.tiu, self.program.gdma,
                              self._finished[Engine.TIU], self._finished[Engine.GDMA],
                              _layer_of(self.program))
        return Timeline(self.program, self.start[Engine.TIU], self.end[Engine.TIU][1:],
                        self.start[Engine.GDMA], self.end[Engine.GDMA][1:])

    def run(self) -> list[Record]:
        return self.execute().records()

    def _engine(self, engine: Engine) -> Generator[simpy.Event, None, None]:
        env, timeout = self.env, self.env.timeout
        other_done, other_end = self._done[engine.other], self.end[engine.other]
        mine_done, starts, ends = self._done[engine], self.start[engine], self.end[engine]
        sync = self.timing.sync_ns(engine is Engine.TIU)
        if engine is Engine.TIU:
            costs: list = self.tiu_ns
        else:
            costs = [c.alone_ns for c in self.dma] if self.bus is None else self.dma
        finished = self._finished
        for i, cmd in enumerate(self.program.queue(engine)):
            dep = cmd.dep
            if dep:
                event = other_done[dep]
                if not event.processed:
                    yield event
                if sync:
                    ready = other_end[dep] + sync
                    if ready > env.now:
                        yield timeout(ready - env.now)
            starts[i] = env.now
            cost = costs[i]
            if isinstance(cost, DmaCost):  # sharing DDR with other engines
                if cost.fixed_ns:
                    yield timeout(cost.fixed_ns)
                yield from self.bus.transfer(cost.ddr_ns, cost.engine_ns)
            else:
                yield timeout(cost)
            ends[i + 1] = env.now
            finished[engine] = i + 1
            done = mine_done.get(i + 1)
            if done is not None:
                done.succeed()
