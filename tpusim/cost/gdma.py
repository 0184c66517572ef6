"""GDMA cost of one transfer: pure functions of the transfer and the chip.

A transfer is `rows` contiguous DDR runs of `row_bytes`. Each row costs a whole number of DDR
accesses of at least `ddr_min_access_bytes`; short rows cost more than one when the transfer
does not have enough rows to keep the engine's accesses in flight. DDR delivers a fraction of
its peak that depends on the direction and on the addressing mode (plain matrix rows, or the
4-D strided tensor mode); the engine itself moves at most `gdma_bytes_per_cycle`. When several
DMA engines share DDR, the simulator divides the DDR time between them (`tpusim.sim.ddr`);
alone, a transfer takes `gdma_ns`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tpusim.hw.chip import Chip
from tpusim.lower.commands import Direction, Dma


@dataclass(frozen=True, slots=True)
class DmaCost:
    fixed_ns: float  # start-up, not using DDR
    ddr_ns: float  # DDR time at the whole bus's disposal (0 for local-to-local copies)
    engine_ns: float  # the shortest the engine can move the bytes in

    @property
    def alone_ns(self) -> float:
        return self.fixed_ns + max(self.ddr_ns, self.engine_ns)

    def scaled(self, factor: float) -> DmaCost:
        """Every part `factor` times as long."""
        return DmaCost(self.fixed_ns * factor, self.ddr_ns * factor, self.engine_ns * factor)


def accesses_per_row(work: Dma, chip: Chip) -> int:
    """DDR accesses one row costs. A lone row, or a very short one, holds one of the engine's
    accesses in flight while the rest idle, except that a store's tiny rows merge into
    accesses of ddr_store_merge_bytes; a short row costs two unless the transfer's rows span
    more than one lane group, whose rows then interleave."""
    in_flight = chip.gdma_accesses_in_flight
    short = chip.ddr_short_row_bytes
    if work.rows == 1:
        return in_flight
    if work.row_bytes < short // 4:
        if work.direction is Direction.L2S:
            return min(in_flight, max(1, -(-chip.ddr_store_merge_bytes // work.row_bytes)))
        return in_flight
    if work.row_bytes < short // 2:
        base = in_flight
    elif work.row_bytes < short:
        base = max(1, in_flight // 2)
    else:
        return 1
    groups = -(-work.rows // chip.npu_count)
    return max(1, base // groups)


def ddr_access_bytes(work: Dma, chip: Chip) -> int:
    """Bytes of DDR time the transfer takes: every row at least one minimum access."""
    return work.rows * accesses_per_row(work, chip) * max(work.row_bytes,
                                                         chip.ddr_min_access_bytes)


def ddr_efficiency(work: Dma, chip: Chip) -> float:
    """Fraction of DDR peak the transfer reaches. A gather reads its rows at the read rate
    (vendor: an embedding lookup's GDMA_GATHER moves 196,608 B at 59.6 GB/s)."""
    if work.kind == "GDMA_GATHER":
        return chip.ddr_read_efficiency
    if work.direction is Direction.S2S:
        return chip.ddr_copy_efficiency
    eff = chip.ddr_read_efficiency if work.direction is Direction.S2L else \
        chip.ddr_write_efficiency
    return eff if work.kind == "GDMA_MATRIX" else eff * chip.gdma_tensor_efficiency


def stream_ns(work: Dma, chip: Chip) -> float:
    """The part of the DDR time that moves the bytes themselves; the rest is what short rows
    waste (whole accesses)."""
    if work.direction is Direction.L2L:
        return 0.0
    return work.bytes / (chip.ddr_bytes_per_ns * ddr_efficiency(work, chip))


def dma_cost(work: Dma, chip: Chip) -> DmaCost:
    ns_per_cycle = 1000.0 / chip.gdma_mhz
    fixed = chip.gdma_startup_cycles * ns_per_cycle
    engine = work.bytes / chip.gdma_bytes_per_cycle * ns_per_cycle
    if work.direction is Direction.L2L:
        return DmaCost(fixed, 0.0, engine)
    ddr = ddr_access_bytes(work, chip) / (chip.ddr_bytes_per_ns * ddr_efficiency(work, chip))
    return DmaCost(fixed, ddr, engine)


def gdma_ns(work: Dma, chip: Chip) -> float:
    """Nanoseconds the transfer takes with DDR to itself."""
    return dma_cost(work, chip).alone_ns


def gdma_cycles(work: Dma, chip: Chip) -> float:
    return gdma_ns(work, chip) * chip.gdma_mhz / 1000.0
