"""A list-scheduling replay of two in-order queues, without simpy.

With one DMA engine (the BM1684X case) DDR is never shared, so each command simply starts
when its engine is free and the command it waits for has ended. The compiler uses this to
price candidate layer groups quickly; tests check it agrees with the simulation.
"""

from __future__ import annotations

from tpusim.cost.gdma import dma_cost
from tpusim.cost.tiu import tiu_ns
from tpusim.hw.chip import Chip
from tpusim.lower.commands import Command, Dma
from tpusim.sim.waits import stall_error


def _duration(cmd: Command, chip: Chip, cache: dict) -> float:
    work = cmd.work
    ns = cache.get(work)
    if ns is None:
        ns = dma_cost(work, chip).alone_ns if isinstance(work, Dma) else tiu_ns(work, chip)
        cache[work] = ns
    return ns


def replay_ns(tiu: list[Command], gdma: list[Command], chip: Chip) -> float:
    """Makespan of the two queues in nanoseconds."""
    tiu_end, gdma_end = _replay(tiu, gdma, chip)
    return max(tiu_end[-1], gdma_end[-1])


def schedule(tiu: list[Command], gdma: list[Command], chip: Chip
             ) -> tuple[list[float], list[float], list[float], list[float]]:
    """Start and end (ns) of every TIU command, then of every GDMA command."""
    tiu_start, gdma_start = [0.0] * len(tiu), [0.0] * len(gdma)
    tiu_end, gdma_end = _replay(tiu, gdma, chip, tiu_start, gdma_start)
    return tiu_start, tiu_end[1:], gdma_start, gdma_end[1:]


def _replay(tiu: list[Command], gdma: list[Command], chip: Chip,
            tiu_start: list[float] | None = None, gdma_start: list[float] | None = None
            ) -> tuple[list[float], list[float]]:
    """Each queue's end times (index 0: the start, 0 ns); each command's start is written
    into the start lists when they are given."""
    cache: dict = {}
    sync_tiu = chip.sync_latency_cycles * 1000.0 / chip.tiu_mhz
    sync_gdma = chip.sync_latency_cycles * 1000.0 / chip.gdma_mhz
    tiu_end = [0.0] * (len(tiu) + 1)
    gdma_end = [0.0] * (len(gdma) + 1)
    i = j = 0
    while i < len(tiu) or j < len(gdma):
        moved = False
        while i < len(tiu) and 0 <= tiu[i].dep <= j:
            dep = tiu[i].dep
            start = max(tiu_end[i], gdma_end[dep] + sync_tiu if dep else 0.0)
            tiu_end[i + 1] = start + _duration(tiu[i], chip, cache)
            if tiu_start is not None:
                tiu_start[i] = start
            i += 1
            moved = True
        while j < len(gdma) and 0 <= gdma[j].dep <= i:
            dep = gdma[j].dep
            start = max(gdma_end[j], tiu_end[dep] + sync_gdma if dep else 0.0)
            gdma_end[j + 1] = start + _duration(gdma[j], chip, cache)
            if gdma_start is not None:
                gdma_start[j] = start
            j += 1
            moved = True
        if not moved:  # a wait on a missing command, or a cycle of waits
            raise stall_error(tiu, gdma, i, j)
    return tiu_end, gdma_end
