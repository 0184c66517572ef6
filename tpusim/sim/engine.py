"""The simulation: one simpy process per engine walking its queue in order.

A command starts when its engine is free and the command it waits for on the other engine has
finished (plus the sync latency). TIU commands take their time under the timing model (`chip`
or `vendor`, cost/timing.py); GDMA commands take their start-up time, then draw on the shared
DDR bus. Under the chip model a command that overlaps the other engine's work is slowed by
contention (sim/overlap.py). Every command leaves one `Record`.
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


class Simulation:
    """All state of one run: the simpy environment, the engines' progress, the records."""

    def __init__(self, program: Program, chip: Chip, timing: str = DEFAULT_TIMING) -> None:
        check_dependencies(program)
        self.program = program
        self.chip = chip
        self.timing = Timing(chip, parse_timing(timing))
        self.env = simpy.Environment()
        self.bus = DdrBus(self.env)
        self.records: list[Record] = []
        self._done = {e: [self.env.event() for _ in range(len(program.queue(e)) + 1)]
                      for e in Engine}
        self._end = {e: [0.0] * (len(program.queue(e)) + 1) for e in Engine}
        for e in Engine:
            self._done[e][0].succeed()  # id 0: "waits for nothing"
        self._tiu_cache: dict[object, float] = {}
        self._dma_cache: dict[Dma, DmaCost] = {}
        # contention: each command's overlap with the other engine in the vendor schedule
        self._overlap = None
        if self.timing.is_chip and chip.chip_contention:
            tiu, gdma = overlap_fractions(program, chip)
            self._overlap = {Engine.TIU: tiu.tolist(), Engine.GDMA: gdma.tolist()}

    def run(self) -> list[Record]:
        procs = [self.env.process(self._engine(e)) for e in Engine]
        self.env.run()
        if any(p.is_alive for p in procs):  # only if check_dependencies was bypassed
            i, j = (sum(ev.processed for ev in self._done[e][1:]) for e in Engine)
            raise stall_error(self.program.tiu, self.program.gdma, i, j,
                              _layer_of(self.program))
        self.records.sort(key=lambda r: (r.start_ns, r.engine, r.cmd_id))
        return self.records

    def _engine(self, engine: Engine) -> Generator[simpy.Event, None, None]:
        env, timing = self.env, self.timing
        other_done, other_end = self._done[engine.other], self._end[engine.other]
        sync = timing.sync_ns(engine is Engine.TIU)
        overlap = self._overlap[engine] if self._overlap else None
        for cmd in self.program.queue(engine):
            if cmd.dep:
                if not other_done[cmd.dep].processed:
                    yield other_done[cmd.dep]
                ready = other_end[cmd.dep] + sync
                if ready > env.now:
                    yield env.timeout(ready - env.now)
            start = env.now
            work = cmd.work
            if isinstance(work, Dma):
                if overlap:  # contention makes each command's cost its own
                    cost = timing.dma(work, overlap[cmd.id - 1])
                else:
                    cost = self._dma_cache.get(work) or self._dma_cache.setdefault(
                        work, timing.dma(work))
                if cost.fixed_ns:
                    yield env.timeout(cost.fixed_ns)
                yield from self.bus.transfer(cost.ddr_ns, cost.engine_ns)
                nbytes, direction = work.bytes, work.direction.value
            else:
                if overlap:
                    ns = timing.tiu_ns(work, overlap[cmd.id - 1])
                else:
                    ns = self._tiu_cache.get(work)
                    if ns is None:
                        ns = self._tiu_cache.setdefault(work, timing.tiu_ns(work))
                yield env.timeout(ns)
                nbytes, direction = 0, ""
            self._end[engine][cmd.id] = env.now
            self.records.append(Record(engine.value, cmd.id, cmd.dep, work.kind, cmd.layer,
                                       cmd.group, cmd.slice, start, env.now, nbytes, direction,
                                       cmd.tensor))
            self._done[engine][cmd.id].succeed()
