"""`tpusim sweep` and `tpusim sensitivity`: the Swin-T what-if study from the command line,
one-line errors, and Ctrl-C keeping the finished points."""

import csv
import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from tpusim.api import compile, simulate
from tpusim.cli import main
from tpusim.frontend import build_model

DDR = [32, 48, 64, 96, 128]
TIU = [500, 750, 1000, 1250, 1500]


def test_swin_t_f16_ddr_by_tiu(tmp_path, capsys):
    """The issue's study: 25 points, one program (only timing changes), table, grid and plot."""
    out = tmp_path / "sweep"
    code = main(["sweep", "swin-t", "--precision", "f16", "--set", "ddr_gbps=32,48,64,96,128",
                 "--set", "tiu_mhz=500:1500:5", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert text.startswith("swin-t on bm1684x, precision f16, opt after: 25 of 25 points, "
                           "1 program (")
    with open(out / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(float(r["ddr_gbps"]), float(r["tiu_mhz"])) for r in rows] == [
        (d, t) for d in DDR for t in TIU]
    ms = {(float(r["ddr_gbps"]), float(r["tiu_mhz"])): float(r["total_ms"]) for r in rows}
    for d, t in ms:  # more bandwidth or a faster clock is never slower
        for d2, t2 in ms:
            if d2 >= d and t2 >= t:
                assert ms[d2, t2] <= ms[d, t]
    # the chip as it is: the same time `tpusim run` gives
    assert ms[64, 1000] == pytest.approx(simulate(compile(build_model("swin-t"), "bm1684x",
                                                          "f16")).total_ms, rel=1e-6)
    assert ms[32, 500] > 1.8 * ms[128, 1500]
    grid = text[text.index("ddr_gbps \\ tiu_mhz"):].splitlines()
    assert grid[0].split()[3:] == ["500", "750", "1000", "1250", "1500"]
    assert [line.split()[0] for line in grid[2:7]] == ["32", "48", "64", "96", "128"]
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["programs"] == 1 and "wall_s" not in saved  # the file holds no run details


def test_sensitivity_command(tmp_path, capsys):
    code = main(["sensitivity", "swin-t", "--params", "tiu_mhz,ddr_gbps", "--delta", "0.2",
                 "--out", str(tmp_path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert sorted(e["param"] for e in data["entries"]) == ["ddr_gbps", "tiu_mhz"]
    swings = [e["swing"] for e in data["entries"]]
    assert swings == sorted(swings, reverse=True) and swings[-1] > 0
    assert {p.name for p in tmp_path.iterdir()} == {"sensitivity.csv", "sensitivity.json",
                                                    "tornado.png", "tornado.svg"}


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "ddr_gbp=1,2"], "unknown sweep parameter 'ddr_gbp'"),
    (["--set", "ddr_gbps=0,64"], "field 'ddr_gbps' must be > 0"),
    (["--set", "ddr_gbps=32", "--set", "ddr_gbps=64"], "--set ddr_gbps is given twice"),
    (["--set", "ddr_gbps=32,64", "--executor", "threads"], "unknown executor 'threads'"),
    (["--set", "ddr_gbps=32,64", "--chip", "bm9"], "unknown chip 'bm9'"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, capsys, tmp_path):
    code = main(["sweep", "swin-t", *args, "--out", str(tmp_path / "never")])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "never").exists()


def _wait_for_points(proc: subprocess.Popen, timeout: float = 60) -> str:
    """Read the progress line until it reports a finished point."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            last = seen.decode().split("\r")[-1]
            if " points" in last and not last.split("]")[1].strip().startswith("0/"):
                return seen.decode()
    raise AssertionError(f"no point finished: {seen.decode()!r}")


@pytest.mark.parametrize("executor", ["serial", pytest.param("process", marks=pytest.mark.slow)])
def test_ctrl_c_keeps_the_finished_points(tmp_path, executor):
    """SIGINT mid-sweep: exit 130, and the points that finished are written."""
    out = tmp_path / "partial"
    extra = ["--recompile"] if executor == "process" else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "tpusim", "sweep", "swin-t", "--set", "ddr_gbps=16:256:100",
         "--executor", executor, "--progress", "--out", str(out), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_points(proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr.decode()
    assert "tpusim: interrupted:" in stderr.decode()
    with open(out / "sweep.csv") as f:
        finished = list(csv.DictReader(f))
    assert 1 <= len(finished) < 100
    assert json.loads((out / "sweep.json").read_text())["interrupted"] is True
    assert b"of 100 points" in stdout
