"""Minimal examples of bugs the property tests and fuzzers found, kept as regression tests."""

import pytest
import simpy

import tpusim
from tpusim.errors import ChipProfileError
from tpusim.ir import GraphBuilder, OpKind
from tpusim.sim.ddr import DdrBus

K = OpKind


def test_permute_whose_consumer_feeds_only_the_graph_output(chip):
    """matmul_permute_split looked for a Squeeze after every consumer of a MatMul -> Reshape ->
    Permute, and indexed an empty list when a consumer's output was the graph's output
    (IndexError, an internal error)."""
    g = GraphBuilder("mm_permute_out")
    x = g.input("x", (16, 7))
    y = g.op(K.MATMUL, [x, g.weight("w", (7, 32))], "mm")
    y = g.op(K.RESHAPE, [y], "reshape", shape=(4, 128))
    y = g.op(K.PERMUTE, [y], "permute", order=(1, 0))
    g.output(g.op(K.PERMUTE, [y], "back", order=(1, 0)))
    program = tpusim.compile(g.build(), chip, "f16", "after")
    assert tpusim.simulate(program, chip).total_ns > 0


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("start_ns", "ddr_ns"), [(1e12, 0.37), (1e15, 0.3), (0.0, 1e302)])
def test_a_short_transfer_late_in_a_long_run_ends(start_ns, ddr_ns):
    """The DDR bus waited for the rounding left of a transfer; once the clock was too large to
    advance by that little, it woke at the same instant forever (a hang, found with extreme
    but valid chip profiles: 0.37 ns of DDR time 1000 s into a simulation)."""
    env = simpy.Environment()
    bus = DdrBus(env)
    ends = []

    def user():
        yield env.timeout(start_ns)
        yield from bus.transfer(ddr_ns, 0.0)
        ends.append(env.now)

    env.process(user())
    env.run()
    assert ends == [pytest.approx(start_ns + ddr_ns)]


@pytest.mark.parametrize(("field", "value"), [
    ("tiu_mhz", 1e-300), ("ddr_gbps", 1e-300), ("sync_latency_cycles", 1e300),
    ("tiu_startup_cycles", 1e308), ("ddr_min_access_bytes", 10**18),
])
def test_chip_values_that_describe_no_chip_are_refused(chip, field, value):
    """Such values made simulated times lose all precision (and hang the DDR bus, above) or
    overflow to infinity; a profile now names the field and the range expected."""
    with pytest.raises(ChipProfileError, match=rf"field '{field}' must be between "
                                               r"(0|1e-06) and 1e\+15"):
        chip.replace(**{field: value})
