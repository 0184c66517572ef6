"""tpusim's own compile of every network tpu-mlir compiled (../shared/tpu-mlir/models, from the
ONNX files in ../shared/silicon) against tpu-mlir's estimate of its compile: the fidelity of
tpusim's compiler, with no unknown operator anywhere."""

from pathlib import Path

import pytest

from tpusim.calibration.networks import network_rows, network_summary, summary_rows
from tpusim.sim.invariants import program_problems

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = SHARED / "tpu-mlir" / "models"
pytestmark = pytest.mark.skipif(not (MODELS / "summary.csv").is_file(),
                                reason="tpu-mlir's compiles are not in ../shared/tpu-mlir")


@pytest.fixture(scope="module")
def checked(chip):
    """The rows, and what `program_problems` found in each compiled program."""
    problems: dict[tuple[str, str], list[str]] = {}

    def check(network, precision, program):
        problems[network, precision] = program_problems(program, chip)

    return network_rows(MODELS, SHARED / "silicon", chip, check), problems


@pytest.fixture(scope="module")
def rows(checked):
    return checked[0]


def test_every_buffer_has_its_own_place_and_every_read_its_wait(checked):
    """Over every network and precision: no two buffers of a group overlap in local memory
    while both are alive, every buffer lies inside it, and every command waits for what writes
    what it reads."""
    rows, problems = checked
    assert len(problems) == len(rows)
    assert {k: v for k, v in problems.items() if v} == {}


def test_every_compile_of_tpu_mlir_has_a_row(rows):
    assert len(rows) == len(summary_rows(MODELS)) == 36
    assert {(r.network, r.precision) for r in rows} == {
        (r["model"], r["mode"].lower()) for r in summary_rows(MODELS)}


def test_whole_networks_within_the_targets(rows):
    """The issue's targets over every (network, precision): median |error| at most 8 %, the
    90th percentile at most 15 %, the worst at most 25 %."""
    stats = network_summary(rows)
    worst = max(rows, key=lambda r: abs(r.error))
    assert stats["median"] <= 0.08, stats
    assert stats["p90"] <= 0.15, stats
    assert stats["worst"] <= 0.25, (worst.network, worst.precision, worst.error)
