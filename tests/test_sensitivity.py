"""Sensitivity reports on a small graph: the moves, the ranking, the files."""

import json

import pytest
from small_graphs import conv_block

from tpusim.api import compile, simulate
from tpusim.sweep import DEFAULT_PARAMS, SweepError, sensitivity
from tpusim.sweep.sensitivity import moved


@pytest.fixture(scope="module")
def block():
    return conv_block()


@pytest.fixture(scope="module")
def report(block, chip):
    return sensitivity(block, ["ddr_gbps", "tiu_mhz", "ddr_read_efficiency",
                               "ddr_min_access_bytes", "lmem_bytes_per_npu"], 0.25, chip=chip,
                       executor="serial")


def test_moves(chip):
    assert moved(chip, "ddr_gbps", 0.8) == pytest.approx(51.2)
    assert moved(chip, "ddr_read_efficiency", 1.25) == 1.0  # a fraction of peak stops at 1
    assert moved(chip, "ddr_min_access_bytes", 1.2) == 307  # integers stay integers
    assert isinstance(moved(chip, "ddr_min_access_bytes", 1.2), int)


def test_each_parameter_moves_alone_and_is_ranked(report, block, chip):
    assert report.base_ms == round(simulate(compile(block, chip, "f16"), chip).total_ms, 6)
    swings = [e.swing for e in report.entries]
    assert swings == sorted(swings, reverse=True)
    by_name = {e.param: e for e in report.entries}
    assert set(by_name) == {"ddr_gbps", "tiu_mhz", "ddr_read_efficiency",
                            "ddr_min_access_bytes", "lmem_bytes_per_npu"}
    ddr = by_name["ddr_gbps"]
    assert (ddr.low_value, ddr.base_value, ddr.high_value) == (48, 64, 80)
    assert ddr.low_ms >= report.base_ms >= ddr.high_ms  # less bandwidth is never faster
    assert by_name["ddr_read_efficiency"].high_value == 1.0
    # one program for the timing fields, one per LMEM size (structural)
    assert (report.sweep.points, report.sweep.programs) == (11, 3)


def test_report_outputs(report, tmp_path):
    assert report.table().splitlines()[0].split()[:4] == ["parameter", "low", "base", "high"]
    written = report.save(tmp_path)
    assert [p.name for p in written] == ["sensitivity.csv", "sensitivity.json", "tornado.png",
                                         "tornado.svg"]
    data = json.loads((tmp_path / "sensitivity.json").read_text())
    assert [e["param"] for e in data["entries"]] == [e.param for e in report.entries]
    assert (tmp_path / "sensitivity.csv").read_text().count("\n") == 6


@pytest.mark.parametrize(("params", "delta", "message"), [
    (["opt"], 0.2, "'opt' is not one"),
    (["ddr_gbps"], 1.5, "delta must be between 0 and 1"),
    (["tiu_startup_cycles"], 0.2, "tiu_startup_cycles: 0.0 moved by ±20% does not change"),
    ([], 0.2, "at least one parameter"),
    (["ddr_gbs"], 0.2, "did you mean 'ddr_gbps'"),
])
def test_bad_requests(block, chip, params, delta, message):
    with pytest.raises(SweepError, match=message):
        sensitivity(block, params, delta, chip=chip)


def test_default_parameters_exist_and_move(chip):
    for name in DEFAULT_PARAMS:
        assert moved(chip, name, 0.8) != moved(chip, name, 1.2)
