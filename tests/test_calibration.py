"""The calibration against tpu-mlir's per-command model holds (needs the shared data)."""

from pathlib import Path

import pytest

from tpusim.calibration.fit import fit_dma
from tpusim.calibration.validate import run_cases, summarise
from tpusim.cli import main

DATA = Path(__file__).resolve().parents[2] / "shared" / "tpu-mlir"
needs_data = pytest.mark.skipif(not (DATA / "micro").is_dir(),
                                reason="the shared tpu-mlir data is not beside the repository")


@needs_data
def test_single_operator_cases_within_the_issue_targets(chip):
    stats = summarise(run_cases(DATA, chip))["all"]
    assert stats["n"] == 336
    assert stats["median"] < 0.10 and stats["p90"] < 0.25


@needs_data
def test_fitted_dma_values_are_the_profiles(chip):
    fitted = {f.field: f.value for f in fit_dma(DATA, chip)}
    for field, value in fitted.items():
        assert getattr(chip, field) == pytest.approx(value, rel=1e-3), field


@needs_data
def test_validate_prints_the_report(capsys):
    assert main(["validate", "--data", str(DATA), "--no-article"]) == 0
    out = capsys.readouterr().out
    assert "all cases  336" in out and "MM2 F16" in out


def test_validate_names_a_wrong_folder(tmp_path, capsys):
    assert main(["validate", "--data", str(tmp_path)]) == 2
    assert "not tpu-mlir's output folder" in capsys.readouterr().err
