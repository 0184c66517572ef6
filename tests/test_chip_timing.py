"""The chip timing model: hand-worked on tiny programs, the same as the vendor model where its
parameters are neutral, and re-timed by the fit's fast path exactly as the simulation times it."""

import pytest
from small_graphs import conv_block

from tpusim.api import compile, simulate
from tpusim.calibration.retime import Retimer
from tpusim.cost.timing import Timing, parse_timing
from tpusim.errors import TpusimError
from tpusim.hw.chip import timing_fields
from tpusim.ir.dtypes import DType
from tpusim.lower.commands import Arith, Command, Conv, Direction, Dma, Engine, Layer, Program
from tpusim.sim.overlap import overlap_fractions

# 3x3 f16 convolution, 64 -> 64 lanes, 32 input channels, 8x8 outputs: 1 x 1 x 1 x 9 taps x
# ceil(64 / 4) column steps = 144 cycles at 1 GHz
CONV_144NS = Conv(1, 64, 8, 8, 32, 3, 3, DType.F16)
POINTWISE_16NS = Conv(1, 64, 8, 8, 32, 1, 1, DType.F16)  # one tap: 16 cycles
AR_7NS = Arith(1, 64, 1, 100, DType.F32)  # 7 EU groups
LOAD_100NS = Dma(Direction.S2L, 1, 6400)  # 6400 B at 64 B/ns (simple_chip)
SHORT_ROWS = Dma(Direction.S2L, 100, 4)  # 100 rows of 4 B: each a whole 64-byte access


def neutral(chip):
    return chip.replace(chip_conv_kernel_efficiency=1.0, chip_short_row_cost=1.0,
                        chip_contention=0.0, chip_lmem_bank_conflict=0.0,
                        chip_ddr_turnaround_ns=0.0)


def test_a_spatial_convolution_runs_at_the_kernel_efficiency(simple_chip):
    chip = neutral(simple_chip).replace(chip_conv_kernel_efficiency=0.5)
    assert Timing(chip, "vendor").tiu_ns(CONV_144NS) == pytest.approx(144)
    assert Timing(chip, "chip").tiu_ns(CONV_144NS) == pytest.approx(288)
    assert Timing(chip, "chip").tiu_ns(POINTWISE_16NS) == pytest.approx(16)  # 1x1: no change
    assert Timing(chip, "chip").tiu_ns(AR_7NS) == pytest.approx(7)


def test_short_rows_cost_a_share_of_their_whole_accesses(simple_chip):
    chip = neutral(simple_chip).replace(chip_short_row_cost=0.2)
    # vendor: 100 accesses of 64 B = 100 ns; the bytes themselves 400 B = 6.25 ns
    assert Timing(chip, "vendor").dma(SHORT_ROWS).alone_ns == pytest.approx(100)
    assert Timing(chip, "chip").dma(SHORT_ROWS).alone_ns == pytest.approx(6.25 + 0.2 * 93.75)
    # a long row wastes nothing
    assert Timing(chip, "chip").dma(LOAD_100NS).alone_ns == pytest.approx(100)


def _overlapping(chip) -> Program:
    """TIU 1 computes [0, 7] while GDMA 1 loads [0, 100]; neither waits."""
    p = Program("overlap", chip.name, "f32", layers=[Layer("l", "Add")])
    p.tiu = [Command(Engine.TIU, 1, 0, AR_7NS, 0)]
    p.gdma = [Command(Engine.GDMA, 1, 0, LOAD_100NS, 0)]
    return p


def test_overlap_is_measured_on_the_vendor_schedule(simple_chip):
    tiu, gdma = overlap_fractions(_overlapping(simple_chip), simple_chip)
    assert tiu == pytest.approx([1.0]) and gdma == pytest.approx([0.07])


def test_overlapped_commands_are_slowed_by_contention(simple_chip):
    chip = neutral(simple_chip).replace(chip_contention=0.5)
    result = simulate(_overlapping(chip), chip, "chip")
    tiu, gdma = (next(r for r in result.records if r.engine == e) for e in ("TIU", "GDMA"))
    assert tiu.duration_ns == pytest.approx(7 * 1.5)  # overlapped all along
    assert gdma.duration_ns == pytest.approx(100 * (1 + 0.5 * 0.07))  # for 7 of its 100 ns
    assert simulate(_overlapping(chip), chip, "vendor").total_ns == pytest.approx(100)


def test_neutral_parameters_give_the_vendor_model(chip):
    program = compile(conv_block(), chip, "f16")
    assert simulate(program, neutral(chip), "chip").records == \
        simulate(program, chip, "vendor").records


def test_the_committed_profile_slows_3x3_convolutions(chip):
    program = compile(conv_block(), chip, "f16")
    assert simulate(program, chip).total_ns > simulate(program, chip, "vendor").total_ns
    assert simulate(program, chip).info["timing"] == "chip"


def test_unknown_timing_model_is_refused():
    assert parse_timing(" Vendor ") == "vendor"
    with pytest.raises(TpusimError, match="unknown timing model 'cycle'"):
        parse_timing("cycle")


@pytest.mark.parametrize("values", [(0.65, 0.5, 1.0, 0.0, 10.0), (1.0, 1.0, 0.0, 0.0, 0.0),
                                    (0.3, 0.0, 0.4, 0.0, 45.0)])
@pytest.mark.parametrize("precision", ["f16", "int8", "f32"])
def test_the_fit_retimes_as_the_simulation_times(chip, precision, values):
    """Exactly, without bank conflicts between the engines (which it takes to first order)."""
    program = compile(conv_block(channels=96, size=40), chip, precision)
    trial = chip.replace(**dict(zip(timing_fields(), values)))
    timed = Retimer(program, chip).run(trial)
    assert timed.total_ns == pytest.approx(simulate(program, trial).total_ns, rel=1e-12)
    assert Retimer(program, chip).vendor_total_ns == pytest.approx(
        simulate(program, chip, "vendor").total_ns, rel=1e-12)
    # the critical path starts at the beginning and ends at the total
    assert timed.path[0][1] == 1


@pytest.mark.parametrize("precision", ["f16", "int8"])
def test_the_fit_retimes_bank_conflicts_to_first_order(swin_t, precision):
    """With the engines' bank conflicts on, the re-timing stays within 2 % of the simulation
    on Swin-T (the simulation follows each wait; the re-timing takes them from a first pass)."""
    program = swin_t(precision, "after").program
    chip = swin_t(precision, "after").chip.replace(chip_lmem_bank_conflict=1.0)
    result = simulate(program, chip)
    assert result.stall_ns("lmem") > 0
    timed = Retimer(program, chip).run(chip, gradient=False)
    assert timed.total_ns == pytest.approx(result.total_ns, rel=0.02)


def test_the_derivatives_are_the_slopes(chip):
    program = compile(conv_block(channels=96, size=40), chip, "f16")
    retimer = Retimer(program, chip)
    at = chip.replace(chip_conv_kernel_efficiency=0.6, chip_short_row_cost=0.5,
                      chip_contention=0.5, chip_lmem_bank_conflict=0.5,
                      chip_ddr_turnaround_ns=20.0)
    gradient = retimer.run(at).gradient
    assert gradient["chip_conv_kernel_efficiency"] < 0 < gradient["chip_contention"]
    for name in timing_fields():
        h = 1e-6
        up = retimer.run(at.replace(**{name: getattr(at, name) + h}), False).total_ns
        down = retimer.run(at.replace(**{name: getattr(at, name) - h}), False).total_ns
        assert gradient[name] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-3)


def test_a_sweep_of_the_chip_timing_moves_only_the_chip_model(chip):
    from tpusim.sweep import sensitivity, sweep

    block = conv_block(96, 40)
    grid = {"chip_contention": [0.0, 0.5, 1.0]}
    chip_rows = sweep(block, grid, chip=chip, executor="serial")
    vendor_rows = sweep(block, grid, chip=chip, executor="serial", timing="vendor")
    chip_ms = [r["total_ms"] for r in chip_rows.rows]
    assert chip_ms == sorted(chip_ms) and chip_ms[0] < chip_ms[-1]
    assert len({r["total_ms"] for r in vendor_rows.rows}) == 1
    assert chip_rows.notes == [] and vendor_rows.fixed["timing"] == "vendor"
    # moved up by 20 %, a share stays at most 1
    report = sensitivity(block, ["chip_contention"], chip=chip, executor="serial")
    assert report.entries[0].high_value == 1.0 and report.entries[0].low_value == pytest.approx(0.8)
