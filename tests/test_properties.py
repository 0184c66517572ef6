"""Property-based tests: random small graphs (tests/strategies.py) compiled at a random
precision and optimisation setting for a random valid chip, then simulated.

For every example: tpusim either refuses with a one-line CompileError (an op that cannot fit
the chip's local memory, a program beyond the command bound) or the run keeps every invariant
of tpusim.sim.invariants (`violations` is empty), the fast replay (one DMA engine: DDR never
shared) gives the simulation's makespan, and compiling and simulating again give the same
commands and records. Any other exception is a bug.

The default run tries TPUSIM_PROPERTY_EXAMPLES examples (300), the same ones every run;
`-m slow` tries 20 times as many, new ones each run. `--hypothesis-show-statistics` reports
how many ran, how long they took and how often each outcome (see `event`) occurred.
"""

import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strategies import PRECISIONS, chips, graphs

import tpusim
from tpusim.calibration.retime import Retimer
from tpusim.errors import CompileError
from tpusim.sim.fast import replay_ns
from tpusim.sim.invariants import violations

EXAMPLES = int(os.environ.get("TPUSIM_PROPERTY_EXAMPLES", "300"))
BOUND = 50_000  # commands: a larger random program is refused, so no example takes seconds
BASE = tpusim.load_chip("bm1684x")

_cases = given(graph=graphs(), chip=chips(BASE), precision=st.sampled_from(PRECISIONS),
               opt=st.sampled_from(["before", "after"]), io=st.sampled_from(["f32", "native"]))
_settings = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}


def check_random_program(graph, chip, precision, opt, io) -> None:
    try:
        program = tpusim.compile(graph, chip, precision, opt, io, max_commands=BOUND)
    except CompileError as exc:  # refused, with one line naming what did not fit
        message = str(exc)
        assert "\n" not in message
        assert "does not fit local memory" in message or "weights need" in message \
            or "commands" in message, message
        event("refused: " + ("too many commands" if "commands" in message else
                             "does not fit local memory"))
        return
    event("simulated")
    result = tpusim.simulate(program, chip, "vendor")
    assert violations(result) == []
    assert replay_ns(program.tiu, program.gdma, chip) == pytest.approx(result.total_ns,
                                                                       rel=1e-9, abs=1e-6)
    on_chip = tpusim.simulate(program, chip)  # the chip timing model, banks and DDR contending
    assert violations(on_chip) == []
    # without bank conflicts between the engines the fit's re-timing is exact (with them, first
    # order: tests/test_chip_timing.py)
    listed = chip.replace(chip_lmem_bank_conflict=0.0)
    assert Retimer(program, chip).run(listed).total_ns == pytest.approx(
        tpusim.simulate(program, listed).total_ns, rel=1e-9, abs=1e-6)
    again = tpusim.compile(graph, chip, precision, opt, io, max_commands=BOUND)
    assert (again.tiu, again.gdma) == (program.tiu, program.gdma)
    assert tpusim.simulate(again, chip, "vendor").records == result.records


@settings(max_examples=EXAMPLES, derandomize=True, **_settings)  # the same ones every run
@_cases
def test_random_programs_keep_every_invariant(graph, chip, precision, opt, io):
    check_random_program(graph, chip, precision, opt, io)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@settings(max_examples=20 * EXAMPLES, **_settings)
@_cases
def test_many_random_programs_keep_every_invariant(graph, chip, precision, opt, io):
    check_random_program(graph, chip, precision, opt, io)
