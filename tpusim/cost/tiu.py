"""TIU cycles of one command: pure functions of the command and the chip.

Throughput comes from the lane and EU layout: C is spread over `npu_count` lanes, each lane
handles `eu_num(dtype)` elements per cycle, and the cube reduces `ic_num(dtype)` input channels
for `cube_macs / (npu * ic_num)` output columns per cycle. Partly filled lanes and EU groups
cost as much as full ones - that is where real kernels lose efficiency.
"""

from __future__ import annotations

from functools import singledispatch

from tpusim.hw.chip import Chip
from tpusim.lower.commands import Arith, Conv, Lookup, MatMul, Pool, Special, TiuWork, Transpose


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _lanes(chip: Chip, n: int, c: int) -> int:
    """Lane-rows a (n, c) view occupies: n times the channel groups of npu_count."""
    return n * _cdiv(c, chip.npu_count)


def _eu_groups(chip: Chip, hw: int, dtype) -> int:
    return _cdiv(hw, chip.eu_num(dtype))


def _cube_columns(chip: Chip, dtype) -> int:
    """Output columns (pixels or matrix columns) the cube finishes per lane per step."""
    return max(1, chip.cube_macs_per_cycle(dtype) // (chip.npu_count * chip.ic_num(dtype)))


@singledispatch
def work_cycles(work: TiuWork, chip: Chip) -> float:
    raise TypeError(f"no TIU cost for {type(work).__name__}")


@work_cycles.register
def _(work: Conv, chip: Chip) -> float:
    steps = (work.n * _cdiv(work.oc, chip.npu_count) * _cdiv(work.ic, chip.ic_num(work.dtype))
             * work.kh * work.kw * _cdiv(work.oh * work.ow, _cube_columns(chip, work.dtype)))
    return float(steps)


@work_cycles.register
def _(work: MatMul, chip: Chip) -> float:
    steps = (work.batch * _cdiv(work.m, chip.npu_count) * _cdiv(work.k, chip.ic_num(work.dtype))
             * _cdiv(work.n, _cube_columns(chip, work.dtype)))
    return float(steps)


@work_cycles.register
def _(work: Arith, chip: Chip) -> float:
    return float(_lanes(chip, work.n, work.c) * _eu_groups(chip, work.h * work.w, work.dtype)
                 * work.passes)


@work_cycles.register
def _(work: Special, chip: Chip) -> float:
    groups = _lanes(chip, work.n, work.c) * _eu_groups(chip, work.h * work.w, work.dtype)
    return groups * chip.sfu_passes


@work_cycles.register
def _(work: Lookup, chip: Chip) -> float:
    per_lane = _lanes(chip, work.n, work.c) * work.h * work.w
    return per_lane / chip.lut_elems_per_cycle_per_npu


@work_cycles.register
def _(work: Pool, chip: Chip) -> float:
    return float(_lanes(chip, work.n, work.c) * _eu_groups(chip, work.h * work.w, work.dtype)
                 * work.window)


@work_cycles.register
def _(work: Transpose, chip: Chip) -> float:
    return float(_lanes(chip, work.n, work.c) * _eu_groups(chip, work.h * work.w, work.dtype))


def tiu_cycles(work: TiuWork, chip: Chip) -> float:
    """Cycles (TIU clock) from issue to completion of one TIU command."""
    return chip.tiu_startup_cycles + work_cycles(work, chip)


def tiu_ns(work: TiuWork, chip: Chip) -> float:
    return tiu_cycles(work, chip) * 1000.0 / chip.tiu_mhz


def useful_ops(work: TiuWork) -> int:
    """Operations the command is asked to do, without alignment padding (2 per MAC)."""
    if isinstance(work, Conv):
        return 2 * work.n * work.oc * work.oh * work.ow * work.ic * work.kh * work.kw
    if isinstance(work, MatMul):
        return 2 * work.batch * work.m * work.k * work.n
    elements = work.n * work.c * work.h * work.w
    if isinstance(work, Pool):
        return elements * work.window
    return elements * getattr(work, "passes", 1)


def issued_ops(work: TiuWork, chip: Chip) -> float:
    """Operations the hardware spends on the command, padding included (for the uArch rate)."""
    return work_cycles(work, chip) * _ops_per_cycle(work, chip)


def _ops_per_cycle(work: TiuWork, chip: Chip) -> float:
    if isinstance(work, (Conv, MatMul)):
        return 2.0 * chip.cube_macs_per_cycle(work.dtype)
    lanes_eu = chip.npu_count * chip.eu_num(work.dtype)
    if isinstance(work, Special):
        return lanes_eu / chip.sfu_passes
    if isinstance(work, Lookup):
        return chip.npu_count * chip.lut_elems_per_cycle_per_npu
    return float(lanes_eu)


def uarch_rate(work: TiuWork, chip: Chip) -> float:
    """Useful over issued operations, in [0, 1] (bmprofile's TIU bar height)."""
    issued = issued_ops(work, chip)
    return min(1.0, useful_ops(work) / issued) if issued else 1.0


__all__ = ["issued_ops", "tiu_cycles", "tiu_ns", "uarch_rate", "useful_ops",
           "work_cycles"]
