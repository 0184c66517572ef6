"""Every example the README gives runs as written: the command lines of "Using it", in order,
from a folder where `tpusim examples ex` wrote the example inputs, and the Python blocks."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
pytestmark = pytest.mark.timeout(1200)


def commands() -> list[str]:
    """The `tpusim ...` lines of the "Using it" section, without their comments."""
    section = README.read_text().split("## Using it", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines() if line.startswith("    tpusim ")]
    return [re.sub(r"\s+#.*$", "", line) for line in lines]


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_examples():
    found = commands()
    assert found[0] == "tpusim examples ex" and len(found) >= 20
    assert any("--vendor-profile" in c for c in found)
    assert any(c.startswith("tpusim fit --silicon") for c in found)
    assert len(python_blocks()) >= 2


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("readme")


# Fitting and validating against the chip times takes minutes; tests/test_silicon.py and
# tests/test_calibration.py run the same code in the default run.
_SLOW = ("tpusim fit --silicon", "tpusim validate")


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.slow)
                                     if c.startswith(_SLOW) else c for c in commands()])
def test_command_runs_as_written(command, folder):
    proc = subprocess.run([sys.executable, "-m", "tpusim", *shlex.split(command)[1:]],
                          cwd=folder, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-500:]}{proc.stderr[-800:]}"
    assert proc.stdout.strip(), command


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_python_block_runs(index, folder, monkeypatch):
    monkeypatch.chdir(folder)
    assert (folder / "ex").is_dir()  # the command lines ran first, tpusim examples among them
    exec(compile(python_blocks()[index], f"README block {index + 1}", "exec"), {})
