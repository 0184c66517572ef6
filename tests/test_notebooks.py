"""Every notebook in notebooks/ runs headless, as written, in a fresh kernel, and is committed
with its outputs stripped."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
# notebooks that read the shared data (published chip times), found through TPUSIM_SHARED
SHARED = Path(__file__).resolve().parents[2] / "shared"
NEEDS_SHARED = {"05_predicting_the_chip": SHARED / "silicon" / "chip_times.csv"}


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def _execute(path: Path, workdir: Path):
    """Run every cell in a fresh kernel; the notebook with its outputs."""
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Each notebook's run (or the error it raised, naming the cell), all run at once: each
    has its own kernel process, so they share the cores."""
    os.environ.setdefault("TPUSIM_SHARED", str(SHARED))  # the kernels inherit it
    workdirs = {path: tmp_path_factory.mktemp(path.stem) for path in NOTEBOOKS}  # not in threads

    def run(path):
        needs = NEEDS_SHARED.get(path.stem)
        if needs is not None and not needs.is_file():
            return None
        try:
            return _execute(path, workdirs[path])
        except Exception as exc:  # reported by the notebook's own test
            return exc

    with ThreadPoolExecutor(len(NOTEBOOKS) or 1) as pool:
        return dict(zip(NOTEBOOKS, pool.map(run, NOTEBOOKS)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, executed):
    notebook = executed[path]
    if notebook is None:
        pytest.skip(f"needs the shared data: {NEEDS_SHARED[path.stem]} is not there")
    if isinstance(notebook, Exception):
        raise notebook
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    assert any(c.outputs for c in notebook.cells if c.cell_type == "code")
