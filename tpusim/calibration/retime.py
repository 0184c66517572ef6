"""Re-time one compiled program under many chip timing parameters, fast.

A fit tries hundreds of parameter sets on the same command streams. `Retimer` prices every
command once under the vendor model, then, per trial, scales those costs with numpy exactly as
`cost.timing.Timing` does under the chip model, and replays the two queues block by block: a
block is a run of commands on one engine of which only the first waits for the other engine,
so it ends a fixed sum of durations after it starts. The replay also finds the critical path,
whose commands make the derivative of the total time by each parameter (the total is piecewise
linear in the inverse kernel efficiency, the short-row cost, the contention and the DDR
turnaround). Tests check it against the simulation.

Bank conflicts between the engines depend on which commands the schedule runs together, which
a block replay does not follow: the re-timing takes each command's overlap with a command on
the other engine using one of its banks from a first replay without them, then replays with
those waits (first order in `chip_lmem_bank_conflict`; exact when it is 0). The simulation is
what reports numbers; the fit uses this to move parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tpusim.cost.gdma import stream_ns
from tpusim.cost.timing import Timing, is_spatial_conv
from tpusim.hw.chip import Chip, timing_fields
from tpusim.lower.commands import Command, Dma, Program
from tpusim.sim.banks import bank_masks
from tpusim.sim.engine import turnarounds
from tpusim.sim.overlap import overlap_fractions
from tpusim.sim.waits import stall_error


@dataclass
class _Queue:
    """One engine's commands as arrays, and its blocks."""

    deps: np.ndarray  # per command: the other engine's command id waited for (0: none)
    starts: np.ndarray  # per block: index of its first command
    ends: np.ndarray  # per block: index one past its last command
    block_of: np.ndarray  # per command id (1-based; 0 unused): its block

    @classmethod
    def of(cls, commands: list[Command]) -> _Queue:
        deps = np.array([c.dep for c in commands], dtype=np.int64)
        starts = np.flatnonzero(deps != 0)
        if len(commands) and (not len(starts) or starts[0] != 0):
            starts = np.concatenate([[0], starts])
        starts = starts.astype(np.int64)
        ends = np.append(starts[1:], len(commands)).astype(np.int64)
        block_of = np.zeros(len(commands) + 1, dtype=np.int64)
        for b, (s, e) in enumerate(zip(starts, ends)):
            block_of[s + 1:e + 1] = b
        return cls(deps, starts, ends, block_of)


@dataclass(frozen=True)
class Timed:
    """One trial: the total, and its derivative by every chip timing field (per unit)."""

    total_ns: float
    gradient: dict[str, float]
    path: tuple[tuple[str, int, int], ...]  # critical path: (engine, first, last) command ids


class Retimer:
    """A program's commands, priced once by the vendor model, re-timed per chip."""

    def __init__(self, program: Program, chip: Chip) -> None:
        vendor = Timing(chip, "vendor")
        self.program = program
        self.queues = (_Queue.of(program.tiu), _Queue.of(program.gdma))
        self._blocks = self._checked_order()
        self.tiu_ns = np.array([vendor.tiu_ns(c.work) for c in program.tiu], dtype=float)
        self.spatial = np.array([is_spatial_conv(c.work) for c in program.tiu], dtype=bool)
        costs = [vendor.dma(c.work) for c in program.gdma]
        self.dma_fixed = np.array([c.fixed_ns for c in costs], dtype=float)
        self.dma_engine = np.array([c.engine_ns for c in costs], dtype=float)
        ddr = np.array([c.ddr_ns for c in costs], dtype=float)
        # the DDR time that moves the bytes, and what short rows add to it
        self.dma_stream = np.array([stream_ns(c.work, chip) if isinstance(c.work, Dma) else 0.0
                                    for c in program.gdma], dtype=float)
        self.dma_extra = ddr - self.dma_stream
        self.overlap = tuple(np.array(f, dtype=float) for f in overlap_fractions(program, chip))
        self.turns = np.array(turnarounds(program), dtype=float)
        tiu_masks, gdma_masks, own = bank_masks(program, chip.lmem_bank_bytes)
        self.masks = (np.array(tiu_masks, dtype=np.int64), np.array(gdma_masks, dtype=np.int64))
        self.own = np.array(own, dtype=float)
        self.sync = (vendor.sync_ns(True), vendor.sync_ns(False))  # waits ending on TIU, GDMA
        self.vendor_total_ns = self._replay(
            (self.tiu_ns, self.dma_fixed + np.maximum(ddr, self.dma_engine)))[0]

    def _checked_order(self) -> list[tuple[int, int]]:
        """(queue, block) in an order where each block's wait is already placed."""
        order = []
        at, done = [0, 0], [0, 0]  # next block, and commands placed, per queue
        queues = self.queues
        while at[0] < len(queues[0].starts) or at[1] < len(queues[1].starts):
            moved = False
            for q in (0, 1):
                queue = queues[q]
                while at[q] < len(queue.starts):
                    dep = queue.deps[queue.starts[at[q]]]
                    if dep < 0 or dep > done[1 - q]:
                        break
                    order.append((q, at[q]))
                    done[q] = int(queue.ends[at[q]])
                    at[q] += 1
                    moved = True
            if not moved:
                raise stall_error(self.program.tiu, self.program.gdma, done[0], done[1])
        return order

    def durations(self, chip: Chip) -> tuple[np.ndarray, np.ndarray]:
        """Every command's duration under the chip model, TIU then GDMA, ns."""
        return self._timed(chip)[0]

    def _timed(self, chip: Chip) -> tuple[tuple[np.ndarray, np.ndarray],
                                          tuple[np.ndarray, np.ndarray]]:
        """Durations, and each command's overlap with a bank-sharing command of the other
        engine (ns; what chip_lmem_bank_conflict multiplies)."""
        conflict = chip.chip_lmem_bank_conflict
        tiu = self._tiu_work(chip) * self._contention(chip, 0) * (1 + conflict * self.own)
        gdma = (self._dma_work(chip) * self._contention(chip, 1)
                + chip.chip_ddr_turnaround_ns * self.turns)
        shared = (np.zeros(len(tiu)), np.zeros(len(gdma)))
        if conflict and len(tiu) and len(gdma) and self.masks[0].any() and self.masks[1].any():
            shared = self._bank_overlap((tiu, gdma))
            tiu, gdma = tiu + conflict * shared[0], gdma + conflict * shared[1]
        return (tiu, gdma), shared

    def _bank_overlap(self, durations: tuple[np.ndarray, np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Per command, how long the other engine's command in flight at its start, if it
        uses one of its banks, goes on (at most its own duration), in the schedule of
        `durations`; as the simulation charges a bank conflict to the later command."""
        ends = self._command_ends(durations)
        starts = [e - d for e, d in zip(ends, durations)]
        out = []
        for q in (0, 1):
            o_start, o_end, o_mask = starts[1 - q], ends[1 - q], self.masks[1 - q]
            j = np.searchsorted(o_start, starts[q], side="right") - 1
            valid = j >= 0
            j = np.where(valid, j, 0)
            left = np.where(valid & (o_end[j] > starts[q]) & ((o_mask[j] & self.masks[q]) != 0),
                            o_end[j] - starts[q], 0.0)
            out.append(np.minimum(left, durations[q]))
        return out[0], out[1]

    def _command_ends(self, durations: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
        """When each command ends in the replay of `durations`."""
        _, _, _, block_start, cum = self._place(durations)
        out = []
        for q, queue in enumerate(self.queues):
            ids = np.arange(1, len(queue.deps) + 1)
            b = queue.block_of[ids]
            out.append(block_start[q][b] + cum[q][ids] - cum[q][queue.starts[b]])
        return out

    def _tiu_work(self, chip: Chip) -> np.ndarray:
        """TIU time before contention: spatial convolutions at the chip's kernel efficiency."""
        return np.where(self.spatial, self.tiu_ns / chip.chip_conv_kernel_efficiency,
                        self.tiu_ns)

    def _ddr(self, chip: Chip) -> np.ndarray:
        """DDR time with the chip's share of the short-row cost."""
        return self.dma_stream + chip.chip_short_row_cost * self.dma_extra

    def _dma_work(self, chip: Chip) -> np.ndarray:
        """GDMA time before contention."""
        return self.dma_fixed + np.maximum(self._ddr(chip), self.dma_engine)

    def _contention(self, chip: Chip, engine: int) -> np.ndarray:
        return 1.0 + chip.chip_contention * self.overlap[engine]

    def gradients(self, chip: Chip, shared: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Each command's duration's derivative by each timing field, (commands x fields);
        `shared`: the bank overlaps the durations were made with (held fixed)."""
        if shared is None:
            shared = self._timed(chip)[1]
        col = timing_fields().index
        own = 1 + chip.chip_lmem_bank_conflict * self.own
        tiu = np.zeros((len(self.tiu_ns), len(timing_fields())))
        work = self._tiu_work(chip)
        tiu[:, col("chip_conv_kernel_efficiency")] = np.where(
            self.spatial,
            -work * self._contention(chip, 0) * own / chip.chip_conv_kernel_efficiency, 0.0)
        tiu[:, col("chip_contention")] = work * self.overlap[0] * own
        tiu[:, col("chip_lmem_bank_conflict")] = (work * self._contention(chip, 0) * self.own
                                                  + shared[0])
        gdma = np.zeros((len(self.dma_fixed), len(timing_fields())))
        bound = self._ddr(chip) > self.dma_engine  # DDR, not the engine, sets the pace
        gdma[:, col("chip_short_row_cost")] = np.where(
            bound, self.dma_extra * self._contention(chip, 1), 0.0)
        gdma[:, col("chip_contention")] = self._dma_work(chip) * self.overlap[1]
        gdma[:, col("chip_lmem_bank_conflict")] = shared[1]
        gdma[:, col("chip_ddr_turnaround_ns")] = self.turns
        return tiu, gdma

    def run(self, chip: Chip, gradient: bool = True) -> Timed:
        """The program's total under the chip model on `chip` (as `simulate(..., "chip")`),
        with its derivatives unless `gradient` is False."""
        durations, shared = self._timed(chip)
        total, ends, cause = self._replay(durations)
        if not gradient:
            return Timed(total, {}, ())
        return self._critical(chip, ends, cause, shared)

    def _replay(self, durations: tuple[np.ndarray, np.ndarray]
                ) -> tuple[float, list[float], list[np.ndarray]]:
        """Place every block: the total, each queue's end, and what started each block (0: the
        start of the program, 1: the block before it, 2: its wait)."""
        total, ends, cause, _, _ = self._place(durations)
        return total, ends, cause

    def _place(self, durations: tuple[np.ndarray, np.ndarray]) -> tuple:
        """`_replay`, with each block's start and the running sums of the durations."""
        queues = self.queues
        # a command ends at its block's start + cum[id] - cum[first of the block]
        cum = [np.concatenate([[0.0], np.cumsum(d)]) for d in durations]
        block_start = [np.zeros(len(q.starts)) for q in queues]
        cause = [np.zeros(len(q.starts), dtype=np.int64) for q in queues]

        def end_of(q: int, cmd_id: int) -> float:
            b = queues[q].block_of[cmd_id]
            return block_start[q][b] + cum[q][cmd_id] - cum[q][queues[q].starts[b]]

        for q, b in self._blocks:
            queue = queues[q]
            first = queue.starts[b]
            start, why = 0.0, 0
            if b:
                start, why = end_of(q, int(first)), 1
            dep = queue.deps[first]
            if dep:
                ready = end_of(1 - q, int(dep)) + self.sync[q]
                if ready > start:
                    start, why = ready, 2
            block_start[q][b], cause[q][b] = start, why
        ends = [end_of(q, len(queues[q].deps)) if len(queues[q].deps) else 0.0 for q in (0, 1)]
        return max(ends), ends, cause, block_start, cum

    def _critical(self, chip: Chip, ends: list[float], cause: list[np.ndarray],
                  shared: tuple[np.ndarray, np.ndarray]) -> Timed:
        """The critical path back from the later queue's end, and the derivatives."""
        cum = [np.vstack([np.zeros(len(timing_fields())), np.cumsum(g, axis=0)])
               for g in self.gradients(chip, shared)]
        gradient = np.zeros(len(timing_fields()))
        path: list[tuple[str, int, int]] = []
        q = 0 if ends[0] >= ends[1] else 1
        cmd = len(self.queues[q].deps)
        while cmd > 0:
            queue = self.queues[q]
            b = queue.block_of[cmd]
            first = int(queue.starts[b])
            gradient += cum[q][cmd] - cum[q][first]
            path.append(("TIU" if q == 0 else "GDMA", first + 1, cmd))
            why = cause[q][b]
            if why == 0:
                break
            cmd, q = (first, q) if why == 1 else (int(queue.deps[first]), 1 - q)
        return Timed(max(ends), dict(zip(timing_fields(), gradient.tolist())),
                     tuple(reversed(path)))


__all__ = ["Retimer", "Timed"]
