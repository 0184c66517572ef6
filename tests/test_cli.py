import json
import subprocess
import sys

import pytest

from tpusim.cli import main
from tpusim.profile.report import OUTPUT_FILES

SUMMARY_FIELDS = {"total_ms", "tiu_busy_ms", "gdma_busy_ms", "ddr_bytes", "tiu_commands",
                  "gdma_commands", "groups", "global_layers", "sim_wall_s"}


def _tpusim(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tpusim", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_run_json_has_every_field():
    proc = _tpusim("run", "swin-t", "--precision", "f16", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= SUMMARY_FIELDS
    assert data["precision"] == "f16" and data["total_ms"] > 0


def test_run_out_writes_timeline(tmp_path, capsys):
    assert main(["run", "swin-t", "--precision", "int8", "--out", str(tmp_path / "o")]) == 0
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == sorted(OUTPUT_FILES)
    trace = json.loads((tmp_path / "o" / "trace.json").read_text())
    tracks = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert {"TIU", "GDMA"} <= tracks
    assert "int8" in capsys.readouterr().out


def test_compare_prints_each_precision(capsys):
    assert main(["compare", "swin-t", "--precisions", "f32,int8"]) == 0
    out = capsys.readouterr().out
    assert "f32" in out and "int8" in out


def test_chips_lists_bm1684x(capsys):
    assert main(["chips"]) == 0
    assert "bm1684x" in capsys.readouterr().out


@pytest.mark.parametrize("args, words", [
    (["run", "swin-x"], "unknown model 'swin-x'"),
    (["run", "missing.onnx"], "model file not found: missing.onnx"),
    (["run", "swin-t", "--precision", "f8"], "unknown precision 'f8'"),
    (["run", "swin-t", "--batch", "0"], "batch size must be >= 1"),
    (["run"], "the following arguments are required: model"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, words):
    out = tmp_path / "out"
    proc = _tpusim(*args, "--out", str(out)) if args[1:] else _tpusim(*args)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and words in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("text, words", [
    ('inherits = "bm1684x"\nddr_gbps = -64.0\n', "'ddr_gbps' must be > 0"),
    ('name = "half"\nnpu_count = 64\n', "missing field 'description'"),
])
def test_bad_profile_is_one_line_and_exit_2(tmp_path, text, words):
    profile = tmp_path / "chip.toml"
    profile.write_text(text)
    out = tmp_path / "out"
    proc = _tpusim("run", "swin-t", "--chip", str(profile), "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and words in proc.stderr and str(profile) in proc.stderr
    assert not out.exists()


def test_examples_are_written_whole_into_a_new_folder(tmp_path, capsys):
    assert main(["examples", str(tmp_path / "ex")]) == 0
    assert "matmul/" in capsys.readouterr().out
    names = {p.name for p in (tmp_path / "ex").iterdir()}
    assert names == {"matmul", "tpu-mlir", "silicon", "onnx"}
    assert (tmp_path / "ex" / "silicon" / "chip_times.csv").is_file()
    # a folder that holds something is left alone
    assert main(["examples", str(tmp_path / "ex")]) == 2
    assert "exists and is not an empty directory" in capsys.readouterr().err
