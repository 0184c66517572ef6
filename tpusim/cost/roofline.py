"""The analytic lower bound of a program: no schedule can beat its compute or its DDR traffic."""

from __future__ import annotations

from tpusim.cost.gdma import dma_cost
from tpusim.cost.tiu import tiu_ns
from tpusim.hw.chip import Chip
from tpusim.lower.commands import Dma, Program


def roofline_ns(program: Program, chip: Chip) -> float:
    """max(TIU time of every command, DDR time of every transfer at the full bus)."""
    tiu = sum(tiu_ns(c.work, chip) for c in program.tiu)
    ddr = sum(dma_cost(c.work, chip).ddr_ns for c in program.gdma if isinstance(c.work, Dma))
    return max(tiu, ddr)
