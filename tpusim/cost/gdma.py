"""GDMA cost of one transfer: pure functions of the transfer and the chip.

A transfer is `rows` contiguous runs of `row_bytes`. A run shorter than the smallest DDR access
costs a whole access. DDR reads and writes reach a direction-dependent fraction of the peak
bandwidth; the engine itself moves at most `gdma_bytes_per_cycle`. When several DMA engines
share DDR, the simulator divides the DDR time between them (`tpusim.sim.ddr`); alone, a transfer
takes `gdma_ns`.
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


def ddr_access_bytes(work: Dma, chip: Chip) -> int:
    """Bytes the DDR side spends on the transfer: short runs cost a minimum access."""
    return work.rows * max(work.row_bytes, chip.ddr_min_access_bytes)


def dma_cost(work: Dma, chip: Chip) -> DmaCost:
    ns_per_cycle = 1000.0 / chip.gdma_mhz
    fixed = chip.gdma_startup_cycles * ns_per_cycle
    engine = work.bytes / chip.gdma_bytes_per_cycle * ns_per_cycle
    if work.direction is Direction.L2L:
        return DmaCost(fixed, 0.0, engine)
    access = ddr_access_bytes(work, chip)
    ddr = 0.0
    if work.direction.reads_ddr:
        ddr += access / (chip.ddr_bytes_per_ns * chip.ddr_read_efficiency)
    if work.direction.writes_ddr:
        ddr += access / (chip.ddr_bytes_per_ns * chip.ddr_write_efficiency)
    return DmaCost(fixed, ddr, engine)


def gdma_ns(work: Dma, chip: Chip) -> float:
    """Nanoseconds the transfer takes with DDR to itself."""
    return dma_cost(work, chip).alone_ns


def gdma_cycles(work: Dma, chip: Chip) -> float:
    return gdma_ns(work, chip) * chip.gdma_mhz / 1000.0
