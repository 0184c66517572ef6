"""The analytic lower bound of a program: no schedule can beat its compute or its DDR traffic."""

from __future__ import annotations

from tpusim.cost.timing import DEFAULT_TIMING, Timing
from tpusim.hw.chip import Chip
from tpusim.lower.commands import Dma, Program


def roofline_ns(program: Program, chip: Chip, timing: str = DEFAULT_TIMING) -> float:
    """max(TIU time of every command, DDR time of every transfer at the full bus), each command
    priced by `timing` as if it overlapped nothing (contention only adds)."""
    model = Timing(chip, timing)
    tiu = sum(model.tiu_ns(c.work) for c in program.tiu)
    ddr = sum(model.dma(c.work).ddr_ns for c in program.gdma if isinstance(c.work, Dma))
    return max(tiu, ddr)
