"""Single commands' cycles worked out by hand (the formulas reproduce tpu-mlir's cost model on
its single-operator programs, tpu-mlir/micro)."""

import pytest

from tpusim.cost import dma_cost, gdma_ns, tiu_cycles, uarch_rate
from tpusim.cost.gdma import accesses_per_row
from tpusim.ir.dtypes import DType
from tpusim.lower.commands import (
    Arith,
    Broadcast,
    Conv,
    Direction,
    Dma,
    Lookup,
    MatMul,
    Pool,
    Special,
)

F16, F32, I8 = DType.F16, DType.F32, DType.INT8


@pytest.mark.parametrize("work, cycles", [
    # 3x3 conv 64->64 on 56x56, f16: 1 lane group x ceil(64/32) ic steps x 9 x ceil(3136/4)
    (Conv(1, 64, 56, 56, 64, 3, 3, F16), 1 * 2 * 9 * 784),
    # int8 cube: ic 64 per step, 4 columns per step
    (Conv(1, 128, 28, 28, 128, 3, 3, I8), 2 * 2 * 9 * 196),
    # f32: one input channel a step, 16 columns: 3 channels are not padded to 16
    (Conv(1, 64, 112, 112, 3, 7, 7, F32), 1 * 3 * 49 * 784),
    # MM2 (m on lanes): ceil(m/64) x ceil(k/32) x ceil(n/4) at f16
    (MatMul(64, 256, 512, F16), 1 * 8 * 128),
    (MatMul(49, 96, 49, F16), 1 * 3 * 13),
    (MatMul(3136, 96, 288, F16), 49 * 3 * 72),
    (MatMul(49, 32, 49, F16, batch=192), 192 * 13),
    # F32 MM, outputs in blocks of W over the lanes: m x k x ceil(ceil(n/W)/64) x ceil(W/16)
    (MatMul(64, 256, 512, F32, lane_width=32), 64 * 256 * 1 * 2),  # vendor: 32768
    (MatMul(448, 96, 288, F32, lane_width=16), 448 * 96),  # vendor: 43008 a chunk
    (MatMul(448, 96, 288, F32, lane_width=16, accumulate=True), 448 * 96 + 448),  # + bias
    # element-wise: lane groups x EU groups (32 f16 per lane per cycle)
    (Arith(1, 64, 1, 2560, F16), 80),
    (Arith(1, 65, 1, 33, F16, "mul", 2), 2 * 2 * 2),
    (Arith(1, 64, 49, 49, F16, "sub", 1, aligned=True), 49 * 2),  # rows start fresh groups
    (Special(1, 64, 1, 64, F32, "exp"), 4 * 10),  # 4 EU groups x 10 passes at f32
    (Special(1, 64, 1, 64, F16, "exp"), 2 * 7),
    (Special(1, 64, 49, 1, F16, "rsqrt", aligned=True), 49 * 30),
    (Lookup(1, 64, 1, 100, I8), 100),
    (Pool(1, 64, 56, 56, 9, F16, "max"), 98 * 9 * 3),  # vendor: 2646
    (Pool(1, 64, 56, 56, 9, F16, "depthwise"), 98 * 9),
    (Broadcast(2, 96, F16), 2 * 3),
    (Broadcast(1, 1, F16, "STATIC_BC"), 1),
])
def test_tiu_cycles_by_hand(chip, work, cycles):
    assert tiu_cycles(work, chip) == cycles


def test_tiu_startup_is_added(chip):
    slow = chip.replace(tiu_startup_cycles=10)
    assert tiu_cycles(MatMul(64, 256, 512, F16), slow) == 1024 + 10


def test_uarch_rate_counts_padding(chip):
    assert uarch_rate(Arith(1, 64, 1, 32, F16), chip) == pytest.approx(1.0)
    assert uarch_rate(Arith(1, 32, 1, 32, F16), chip) == pytest.approx(0.5)  # half the lanes
    assert uarch_rate(MatMul(49, 96, 49, F16), chip) == pytest.approx(
        2 * 49 * 96 * 49 / (39 * 2 * 8192))


@pytest.mark.parametrize("dma, cycles", [
    # vendor model, tensor mode: 98-byte rows cost one 256-byte access at 54.017 B/cycle
    (Dma(Direction.S2L, 8192, 98), 8192 * 256 / 54.017),
    # 64 rows of 98 bytes (one a lane) store in 2 accesses each: 799 cycles
    (Dma(Direction.L2S, 64, 98), 64 * 2 * 256 / 40.98),
    # 64 four-byte bias rows: 4 accesses each, 1213 cycles
    (Dma(Direction.S2L, 64, 4), 64 * 4 * 256 / 54.017),
    # one-row transfers keep one access in flight: 4 x bytes
    (Dma(Direction.S2L, 1, 1152), 4 * 1152 / 54.017),
    # matrix mode: 58 and 44 B/cycle
    (Dma(Direction.S2L, 64, 5120, "GDMA_MATRIX"), 327680 / 58.0),
    (Dma(Direction.L2S, 64, 5120, "GDMA_MATRIX"), 327680 / 44.0),
    # DDR to DDR: 26.08 B/cycle
    (Dma(Direction.S2S, 448, 1344), 448 * 1344 / 26.08),
])
def test_dma_cycles_match_the_vendor_model(chip, dma, cycles):
    assert gdma_ns(dma, chip) == pytest.approx(cycles, rel=2e-3)


@pytest.mark.parametrize("rows, row_bytes, accesses", [
    (1, 4096, 4), (64, 4, 4), (64, 40, 4), (128, 40, 2), (9408, 49, 1), (64, 98, 2),
    (3136, 96, 1), (64, 200, 1),
])
def test_short_rows_cost_several_accesses(chip, rows, row_bytes, accesses):
    assert accesses_per_row(Dma(Direction.S2L, rows, row_bytes), chip) == accesses


@pytest.mark.parametrize("row_bytes, accesses", [(4, 2), (2, 4), (1, 4), (8, 1)])
def test_stores_of_tiny_rows_merge_their_accesses(chip, row_bytes, accesses):
    """Rows below 32 B store in ceil(8 B / row bytes) accesses, at most the 4 in flight."""
    assert accesses_per_row(Dma(Direction.L2S, 2048, row_bytes), chip) == accesses
    assert accesses_per_row(Dma(Direction.L2S, 2048, 4),
                            chip.replace(ddr_store_merge_bytes=16)) == 4


def test_dma_by_hand(simple_chip):
    # 8192 rows of 98 bytes, each longer than the 64-byte minimum access, at 64 B/ns
    assert gdma_ns(Dma(Direction.S2L, 8192, 98), simple_chip) == pytest.approx(8192 * 98 / 64)
    # rows shorter than the minimum DDR access cost a whole access
    assert gdma_ns(Dma(Direction.S2L, 100, 4), simple_chip) == pytest.approx(100 * 64 / 64)
    # stores at half efficiency: 32 B/ns
    assert gdma_ns(Dma(Direction.L2S, 10, 320), simple_chip) == pytest.approx(100)
    # DDR to DDR at a third of the peak
    assert gdma_ns(Dma(Direction.S2S, 1, 6400), simple_chip) == pytest.approx(300)
    # local to local: the engine's 64 B/cycle, no DDR time
    cost = dma_cost(Dma(Direction.L2L, 1, 6400), simple_chip)
    assert cost.ddr_ns == 0 and cost.alone_ns == pytest.approx(100)


def test_dma_engine_caps_a_faster_ddr(simple_chip):
    fast = simple_chip.replace(ddr_gbps=1024)
    # DDR alone would take 6.25 ns; the engine moves 64 B per 1 ns cycle
    assert gdma_ns(Dma(Direction.S2L, 1, 6400), fast) == pytest.approx(100)
    assert gdma_ns(Dma(Direction.S2L, 1, 6400), fast.replace(gdma_startup_cycles=5)) == \
        pytest.approx(105)
