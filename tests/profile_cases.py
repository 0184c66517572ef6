"""Small runs for the profiler tests, each timed by hand on conftest's simple_chip (loads at
64 B/ns, stores at 32 B/ns, no start-up or sync costs, TIU at 1 GHz) under the vendor timing
model (the chip model's contention would stretch the overlapped commands)."""

from __future__ import annotations

import functools

from tpusim.api import Result, compile, simulate
from tpusim.frontend.load import load_model
from tpusim.hw.chip import load_chip
from tpusim.ir import GraphBuilder, OpKind
from tpusim.ir.dtypes import DType
from tpusim.lower.commands import Arith, Command, Direction, Dma, Engine, Layer, MatMul, Program
from tpusim.sim.engine import Simulation

# AR over 64 lanes x 100 f32: 1 lane group x ceil(100 / 16) EU groups = 7 cycles = 7 ns;
# useful 6400 of 7 x 64 lanes x 16 issued operations.
AR_7NS = Arith(1, 64, 1, 100, DType.F32)
LOAD_100NS = Dma(Direction.S2L, 1, 6400)  # 6400 B at 64 B/ns
STORE_200NS = Dma(Direction.L2S, 1, 6400)  # 6400 B at 32 B/ns


def two_ops_result(chip) -> Result:
    """relu -> scale at f32, as tests/test_sim.py times it: six commands, 772 ns."""
    g = GraphBuilder("two")
    x = g.input("x", (1, 2048))
    y = g.op(OpKind.RELU, [x], "relu")
    g.output(g.op(OpKind.MULCONST, [y], "scale", const=2.0))
    return simulate(compile(g.build(), chip, "f32"), chip, "vendor")


def _run(program: Program, chip) -> Result:
    return Result(program, chip, Simulation(program, chip, "vendor").run(), 0.0)


def overlap_result(chip) -> Result:
    """One layer: GDMA 1 loads [0, 100] while TIU 1 computes [0, 7]; TIU 2 waits for the
    load and runs [100, 107]. Total 107 ns, TIU busy 14, GDMA busy 100."""
    p = Program("overlap", chip.name, "f32", layers=[Layer("l", "Add", lmem_bytes=512)])
    p.tiu = [Command(Engine.TIU, 1, 0, AR_7NS, 0), Command(Engine.TIU, 2, 1, AR_7NS, 0)]
    p.gdma = [Command(Engine.GDMA, 1, 0, LOAD_100NS, 0)]
    return _run(p, chip)


def grouped_result(chip) -> Result:
    """Layers a and b run locally in group 0 over two slices, then c runs global.

    GDMA 1 load  a s0  [0, 100]       TIU 1 a s0 (waits G1) [100, 107]
    GDMA 2 load  a s1  [100, 200]     TIU 2 b s0            [107, 114]
    GDMA 3 store b s0 (waits T2) [200, 400]   TIU 3 a s1 (waits G2) [200, 207]
    GDMA 4 store b s1 (waits T4) [400, 600]   TIU 4 b s1            [207, 214]
    GDMA 5 load  c     [600, 700]     TIU 5 c (waits G5)    [700, 707]
    GDMA 6 store c (waits T5) [707, 907]
    Spans: a [0, 207] and b [107, 600] overlap; group 0 [0, 600]; c [600, 907].
    """
    layers = [Layer("a", "Add", group=0, lmem_bytes=1000), Layer("b", "Mul", group=0,
              lmem_bytes=1000), Layer("c", "Relu", lmem_bytes=300)]
    p = Program("grouped", chip.name, "f32", layers=layers)

    def tiu(i, dep, layer, slice_, group):
        return Command(Engine.TIU, i, dep, AR_7NS, layer, group, slice_)

    def dma(i, dep, work, layer, slice_, group, tensor):
        return Command(Engine.GDMA, i, dep, work, layer, group, slice_, tensor)

    p.tiu = [tiu(1, 1, 0, 0, 0), tiu(2, 0, 1, 0, 0), tiu(3, 2, 0, 1, 0), tiu(4, 0, 1, 1, 0),
             tiu(5, 5, 2, 0, -1)]
    p.gdma = [dma(1, 0, LOAD_100NS, 0, 0, 0, "x"), dma(2, 0, LOAD_100NS, 0, 1, 0, "x"),
              dma(3, 2, STORE_200NS, 1, 0, 0, "y"), dma(4, 4, STORE_200NS, 1, 1, 0, "y"),
              dma(5, 0, LOAD_100NS, 2, 0, -1, "y"), dma(6, 5, STORE_200NS, 2, 0, -1, "z")]
    return _run(p, chip)


def many_commands_result(chip, pairs: int = 15000) -> Result:
    """`pairs` loads and `pairs` computes over 300 layers, each compute waiting for its load:
    a stand-in for the command count of Swin-T at f32 with layer groups."""
    layers = [Layer(f"layer{i}", "Add", lmem_bytes=4096 * (1 + i % 7)) for i in range(300)]
    p = Program("many", chip.name, "f32", layers=layers)
    per_layer = -(-pairs // len(layers))
    p.gdma = [Command(Engine.GDMA, i + 1, 0, LOAD_100NS, i // per_layer, -1, i % per_layer,
                      "t") for i in range(pairs)]
    p.tiu = [Command(Engine.TIU, i + 1, i + 1, AR_7NS, i // per_layer, -1, i % per_layer)
             for i in range(pairs)]
    return _run(p, chip)


@functools.cache
def swin_result(precision: str = "f16") -> Result:
    """Swin-T on the BM1684X, simulated once per test session and shared by the modules."""
    chip = load_chip("bm1684x")
    return simulate(compile(load_model("swin-t"), chip, precision), chip)


def regrouped_result(chip) -> Result:
    """The grouped run changed (run it on a chip with a 10-cycle sync latency): a runs global,
    b is gone, c and a new layer d run locally in group 0.

    GDMA 1 load  a  [0, 100]            TIU 1 a (waits G1, +10)  [110, 117]
    GDMA 2 store a (waits T1, +10) [127, 327]
    GDMA 3 load  c  [327, 427]          TIU 2 c (waits G3, +10)  [437, 444]
                                        TIU 3 d                  [444, 451]
    GDMA 4 store d (waits T3, +10) [461, 661]
    Total 661 ns; nothing runs during the four 10 ns sync waits: 40 ns idle.
    """
    layers = [Layer("a", "Add", lmem_bytes=300), Layer("c", "Relu", group=0, lmem_bytes=800),
              Layer("d", "Mul", group=0, lmem_bytes=800)]
    p = Program("regrouped", chip.name, "f32", layers=layers)
    p.tiu = [Command(Engine.TIU, 1, 1, AR_7NS, 0), Command(Engine.TIU, 2, 3, AR_7NS, 1, 0),
             Command(Engine.TIU, 3, 0, AR_7NS, 2, 0)]
    p.gdma = [Command(Engine.GDMA, 1, 0, LOAD_100NS, 0, -1, 0, "x"),
              Command(Engine.GDMA, 2, 1, STORE_200NS, 0, -1, 0, "y"),
              Command(Engine.GDMA, 3, 0, LOAD_100NS, 1, 0, 0, "y"),
              Command(Engine.GDMA, 4, 3, STORE_200NS, 2, 0, 0, "z")]
    return _run(p, chip)


AR_100NS = Arith(1, 64, 1, 1600, DType.F32)  # ceil(1600 / 16) = 100 cycles


def load_then_compute_result(chip, overlapped: bool) -> Result:
    """One layer: GDMA 1 loads [0, 100]; TIU 1 computes 100 ns, after the load (total 200) or,
    `overlapped`, at the same time (total 100)."""
    p = Program("overlap", chip.name, "f32", layers=[Layer("l", "Add", lmem_bytes=512)])
    p.tiu = [Command(Engine.TIU, 1, 0 if overlapped else 1, AR_100NS, 0)]
    p.gdma = [Command(Engine.GDMA, 1, 0, LOAD_100NS, 0)]
    return _run(p, chip)


def matmul_result(chip) -> Result:
    """One f16 MatMul layer: GDMA 1 loads 6400 B [0, 100]; TIU 1 (waits G1) multiplies
    64 x 64 by 64 x 128: 1 lane group x ceil(64 / 32 input channels) x ceil(128 / 4 columns)
    = 64 cycles [100, 164]; 2 x 64 x 64 x 128 = 1048576 useful operations."""
    p = Program("matmul", chip.name, "f16", layers=[Layer("mm", "MatMul", lmem_bytes=4096)])
    p.tiu = [Command(Engine.TIU, 1, 1, MatMul(64, 64, 128, DType.F16), 0)]
    p.gdma = [Command(Engine.GDMA, 1, 0, LOAD_100NS, 0)]
    return _run(p, chip)
