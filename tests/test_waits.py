"""Waits that can never be met are rejected before simulating, with the commands named - by
the simpy simulation and by the fast replay alike - and never hang either of them."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tpusim.errors import SimulationError
from tpusim.ir.dtypes import DType
from tpusim.lower.commands import Arith, Command, Direction, Dma, Engine, Layer, Program
from tpusim.sim import engine
from tpusim.sim.engine import Simulation
from tpusim.sim.fast import replay_ns
from tpusim.sim.waits import check_waits


def program(tiu_deps, gdma_deps):
    """Queues whose commands wait for the given ids on the other engine (0: nothing)."""
    p = Program("hand", "bm1684x", "f16", layers=[Layer("conv1", "Conv2D"), Layer("add", "Add")])
    work, dma = Arith(1, 64, 1, 32, DType.F16), Dma(Direction.S2L, 1, 6400)
    p.tiu = [Command(Engine.TIU, i + 1, d, work, i % 2) for i, d in enumerate(tiu_deps)]
    p.gdma = [Command(Engine.GDMA, i + 1, d, dma, i % 2) for i, d in enumerate(gdma_deps)]
    return p


# (TIU deps, GDMA deps, what the message must say)
CYCLES = [
    ([1], [1], r"deadlock: TIU command 1 \(layer 'conv1'\) waits for GDMA command 1; "
               r"GDMA command 1 \(layer 'conv1'\) waits for TIU command 1; a cycle"),
    # TIU 2 waits for GDMA 3, which runs after GDMA 3 ... itself waiting for TIU 2
    ([0, 3], [0, 0, 2], r"TIU command 2 \(layer 'add'\) waits for GDMA command 3; "
                        r"GDMA command 3 \(layer 'conv1'\) waits for TIU command 2; a cycle"),
    # through queue order on both sides: TIU 1 -> GDMA 5 -> GDMA 4 -> TIU 3 -> TIU 1
    ([5, 0, 0], [0, 0, 0, 3, 0], r"TIU command 1 \(layer 'conv1'\) waits for GDMA command 5, "
                                 r"queued after 4; GDMA command 4 \(layer 'add'\) waits for "
                                 r"TIU command 3, queued after 1; a cycle"),
]
MISSING = [
    ([5], [0], r"TIU command 1 \(layer 'conv1'\) waits for GDMA command 5, which does not "
               r"exist \(1 are queued\)"),
    ([0, 0], [0, 3], r"GDMA command 2 \(layer 'add'\) waits for TIU command 3, which does not"),
    ([-1], [0], r"TIU command 1 \(layer 'conv1'\) waits for GDMA command -1, which does not"),
]


@pytest.mark.parametrize(("tiu", "gdma", "words"), CYCLES + MISSING)
def test_rejected_before_simulating_with_the_commands_named(simple_chip, tiu, gdma, words):
    with pytest.raises(SimulationError, match=words) as caught:
        Simulation(program(tiu, gdma), simple_chip)  # never reaches run()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("tiu", "gdma", "words"), CYCLES + MISSING)
def test_fast_replay_rejects_the_same_streams(simple_chip, tiu, gdma, words):
    p = program(tiu, gdma)
    plain = words.replace(r" \(layer 'conv1'\)", "").replace(r" \(layer 'add'\)", "")
    with pytest.raises(SimulationError, match=plain):
        replay_ns(p.tiu, p.gdma, simple_chip)


def test_empty_and_one_sided_queues_run(simple_chip):
    for tiu, gdma in (([], []), ([0, 0], []), ([], [0, 0])):
        p = program(tiu, gdma)
        check_waits(p.tiu, p.gdma)
        assert len(Simulation(p, simple_chip).run()) == len(tiu) + len(gdma)
        assert replay_ns(p.tiu, p.gdma, simple_chip) >= 0


def test_the_run_time_report_still_catches_what_gets_past(monkeypatch, simple_chip):
    """Without the check before simulating, the engines stop and the run says why (under the
    vendor timing: the chip model's contention replays the queues first, and stops there)."""
    monkeypatch.setattr(engine, "check_dependencies", lambda program: None)
    with pytest.raises(SimulationError, match=r"deadlock: TIU command 1 .* waits for GDMA "
                                              r"command 1; GDMA command 1 .* waits for TIU"):
        Simulation(program([1], [1]), simple_chip, "vendor").run()


@st.composite
def queues(draw):
    n_tiu, n_gdma = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    tiu = draw(st.lists(st.integers(0, n_gdma), min_size=n_tiu, max_size=n_tiu))
    gdma = draw(st.lists(st.integers(0, n_tiu), min_size=n_gdma, max_size=n_gdma))
    return tiu, gdma


@settings(max_examples=150, deadline=None)
@given(queues())
def test_check_agrees_with_what_the_engines_do(monkeypatch_module, simple_chip, deps):
    """On random waits: the check before simulating rejects a stream exactly when the simpy
    engines, left to run unchecked, stop short - and then the fast replay rejects it too."""
    p = program(*deps)
    try:
        check_waits(p.tiu, p.gdma)
        rejected = False
    except SimulationError:
        rejected = True
    with monkeypatch_module.context() as m:
        m.setattr(engine, "check_dependencies", lambda program: None)
        try:
            Simulation(p, simple_chip).run()
            stuck = False
        except SimulationError as exc:
            assert str(exc).startswith("deadlock: ")
            stuck = True
    assert rejected == stuck
    if rejected:
        with pytest.raises(SimulationError):
            replay_ns(p.tiu, p.gdma, simple_chip)
    else:
        assert replay_ns(p.tiu, p.gdma, simple_chip) >= 0


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as m:
        yield m
