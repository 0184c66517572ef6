"""Regression benchmarks: the project's own baseline holds, and a changed parameter is caught."""

import json
from pathlib import Path

import pytest

from tpusim.bench import Entry, Suite, check, read_baseline, read_suite, run_suite
from tpusim.cli import main
from tpusim.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]


def test_committed_baseline_holds(capsys):
    """CI runs the whole suite against benchmarks/baseline.json: a change that moves a number
    must update the baseline in the same commit."""
    code = main(["bench", str(ROOT / "benchmarks/suite.toml"), "--check",
                 str(ROOT / "benchmarks/baseline.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 moved" in out


def test_changed_profile_parameter_is_named(tmp_path, capsys):
    suite = tmp_path / "suite.toml"
    suite.write_text('chip = "bm1684x"\ntolerance = 0.01\n'
                     '[[entry]]\nname = "relu"\nop = "Relu"\nshapes = "[1,64,56,56]"\n'
                     'precision = "f16"\nio = "native"\n'
                     '[[entry]]\nname = "matmul"\nop = "MatMul"\n'
                     'shapes = "[1,64,256]x[256,512](weight)"\nprecision = "f16"\n')
    baseline = tmp_path / "baseline.json"
    assert main(["bench", str(suite), "--save", str(baseline)]) == 0
    assert main(["bench", str(suite), "--check", str(baseline)]) == 0
    slow = tmp_path / "slow.toml"
    slow.write_text('inherits = "bm1684x"\nname = "slow"\nddr_gbps = 32.0\n')
    capsys.readouterr()
    assert main(["bench", str(suite), "--chip", str(slow), "--check", str(baseline)]) == 1
    out = capsys.readouterr().out
    for name in ("relu", "matmul"):
        assert f"moved: {name} (chip):" in out and f"moved: {name} (vendor):" in out
    assert "4 moved" in out
    # a chip timing field moves only the chip model's times
    serial = tmp_path / "serial.toml"
    serial.write_text('inherits = "bm1684x"\nname = "serial"\n[chip_timing]\n'
                      'chip_contention = { value = 0.0, min = 0.0, max = 1.0 }\n'
                      'chip_conv_kernel_efficiency = { value = 0.5, min = 0.05, max = 1.0 }\n')
    assert main(["bench", str(suite), "--chip", str(serial), "--check", str(baseline)]) in (0, 1)
    out = capsys.readouterr().out
    assert "(vendor)" not in out


def test_check_names_added_and_removed_entries():
    now = {"entries": {"a": {"chip_ms": 1.0, "vendor_ms": 2.0}, "b": {"chip_ms": 2.0}}}
    then = {"entries": {"a": {"chip_ms": 1.0005, "vendor_ms": 2.0}, "c": {"chip_ms": 1.0}}}
    assert check(now, then, 0.001) == ["b: not in the baseline",
                                       "c: in the baseline but not in the suite"]
    assert check(now, then, 0.0001) == ["a (chip): 1.000500 -> 1.000000 ms (-0.05%)",
                                        "b: not in the baseline",
                                        "c: in the baseline but not in the suite"]


def test_check_compares_each_timing_model_both_have():
    now = {"entries": {"a": {"chip_ms": 1.0, "vendor_ms": 3.0}, "b": {"vendor_ms": 1.0}}}
    then = {"entries": {"a": {"vendor_ms": 2.0}, "b": {"chip_ms": 1.0}}}
    assert check(now, then, 0.01) == ["a (vendor): 2.000000 -> 3.000000 ms (+50.00%)",
                                      "b: no timing model in common with the baseline"]


def test_a_baseline_from_before_the_chip_model_is_read_as_vendor_times(tmp_path):
    old = tmp_path / "old.json"
    old.write_text('{"entries": {"a": {"total_ms": 1.5}}}')
    assert read_baseline(old)["entries"]["a"] == {"vendor_ms": 1.5}


def test_each_entry_is_timed_under_both_models_once_compiled(chip):
    suite = Suite("bm1684x", 0.001, (Entry("conv", "f16", op="Conv",
                                           shapes="[1,64,56,56] w[64,64,3,3]",
                                           attrs="k3 s1 p1 g1 bias", io="native"),))
    both = run_suite(suite, chip)["entries"]["conv"]
    only = run_suite(suite, chip, timing="vendor")["entries"]["conv"]
    assert set(only) == {"vendor_ms", "tiu_commands", "gdma_commands", "groups", "ddr_bytes"}
    assert only["vendor_ms"] == both["vendor_ms"]
    # a 3x3 convolution runs at the chip's kernel efficiency, and contention can only add
    assert both["chip_ms"] >= both["vendor_ms"] / chip.chip_conv_kernel_efficiency * 0.5


def test_suite_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[entry]]\nname = "x"\nprecision = "f16"\nmodle = "swin-t"\n')
    with pytest.raises(ModelError, match="unknown field 'modle'"):
        read_suite(bad)
    bad.write_text("[[entry]\n")
    with pytest.raises(ModelError, match="not valid TOML"):
        read_suite(bad)


def test_results_are_json_ready(chip):
    suite = Suite("bm1684x", 0.001, (Entry("t", "int8", op="Relu", shapes="[1,64,8,8]",
                                           io="native"),))
    results = run_suite(suite, chip)
    assert json.loads(json.dumps(results))["entries"]["t"]["tiu_commands"] == 1


def test_a_changed_program_is_named_count_by_count():
    then = {"entries": {"a": {"vendor_ms": 1.0, "tiu_commands": 10, "gdma_commands": 4,
                              "groups": 1, "ddr_bytes": 4096}}}
    now = {"entries": {"a": {"vendor_ms": 1.0, "tiu_commands": 11, "gdma_commands": 4,
                             "groups": 2, "ddr_bytes": 4096}}}
    # the time holds; the program does not: each difference is named, however small
    assert check(now, then, 0.5) == ["a: tiu_commands 10 -> 11", "a: groups 1 -> 2"]
