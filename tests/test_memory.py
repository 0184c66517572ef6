"""Local and global memory as simulated resources, hand-worked on tiny programs: where each
mechanism makes the simulation differ from the list schedule, and by how much.

simple_chip moves 64 B/ns loading (DDR and engine alike), 32 B/ns storing, and has its bank
conflicts and DDR turnarounds off; here the rest of the chip timing model is neutral too (no
overall contention), and each test turns on what it is about.
"""

import pytest

from tpusim.api import core_batches, simulate
from tpusim.group.lmem import Allocation, Buffer, _place
from tpusim.group.plan import Compute, GroupPlan, GroupType, Row, Secs
from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, Op, Tensor
from tpusim.ir.ops import OpKind
from tpusim.lower.commands import Arith, Command, Direction, Dma, Engine, Layer, Program
from tpusim.sim.fast import replay_ns
from tpusim.sim.invariants import violations

AR_7NS = Arith(1, 64, 1, 100, DType.F32)  # 7 EU groups at 1 GHz
LOAD_100NS = Dma(Direction.S2L, 1, 6400)  # 6400 B at 64 B/ns
STORE_100NS = Dma(Direction.L2S, 1, 3200)  # 3200 B at 32 B/ns
KIB = 1024


@pytest.fixture
def simple_chip(simple_chip):
    return simple_chip.replace(chip_contention=0.0, chip_conv_kernel_efficiency=1.0,
                               chip_short_row_cost=1.0)


# ---- the allocator --------------------------------------------------------------------------

def test_first_fit_keeps_buffers_used_together_out_of_each_others_banks(simple_chip):
    """Four banks of 1 KiB. A (512 B) lives in rows 0 and 1; B (row 0) and C (row 1) are
    each used beside A. A takes address 0 (bank 0); B's lowest free address, 512, is in A's
    bank, so it goes to the next bank's start, 1024; C is never alive with B and reuses its
    place."""
    chip = simple_chip.replace(lmem_bytes_per_npu=4 * KIB, lmem_banks=4)
    wanted = [("A", 512, frozenset({0, 1})), ("B", 512, frozenset({0})),
              ("C", 512, frozenset({1}))]
    placed = _place(wanted, [{"A", "B"}, {"A", "C"}], chip, True, False)
    assert [(b.tensor, b.addr, b.banks(KIB)) for b in placed.buffers] == [
        ("A", 0, 0b1), ("B", 1024, 0b10), ("C", 1024, 0b10)]
    assert placed.conflicts == []


def test_a_conflict_is_recorded_where_no_bank_is_free(simple_chip):
    """Two banks of 1 KiB, A (1 KiB) and B (512 B) used together in one row: B cannot leave
    A's bank... unless it takes the other; with A at 1.5 KiB neither bank is free of it."""
    chip = simple_chip.replace(lmem_bytes_per_npu=2 * KIB, lmem_banks=2)
    wanted = [("A", 1536, frozenset({0})), ("B", 512, frozenset({0}))]
    placed = _place(wanted, [{"A", "B"}], chip, True, False)
    assert [(b.tensor, b.addr) for b in placed.buffers] == [("A", 0), ("B", 1536)]
    assert placed.conflicts == [("A", "B")]
    assert _place([("A", 1536, frozenset({0})), ("B", 1024, frozenset({0}))],
                  [{"A", "B"}], chip, True, False) is None  # 2.5 KiB in 2 KiB


# ---- bank conflicts in the simulation ---------------------------------------------------------

def _group_program(chip, x_bank: int, y_bank: int, loaded: str, tiu_dep: int = 0) -> Program:
    """A one-op group (relu: x -> y, x at bank `x_bank`, y at `y_bank`, z at bank 3): its
    TIU command computes while the GDMA loads `loaded` (both start at 0, TIU first)."""
    bank = chip.lmem_bank_bytes
    g = Graph("g", {t: Tensor(t, (1, 64, 1, 100), DType.F32) for t in "xyz"},
              [Op(OpKind.RELU, "relu", ("x",), ("y",))], ["x", "z"], ["y"])
    buffers = [Buffer("x", x_bank * bank, 512, frozenset({0})),
               Buffer("y", y_bank * bank + 512, 512, frozenset({0})),
               Buffer("z", 3 * bank, 512, frozenset({0}))]
    plan = GroupPlan(0, list(g.ops), GroupType.NORMAL, Secs(), [{}], [Row([Compute(0)])], [],
                     bank, lmem=Allocation(buffers))
    p = Program("banks", chip.name, "f32", layers=[Layer("relu", "Relu", group=0)], groups=[plan],
                graph=g)
    p.tiu = [Command(Engine.TIU, 1, tiu_dep, AR_7NS, 0, 0, 0)]
    p.gdma = [Command(Engine.GDMA, 1, 0, LOAD_100NS, 0, 0, 1, loaded)]
    return p


def test_a_load_into_the_bank_the_tiu_reads_waits_its_turn(simple_chip):
    """TIU reads x in bank 0 over [0, 7]; the GDMA loads into x's bank from 0: it waits the 7
    ns of overlap (conflict 1) and ends at 107, not 100. Into z's bank 3: no wait."""
    chip = simple_chip.replace(chip_lmem_bank_conflict=1.0)
    run = simulate(_group_program(chip, 0, 1, "x"), chip)
    gdma = next(r for r in run.records if r.engine == "GDMA")
    assert (gdma.start_ns, gdma.end_ns, gdma.lmem_stall_ns) == (0, pytest.approx(107),
                                                                pytest.approx(7))
    assert run.summary()["lmem_stall_ms"] == pytest.approx(7e-6)
    apart = simulate(_group_program(chip, 0, 1, "z"), chip)
    assert apart.total_ns == pytest.approx(100) and apart.stall_ns("lmem") == 0
    half = chip.replace(chip_lmem_bank_conflict=0.5)
    assert simulate(_group_program(half, 0, 1, "x"), half).total_ns == pytest.approx(103.5)
    # every mechanism off: the list schedule
    p = _group_program(simple_chip, 0, 1, "x")
    assert simulate(p, simple_chip).total_ns == replay_ns(p.tiu, p.gdma, simple_chip) == 100


def test_an_operand_in_its_results_bank_slows_the_command(simple_chip):
    """relu reads x and writes y in the same bank: 7 ns x (1 + 1) = 14 ns."""
    chip = simple_chip.replace(chip_lmem_bank_conflict=1.0)
    p = _group_program(chip, 1, 1, "z", tiu_dep=1)  # after the load: nothing else contends
    tiu = next(r for r in simulate(p, chip).records if r.engine == "TIU")
    assert (tiu.start_ns, tiu.end_ns, tiu.lmem_stall_ns) == (100, 114, 7)


# ---- DDR ------------------------------------------------------------------------------------

def _dma_program(chip, works) -> Program:
    p = Program("ddr", chip.name, "f32", layers=[Layer("copy", "Copy")])
    p.gdma = [Command(Engine.GDMA, i + 1, 0, w, 0) for i, w in enumerate(works)]
    return p


def test_ddr_turns_around_between_reading_and_writing(simple_chip):
    """load, store, store, load: two turnarounds of 10 ns: 400 + 20 ns."""
    chip = simple_chip.replace(chip_ddr_turnaround_ns=10.0)
    run = simulate(_dma_program(chip, [LOAD_100NS, STORE_100NS, STORE_100NS, LOAD_100NS]),
                   chip)
    assert [round(r.ddr_stall_ns, 6) for r in run.records] == [0, 10, 0, 10]
    assert run.total_ns == pytest.approx(420)
    assert simulate(run.program, chip, "vendor").total_ns == pytest.approx(400)


def test_two_cores_share_one_ddr(simple_chip):
    """Each core loads 6400 B, 100 ns alone with the bus to itself; together each gets half
    the bus and both end at 200 ns, 100 ns of it waiting for DDR."""
    program = _dma_program(simple_chip, [LOAD_100NS])
    alone = simulate(program, simple_chip)
    both = simulate(program, simple_chip, cores=[_dma_program(simple_chip, [LOAD_100NS])])
    assert alone.total_ns == pytest.approx(100)
    assert both.total_ns == pytest.approx(200)
    assert both.records[0].ddr_stall_ns == pytest.approx(100)
    assert both.summary()["cores"] == 2


def test_a_batch_is_shared_between_cores():
    assert core_batches(4, 2) == [2, 2]
    assert core_batches(3, 2) == [2, 1]
    assert core_batches(1, 2) == [1]  # the other core idles


def test_a_stream_uploads_the_next_input_while_the_tpu_computes(simple_chip):
    """One 50 ns TIU command per inference; 64 B in and 32 B out over a 1 GB/s host link.
    upload 0 [0, 64]; inference 0 [64, 114] while upload 1 runs [64, 128]; inference 1
    [128, 178]; downloads [114, 146] and [178, 210]. Serially it would take 2 x 146 ns."""
    chip = simple_chip.replace(host_gbps=1.0)
    p = Program("stream", chip.name, "f32", layers=[Layer("op", "Add")])
    p.tiu = [Command(Engine.TIU, 1, 0, Arith(1, 64, 1, 50 * 16, DType.F32), 0)]
    timeline_run = simulate(p, chip, stream=2)
    from tpusim.sim.engine import Simulation

    timeline = Simulation(p, chip, stream=2, upload_bytes=64, download_bytes=32).execute()
    assert timeline.host == {"up_start": [0, 64], "up_end": [64, 128],
                             "down_start": [114, 178], "down_end": [146, 210]}
    assert timeline.tiu_start == [64, 128] and timeline.total_ns == 210
    assert timeline.latencies_ns == [146, 146]
    assert timeline_run.summary()["stream"] == 2  # (the program has no graph: nothing to copy)


def test_a_stream_run_keeps_every_invariant(swin_t):
    result = swin_t("int8", "after")
    run = simulate(result.program, result.chip, stream=3)
    assert violations(run) == []
    summary = run.summary()
    assert summary["stream"] == 3 and summary["throughput_per_s"] > 1e3 / summary["latency_ms"]
    assert summary["ddr_bytes"] == 3 * result.summary()["ddr_bytes"]
