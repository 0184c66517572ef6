"""A model that issues no command (a lone Reshape) simulates to 0 ms; every command that
divides by a total (speed-ups, ablation changes, sensitivity, benchmark moves) still ends
cleanly, printing '-' where a ratio has no meaning."""

import json

import pytest

from tpusim.cli import main

onnx = pytest.importorskip("onnx")
onnx_models = pytest.importorskip("onnx_models")


@pytest.fixture
def empty_model(tmp_path):
    m = onnx_models.model([onnx_models.node("Reshape", ["x", "s"], "y")], onnx_models.X,
                          {"y": None}, [onnx_models.const("s", [1, -1])])
    path = tmp_path / "empty.onnx"
    onnx.save(m, path)
    return path


def test_compare_with_ablation(empty_model, capsys):
    assert main(["compare", str(empty_model), "--ablation", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(r["before_ms"], r["after_ms"], r["speedup"]) for r in data["rows"]] == [
        (0, 0, None)] * 3
    assert main(["compare", str(empty_model), "--ablation"]) == 0
    text = capsys.readouterr().out
    assert "f16            0.000     0.000         -" in text and "%" not in text


def test_sensitivity_and_bench(empty_model, tmp_path, capsys):
    assert main(["sensitivity", str(empty_model), "--json", "--executor", "serial"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {(p["low_change"], p["high_change"], p["swing"]) for p in report["entries"]} == {
        (0, 0, 0)}
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[entry]]\nname = "empty"\nmodel = "{empty_model.as_posix()}"\n'
                     'precision = "f16"\n')
    baseline = tmp_path / "baseline.json"
    assert main(["bench", str(suite), "--save", str(baseline)]) == 0
    assert main(["bench", str(suite), "--check", str(baseline)]) == 0
