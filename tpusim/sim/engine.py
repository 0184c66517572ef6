"""The simulation: one simpy process per engine walking its queue in order.

A command starts when its engine is free and the command it waits for on the other engine has
finished (plus the sync latency). Each command takes its time under the timing model (`chip`
or `vendor`, cost/timing.py), priced before the run: under the chip model a command that
overlaps the other engine's work is slowed by contention (sim/overlap.py).

Where the hardware contends, the simulation does (chip timing; DESIGN.md, "Memory in the
simulation"):
- local-memory banks: a command that starts while the other engine's command touches one of
  its banks waits its turn at the bank, `chip_lmem_bank_conflict` of the time they overlap (the
  command already in flight keeps its pace); a TIU command whose operand shares a bank with its
  result is slowed by the same fraction of its time;
- DDR: every DMA engine that uses it - the GDMA of each core, the host's copies of a stream of
  inferences - draws on one bus (`DdrBus`) that turns around between reads and writes
  (`chip_ddr_turnaround_ns`). A lone GDMA has the bus to itself, and its turnarounds are known
  from its queue's order.
With those off (vendor timing, or the fields at 0), a run is the list schedule of the queues.
The run keeps each command's start, end and stalls (`Timeline`); `Record`s are made on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

import simpy

from tpusim.cost.gdma import DmaCost
from tpusim.cost.timing import DEFAULT_TIMING, Timing, parse_timing
from tpusim.errors import SimulationError
from tpusim.hw.chip import Chip
from tpusim.lower.commands import Command, Direction, Dma, Engine, Program
from tpusim.sim.banks import bank_masks
from tpusim.sim.ddr import BOTH, READ, WRITE, DdrBus, turns
from tpusim.sim.overlap import overlap_fractions
from tpusim.sim.timeline import Record, Timeline
from tpusim.sim.waits import Describe, check_waits, stall_error


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


def _priced(commands: list[Command], price: Callable[[Any], Any]) -> list:
    """`price(work)` of every command, the same work priced once."""
    cache: dict[object, Any] = {}
    out = []
    for c in commands:
        cost = cache.get(c.work)
        if cost is None:
            cost = cache[c.work] = price(c.work)
        out.append(cost)
    return out


def tiu_durations(program: Program, timing: Timing, overlap: list[float] | None) -> list[float]:
    """Every TIU command's time under `timing` (`overlap`: each one's, for contention)."""
    out = _priced(program.tiu, timing.tiu_ns)
    if overlap is not None:
        out = [ns * timing.contention(f) for ns, f in zip(out, overlap)]
    return out


def dma_costs(program: Program, timing: Timing, overlap: list[float] | None) -> list[DmaCost]:
    """Every GDMA command's cost under `timing`, as `tiu_durations`."""
    out = _priced(program.gdma, timing.dma)
    if overlap is not None:
        out = [cost.scaled(timing.contention(f)) for cost, f in zip(out, overlap)]
    return out


_ACCESS = {Direction.S2L: READ, Direction.L2S: WRITE, Direction.S2S: BOTH, Direction.L2L: ""}


def ddr_access(work: Dma) -> str:
    """What a transfer does to DDR: READ, WRITE, BOTH (a copy) or nothing (local to local)."""
    return _ACCESS[work.direction]


def turnarounds(program: Program) -> list[bool]:
    """Per GDMA command: does it turn DDR around from the access before it in the queue?"""
    out, last = [], ""
    for c in program.gdma:
        access = ddr_access(c.work)
        out.append(turns(last, access))
        last = access[-1] if access else last
    return out


class _Queue:
    """One engine of one core: its commands' costs and banks, and what the run did."""

    def __init__(self, env: simpy.Environment, commands: list[Command], costs: list,
                 alone: list[float], masks: list[int] | None, inferences: int) -> None:
        self.commands, self.costs, self.alone, self.masks = commands, costs, alone, masks
        size = len(commands) * inferences
        self.start = [0.0] * size
        self.end = [0.0] * (size + 1)  # index 0: the start of the run
        self.lmem_stall = [0.0] * size
        self.ddr_stall = [0.0] * size
        self.busy_until, self.busy_mask = 0.0, 0  # the command in flight and its banks
        self.done: dict[int, simpy.Event] = {}  # by command index over the stream (1-based)
        self.finished = [env.event() for _ in range(inferences)]
        self.count = 0  # commands run


class _Core:
    """One core's two queues over the program."""

    def __init__(self, sim: Simulation, program: Program) -> None:
        check_dependencies(program)
        chip, timing, env, n = sim.chip, sim.timing, sim.env, sim.inferences
        self.program = program
        overlap: tuple[list[float] | None, list[float] | None] = (None, None)
        if timing.is_chip and chip.chip_contention:
            overlap = overlap_fractions(program, chip)
        tiu_ns = tiu_durations(program, timing, overlap[0])
        dma = dma_costs(program, timing, overlap[1])
        tiu_masks = gdma_masks = None
        self.own_extra: list[float] | None = None
        if sim.bank_conflict:
            tiu_masks, gdma_masks, own = bank_masks(program, chip.lmem_bank_bytes)
            # an operand in the result's bank: reads and writes take turns at it
            self.own_extra = [ns * sim.bank_conflict if o else 0.0 for ns, o in zip(tiu_ns, own)]
            tiu_ns = [ns + extra for ns, extra in zip(tiu_ns, self.own_extra)]
        alone = [c.alone_ns for c in dma]
        if sim.bus is not None:
            costs: list = [(c, ddr_access(cmd.work)) for c, cmd in zip(dma, program.gdma)]
        elif sim.turnaround:
            costs = [a + sim.turnaround * t for a, t in zip(alone, turnarounds(program))]
        else:
            costs = alone
        self.queues = {Engine.TIU: _Queue(env, program.tiu, tiu_ns, tiu_ns, tiu_masks, n),
                       Engine.GDMA: _Queue(env, program.gdma, costs, alone, gdma_masks, n)}
        for engine, queue in self.queues.items():  # events only for waited-for commands
            size = len(program.queue(engine))
            queue.done = {k * size + c.dep: env.event()
                          for c in program.queue(engine.other) if c.dep for k in range(n)}

    def inference_done(self, env: simpy.Environment, k: int) -> simpy.Event:
        return env.all_of([q.finished[k] for q in self.queues.values()])


class Simulation:
    """All state of one run: the simpy environment and the engines' progress.

    `stream` > 0 runs that many inferences back to back, the host uploading each one's inputs
    (`upload_bytes`) and downloading its outputs while the TPU computes, as the runtime
    pipelines them over two buffers each way; `cores` are the programs the chip's other cores
    run meanwhile, sharing DDR."""

    def __init__(self, program: Program, chip: Chip, timing: str = DEFAULT_TIMING,
                 stream: int = 0, cores: Sequence[Program] = (),
                 upload_bytes: int = 0, download_bytes: int = 0) -> None:
        if stream and cores:
            raise SimulationError("a stream of inferences runs on one core")
        self.chip = chip
        self.timing = Timing(chip, parse_timing(timing))
        self.env = simpy.Environment()
        self.inferences = max(1, stream)
        self.stream = stream
        chip_model = self.timing.is_chip
        self.bank_conflict = chip.chip_lmem_bank_conflict if chip_model else 0.0
        self.turnaround = chip.chip_ddr_turnaround_ns if chip_model else 0.0
        shared = stream > 0 or bool(cores)  # more than one DMA engine on DDR
        self.bus = DdrBus(self.env, self.turnaround) if shared else None
        self.cores = [_Core(self, p) for p in (program, *cores)]
        self.program = program
        self.upload_bytes, self.download_bytes = upload_bytes, download_bytes
        n = self.inferences
        self.uploaded = [self.env.event() for _ in range(n)]
        self.downloaded = [self.env.event() for _ in range(n)]
        self.host: dict[str, list[float]] = {k: [0.0] * n for k in
                                             ("up_start", "up_end", "down_start", "down_end")}

    def execute(self) -> Timeline:
        env = self.env
        for core in self.cores:
            for engine in Engine:
                env.process(self._engine(core, engine))
        if self.stream:
            env.process(self._uploads())
            env.process(self._downloads())
        env.run()
        for core in self.cores:
            t, g = core.queues[Engine.TIU], core.queues[Engine.GDMA]
            if t.count < len(t.start) or g.count < len(g.start):  # only if checks were bypassed
                raise stall_error(core.program.tiu, core.program.gdma,
                                  t.count % max(1, len(core.program.tiu)),
                                  g.count % max(1, len(core.program.gdma)),
                                  _layer_of(core.program))
        tiu, gdma = (self.cores[0].queues[e] for e in Engine)
        others = [max(c.queues[Engine.TIU].end[-1], c.queues[Engine.GDMA].end[-1])
                  for c in self.cores[1:]]
        contended = bool(self.bank_conflict or self.bus is not None or self.turnaround)
        return Timeline(self.program, tiu.start, tiu.end[1:], gdma.start, gdma.end[1:],
                        self.inferences,
                        tiu.lmem_stall if contended else None,
                        gdma.lmem_stall if contended else None,
                        gdma.ddr_stall if contended else None,
                        others, dict(self.host) if self.stream else None)

    def run(self) -> list[Record]:
        return self.execute().records()

    def _engine(self, core: _Core, engine: Engine) -> Generator[simpy.Event, None, None]:
        env, timeout = self.env, self.env.timeout
        mine, other = core.queues[engine], core.queues[engine.other]
        other_done, other_end = other.done, other.end
        mine_done, starts, ends = mine.done, mine.start, mine.end
        sync = self.timing.sync_ns(engine is Engine.TIU)
        commands, costs, masks = mine.commands, mine.costs, mine.masks
        n, n_other = len(commands), len(other.commands)
        conflict = self.bank_conflict
        own_extra = core.own_extra if engine is Engine.TIU else None
        bus = self.bus if engine is Engine.GDMA else None
        for k in range(self.inferences):
            if self.stream:  # its inputs are in; its output buffer was downloaded
                yield self.uploaded[k]
                if k >= 2:
                    yield self.downloaded[k - 2]
            base, other_base = k * n, k * n_other
            for i, cmd in enumerate(commands):
                dep = cmd.dep
                if dep:
                    event = other_done[other_base + dep]
                    if not event.processed:
                        yield event
                    if sync:
                        ready = other_end[other_base + dep] + sync
                        if ready > env.now:
                            yield timeout(ready - env.now)
                at = base + i
                now = starts[at] = env.now
                cost = costs[i]
                if masks is not None:
                    mask, stall = masks[i], 0.0
                    if mask and other.busy_until > now and other.busy_mask & mask:
                        # the bank serves the access in flight first
                        stall = conflict * min(mine.alone[i], other.busy_until - now)
                    mine.busy_until, mine.busy_mask = now + stall + mine.alone[i], mask
                    if own_extra is not None:
                        mine.lmem_stall[at] = stall + own_extra[i]
                    else:
                        mine.lmem_stall[at] = stall
                    if stall:
                        yield timeout(stall)
                if bus is not None:
                    dma, access = cost
                    if dma.fixed_ns:
                        yield timeout(dma.fixed_ns)
                    yield from bus.transfer(dma.ddr_ns, dma.engine_ns, access)
                else:
                    yield timeout(cost)
                end = ends[at + 1] = env.now
                if engine is Engine.GDMA and (bus is not None or self.turnaround):
                    mine.ddr_stall[at] = max(0.0, end - now - mine.lmem_stall[at]
                                             - mine.alone[i])
                mine.count = at + 1
                done = mine_done.get(at + 1)
                if done is not None:
                    done.succeed()
            mine.finished[k].succeed()

    def _host_copy(self, nbytes: int, write: bool) -> Generator[simpy.Event, None, None]:
        """One copy between the host and DDR: PCIe at host_gbps, DDR through the bus."""
        chip = self.chip
        efficiency = chip.ddr_write_efficiency if write else chip.ddr_read_efficiency
        ddr_ns = nbytes / (chip.ddr_bytes_per_ns * efficiency)
        yield from self.bus.transfer(ddr_ns, nbytes / chip.host_gbps, WRITE if write else READ)

    def _uploads(self) -> Generator[simpy.Event, None, None]:
        core = self.cores[0]
        for k in range(self.inferences):
            if k >= 2:  # two input buffers: inference k-2 has finished reading its own
                yield core.inference_done(self.env, k - 2)
            self.host["up_start"][k] = self.env.now
            yield from self._host_copy(self.upload_bytes, write=True)
            self.host["up_end"][k] = self.env.now
            self.uploaded[k].succeed()

    def _downloads(self) -> Generator[simpy.Event, None, None]:
        core = self.cores[0]
        for k in range(self.inferences):
            yield core.inference_done(self.env, k)
            self.host["down_start"][k] = self.env.now
            yield from self._host_copy(self.download_bytes, write=False)
            self.host["down_end"][k] = self.env.now
            self.downloaded[k].succeed()
