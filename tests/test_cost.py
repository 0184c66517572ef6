import pytest

from tpusim.cost import dma_cost, gdma_ns, tiu_cycles, uarch_rate
from tpusim.ir.dtypes import DType
from tpusim.lower.commands import (
    Arith,
    Conv,
    Direction,
    Dma,
    Lookup,
    MatMul,
    Pool,
    Special,
    Transpose,
)

F16, F32, I8 = DType.F16, DType.F32, DType.INT8


@pytest.mark.parametrize("work, cycles", [
    # 3x3 conv 64->64 on 56x56, f16: 1 lane group x ceil(64/32) ic steps x 9 x ceil(3136/4)
    (Conv(1, 64, 56, 56, 64, 3, 3, F16), 1 * 2 * 9 * 784),
    # int8 cube: ic 64 per step, 4 columns per step
    (Conv(1, 128, 28, 28, 128, 3, 3, I8), 2 * 2 * 9 * 196),
    # f32 cube: 16 ic per step, 1 column per step (1024 MAC/cycle)
    (Conv(1, 64, 56, 56, 64, 1, 1, F32), 1 * 4 * 1 * 3136),
    # MM2 (m on lanes): ceil(m/64) x ceil(k/32) x ceil(n/4) at f16
    (MatMul(64, 256, 512, F16), 1 * 8 * 128),
    (MatMul(49, 96, 49, F16), 1 * 3 * 13),
    (MatMul(3136, 96, 288, F16), 49 * 3 * 72),
    # element-wise: lane groups x EU groups (32 f16 per lane per cycle)
    (Arith(1, 64, 1, 2560, F16), 80),
    (Arith(1, 65, 1, 33, F16, "mul", 2), 2 * 2 * 2),
    (Special(1, 64, 1, 64, F32, "exp"), 4 * 4),  # 4 EU groups x 4 passes
    (Lookup(1, 64, 1, 100, I8), 100),
    (Pool(1, 64, 56, 56, 9, F16), 98 * 9),
    (Transpose(2, 128, 1, 16, F32), 4),
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


def test_dma_by_hand(simple_chip):
    # 8192 rows of 98 bytes, each longer than the 64-byte minimum access, at 64 B/ns
    load = Dma(Direction.S2L, 8192, 98)
    assert gdma_ns(load, simple_chip) == pytest.approx(8192 * 98 / 64)
    # rows shorter than the minimum DDR access cost a whole access
    tiny = Dma(Direction.S2L, 100, 4)
    assert gdma_ns(tiny, simple_chip) == pytest.approx(100 * 64 / 64)
    # stores at half efficiency: 32 B/ns
    assert gdma_ns(Dma(Direction.L2S, 10, 320), simple_chip) == pytest.approx(100)
    # DDR to DDR reads and writes: 1/64 + 1/32 ns per byte
    assert gdma_ns(Dma(Direction.S2S, 1, 6400), simple_chip) == pytest.approx(100 + 200)
    # local to local: the engine's 64 B/cycle, no DDR time
    cost = dma_cost(Dma(Direction.L2L, 1, 6400), simple_chip)
    assert cost.ddr_ns == 0 and cost.alone_ns == pytest.approx(100)


def test_dma_engine_caps_a_faster_ddr(simple_chip):
    fast = simple_chip.replace(ddr_gbps=1024)
    # DDR alone would take 6.25 ns; the engine moves 64 B per 1 ns cycle
    assert gdma_ns(Dma(Direction.S2L, 1, 6400), fast) == pytest.approx(100)
    assert gdma_ns(Dma(Direction.S2L, 1, 6400), fast.replace(gdma_startup_cycles=5)) == \
        pytest.approx(105)
