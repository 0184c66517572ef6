"""The same inputs give byte-identical files: two `tpusim run swin-t --out` processes (with
different string-hash seeds, so no set or dict order can leak into a file) write the same
directory, and a sweep or a sensitivity study writes the same files whether its points ran
serially or in a process pool."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from small_graphs import conv_block

from tpusim.profile.report import OUTPUT_FILES
from tpusim.sweep import sensitivity, sweep


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_two_runs_of_swin_t_write_byte_identical_directories(tmp_path):
    runs = []
    for seed in ("0", "4242"):  # both processes at once: two cores
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = tmp_path / f"run{seed}"
        runs.append((out, subprocess.Popen(
            [sys.executable, "-m", "tpusim", "run", "swin-t", "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)))
    for _, proc in runs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()
    first, second = (files(out) for out, _ in runs)
    assert sorted(first) == sorted(OUTPUT_FILES)
    differing = [name for name in first if first[name] != second[name]]
    assert differing == []


@pytest.fixture(scope="module")
def block():
    return conv_block(32, 16)


def test_sweep_files_are_the_same_serially_and_in_a_pool(block, chip, tmp_path):
    grid = {"ddr_gbps": [32, 64], "tiu_mhz": [500, 1000]}
    # recompile: a program per point, so the pool has work to share
    serial = sweep(block, grid, chip=chip, executor="serial", recompile=True)
    pooled = sweep(block, grid, chip=chip, executor="process", workers=2, recompile=True)
    assert serial.executor == "serial" and pooled.executor.startswith("process")
    serial.save(tmp_path / "serial")
    pooled.save(tmp_path / "pooled")
    assert sorted(files(tmp_path / "serial")) == ["sweep.csv", "sweep.json", "sweep.png"]
    assert files(tmp_path / "serial") == files(tmp_path / "pooled")


def test_sensitivity_files_are_the_same_serially_and_in_a_pool(block, chip, tmp_path):
    params = ["ddr_gbps", "tiu_mhz"]
    serial = sensitivity(block, params, chip=chip, executor="serial", recompile=True)
    pooled = sensitivity(block, params, chip=chip, executor="process", workers=2,
                         recompile=True)
    assert pooled.sweep.executor.startswith("process")
    serial.save(tmp_path / "serial")
    pooled.save(tmp_path / "pooled")
    assert len(files(tmp_path / "serial")) == 4
    assert files(tmp_path / "serial") == files(tmp_path / "pooled")
