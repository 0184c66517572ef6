"""Regression benchmarks: the project's own baseline holds, and a changed parameter is caught."""

import json
from pathlib import Path

import pytest

from tpusim.bench import Entry, Suite, check, read_suite, run_suite
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
    assert "moved: relu:" in out and "moved: matmul:" in out and "2 moved" in out


def test_check_names_added_and_removed_entries():
    now = {"entries": {"a": {"total_ms": 1.0}, "b": {"total_ms": 2.0}}}
    then = {"entries": {"a": {"total_ms": 1.0005}, "c": {"total_ms": 1.0}}}
    assert check(now, then, 0.001) == ["b: not in the baseline",
                                       "c: in the baseline but not in the suite"]
    assert check(now, then, 0.0001)[0].startswith("a: 1.000500 -> 1.000000 ms")


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
