"""`tpusim run|compare model.onnx`: files through load_model, bad files, unknown operators."""

import json
import subprocess
import sys

import pytest
from onnx_models import model, node, weight

from tpusim.cli import main


@pytest.fixture
def small(tmp_path):
    m = model([node("Conv", ["x", "w"], "c", pads=[1, 1, 1, 1]), node("Relu", ["c"], "y")],
              {"x": [2, 3, 16, 16]}, {"y": None}, [weight("w", [8, 3, 3, 3])])
    path = tmp_path / "small.onnx"
    path.write_bytes(m.SerializeToString())
    return path


@pytest.fixture
def unknown(tmp_path):
    m = model([node("Relu", ["x"], "r"), node("Celu", ["r"], "c", name="my_celu"),
               node("Relu", ["c"], "y")], {"x": [1, 8, 16, 16]}, {"y": None}, infer=True)
    path = tmp_path / "unknown.onnx"
    path.write_bytes(m.SerializeToString())
    return path


def test_run_an_onnx_file(small, capsys):
    assert main(["run", str(small), "--precision", "int8", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "small" and data["batch"] == 2 and data["total_ms"] > 0
    assert data["gmacs"] == round(2 * 8 * 16 * 16 * 27 / 1e9, 6)


def test_batch_option_overrides_the_file(small, capsys):
    assert main(["run", str(small), "--batch", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["batch"] == 3 and data["gmacs"] == round(3 * 8 * 16 * 16 * 27 / 1e9, 6)


def test_unknown_operator_is_an_error_by_default(unknown, capsys):
    assert main(["run", str(unknown)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "node 'my_celu' (Celu)" in err and "fallback" in err


def test_unknown_operator_fallback_warns_once(unknown, capsys):
    assert main(["compare", str(unknown), "--unknown-ops", "fallback",
                 "--precisions", "f16,int8", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("tpusim: warning: ") and "my_celu (Celu)" in captured.err
    assert [row["precision"] for row in json.loads(captured.out)["rows"]] == ["f16", "int8"]


def test_malformed_file_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07\x12\x03abc\x3a\xff\xff\xff")
    proc = subprocess.run([sys.executable, "-m", "tpusim", "run", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "bad.onnx: not a" in proc.stderr and "Traceback" not in proc.stderr
