import pytest
import simpy

from tpusim.api import compile, simulate
from tpusim.errors import SimulationError
from tpusim.ir import GraphBuilder, OpKind
from tpusim.ir.dtypes import DType
from tpusim.lower.commands import Arith, Command, Direction, Dma, Engine, Layer, Program
from tpusim.sim.ddr import DdrBus
from tpusim.sim.engine import Simulation


def two_ops():
    g = GraphBuilder("two")
    x = g.input("x", (1, 2048))
    y = g.op(OpKind.RELU, [x], "relu")
    g.output(g.op(OpKind.MULCONST, [y], "scale", const=2.0))
    return g.build()


def test_two_operator_record_log(simple_chip):
    """Every command of relu -> scale at f32, timed by hand.

    Each op is one tile: 2048 f32 elements spread as 32 per lane on 64 lanes.
    load  = 64 rows x 128 B at 64 B/ns            = 128 ns
    TIU   = 1 lane group x ceil(32 / 16) EU groups =   2 ns (one AR)
    store = 64 rows x 128 B at 32 B/ns             = 256 ns
    """
    program = compile(two_ops(), simple_chip, "f32")
    records = simulate(program, simple_chip).records
    log = [(r.engine, r.cmd_id, r.dep, r.kind, program.layers[r.layer].name, r.direction,
            r.bytes, round(r.start_ns, 6), round(r.end_ns, 6)) for r in records]
    assert log == [
        ("GDMA", 1, 0, "GDMA_MATRIX", "relu", "S2L", 8192, 0, 128),
        ("TIU", 1, 1, "AR", "relu", "", 0, 128, 130),
        ("GDMA", 2, 1, "GDMA_MATRIX", "relu", "L2S", 8192, 130, 386),
        ("GDMA", 3, 0, "GDMA_MATRIX", "scale", "S2L", 8192, 386, 514),
        ("TIU", 2, 3, "AR", "scale", "", 0, 514, 516),
        ("GDMA", 4, 2, "GDMA_MATRIX", "scale", "L2S", 8192, 516, 772),
    ]
    assert simulate(program, simple_chip).total_ns == pytest.approx(772)


def test_sync_latency_delays_waiting_commands(simple_chip):
    program = compile(two_ops(), simple_chip, "f32")
    late = simulate(program, simple_chip.replace(sync_latency_cycles=10))
    # four commands wait on the other engine: each starts 10 ns later
    assert late.total_ns == pytest.approx(772 + 4 * 10)


def _program(tiu: list[tuple[int]], gdma: list[tuple[int]]) -> Program:
    p = Program("hand", "bm1684x", "f16", layers=[Layer("l", "Add")])
    work = Arith(1, 64, 1, 32, DType.F16)
    dma = Dma(Direction.S2L, 1, 6400)
    p.tiu = [Command(Engine.TIU, i + 1, dep, work, 0) for i, (dep,) in enumerate(tiu)]
    p.gdma = [Command(Engine.GDMA, i + 1, dep, dma, 0) for i, (dep,) in enumerate(gdma)]
    return p


def test_dependency_on_missing_command_is_rejected(simple_chip):
    with pytest.raises(SimulationError, match=r"TIU command 1 .* waits for GDMA command 5"):
        Simulation(_program([(5,)], [(0,)]), simple_chip)


def test_circular_wait_is_reported_not_hung(simple_chip):
    program = _program([(1,)], [(1,)])  # each waits for the other's first command
    with pytest.raises(SimulationError, match=r"deadlock: TIU command 1 .* GDMA command 1"):
        Simulation(program, simple_chip).run()


def _run_bus(transfers):
    env = simpy.Environment()
    bus = DdrBus(env)
    ends = {}

    def user(name, start, ddr_ns, engine_ns):
        yield env.timeout(start)
        yield from bus.transfer(ddr_ns, engine_ns)
        ends[name] = env.now

    for t in transfers:
        env.process(user(*t))
    env.run()
    return ends


def test_ddr_bus_shares_bandwidth_fairly():
    # alone each needs 100 ns of the bus; together they share it and both end at 200
    assert _run_bus([("a", 0, 100, 0), ("b", 0, 100, 0)]) == pytest.approx({"a": 200, "b": 200})
    # b arrives at 50: a has 50 left, both go at half speed -> a ends at 150, b at 200
    assert _run_bus([("a", 0, 100, 0), ("b", 50, 100, 0)]) == pytest.approx({"a": 150, "b": 200})


def test_ddr_bus_respects_engine_caps():
    # a's engine can use at most a quarter of the bus (it needs 400 ns for 100 ns of DDR);
    # b gets the other three quarters: 100 / 0.75 = 133.3 ns
    ends = _run_bus([("a", 0, 100, 400), ("b", 0, 100, 0)])
    assert ends["a"] == pytest.approx(400)
    assert ends["b"] == pytest.approx(400 / 3)
