"""TIU cycles of one command: pure functions of the command and the chip.

Throughput comes from the lane and EU layout: C is spread over `npu_count` lanes, each lane
handles `eu_num(dtype)` elements per cycle, and the cube reduces `ic_num(dtype)` input channels
for `cube_columns(dtype)` output columns per lane per step. Partly filled lanes and EU groups
cost as much as full ones - that is where real kernels lose efficiency. The formulas reproduce
tpu-mlir's cost model command for command on its single-operator programs (tpu-mlir/micro).
"""

from __future__ import annotations

from functools import singledispatch

from tpusim.hw.chip import Chip
from tpusim.ir.dtypes import DType
from tpusim.lower.commands import (
    Arith,
    Broadcast,
    Conv,
    Lookup,
    MatMul,
    Pool,
    Special,
    TiuWork,
)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _lanes(chip: Chip, n: int, c: int) -> int:
    """Lane-rows a (n, c) view occupies: n times the channel groups of npu_count."""
    return n * _cdiv(c, chip.npu_count)


def eu_groups(chip: Chip, n: int, c: int, h: int, w: int, dtype: DType,
              aligned: bool = False) -> int:
    """EU groups one pass over an (n, c, h, w) view takes; line-aligned rows each start a
    fresh group."""
    eu = chip.eu_num(dtype)
    per_lane = h * _cdiv(w, eu) if aligned else _cdiv(h * w, eu)
    return _lanes(chip, n, c) * per_lane


@singledispatch
def work_cycles(work: TiuWork, chip: Chip) -> float:
    raise TypeError(f"no TIU cost for {type(work).__name__}")


@work_cycles.register
def _(work: Conv, chip: Chip) -> float:
    steps = (work.n * _cdiv(work.oc, chip.npu_count) * _cdiv(work.ic, chip.ic_num(work.dtype))
             * work.kh * work.kw * _cdiv(work.oh * work.ow, chip.cube_columns(work.dtype)))
    return float(steps)


@work_cycles.register
def _(work: MatMul, chip: Chip) -> float:
    if work.lane_width:  # MM: n outputs over the lanes in blocks of lane_width, 32-bit sums
        eu_per_block = _cdiv(work.lane_width, chip.eu_num(DType.F32))
        blocks = _cdiv(_cdiv(work.n, work.lane_width), chip.npu_count)
        steps = work.m * work.k * blocks * eu_per_block
        if work.accumulate:
            steps += work.m * eu_per_block
        return float(work.batch * steps)
    steps = (work.batch * _cdiv(work.m, chip.npu_count) * _cdiv(work.k, chip.ic_num(work.dtype))
             * _cdiv(work.n, chip.cube_columns(work.dtype)))
    return float(steps)


@work_cycles.register
def _(work: Arith, chip: Chip) -> float:
    return eu_groups(chip, work.n, work.c, work.h, work.w, work.dtype, work.aligned) * \
        work.passes


def sfu_passes(chip: Chip, op: str, dtype: DType) -> float:
    """EU passes per element group of a transcendental, by function and dtype."""
    if op == "rsqrt":
        return chip.sfu_rsqrt_passes
    return chip.sfu_exp_f32_passes if dtype is DType.F32 else chip.sfu_exp_f16_passes


@work_cycles.register
def _(work: Special, chip: Chip) -> float:
    return eu_groups(chip, work.n, work.c, work.h, work.w, work.dtype, work.aligned) * \
        sfu_passes(chip, work.op, work.dtype)


@work_cycles.register
def _(work: Lookup, chip: Chip) -> float:
    per_lane = _lanes(chip, work.n, work.c) * work.h * work.w
    return per_lane / chip.lut_elems_per_cycle_per_npu


@work_cycles.register
def _(work: Pool, chip: Chip) -> float:
    taps = work.window * (chip.pool_max_passes if work.op == "max" else 1)
    return float(eu_groups(chip, work.n, work.c, work.h, work.w, work.dtype, work.aligned)
                 * taps)


@work_cycles.register
def _(work: Broadcast, chip: Chip) -> float:
    if work.kind not in ("LANE_BC", "LANE_COPY"):
        return 1.0  # a constant into place
    return float(work.rows * _cdiv(work.w, chip.eu_num(work.dtype)))


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
    if isinstance(work, Broadcast):
        return work.rows * work.w
    elements = work.n * work.c * work.h * work.w
    if isinstance(work, Pool):
        return elements * work.window
    return round(elements * getattr(work, "passes", 1))


def issued_ops(work: TiuWork, chip: Chip) -> float:
    """Operations the hardware spends on the command, padding included (for the uArch rate)."""
    return work_cycles(work, chip) * _ops_per_cycle(work, chip)


def _ops_per_cycle(work: TiuWork, chip: Chip) -> float:
    if isinstance(work, Conv) or (isinstance(work, MatMul) and not work.lane_width):
        return 2.0 * chip.cube_macs_per_cycle(work.dtype)
    if isinstance(work, MatMul):  # MM: every lane finishes one EU group of outputs a step
        return 2.0 * chip.npu_count * chip.eu_num(work.dtype)
    lanes_eu = chip.npu_count * chip.eu_num(work.dtype)
    if isinstance(work, Special):
        return lanes_eu / sfu_passes(chip, work.op, work.dtype)
    if isinstance(work, Lookup):
        return chip.npu_count * chip.lut_elems_per_cycle_per_npu
    if isinstance(work, Pool):
        return lanes_eu / (chip.pool_max_passes if work.op == "max" else 1)
    if isinstance(work, Broadcast):
        return float(chip.eu_num(work.dtype))
    return float(lanes_eu)


def uarch_rate(work: TiuWork, chip: Chip) -> float:
    """Useful over issued operations, in [0, 1] (bmprofile's TIU bar height)."""
    issued = issued_ops(work, chip)
    return min(1.0, useful_ops(work) / issued) if issued else 1.0


__all__ = ["eu_groups", "issued_ops", "sfu_passes", "tiu_cycles", "tiu_ns", "uarch_rate",
           "useful_ops", "work_cycles"]
