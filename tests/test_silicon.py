"""The chip timing model against chip times: reading them, the least-squares fit (it recovers
the parameters that made synthetic times), cross-validation, writing the profile, the command
line, and - with ../shared - the published times themselves."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from small_graphs import chain, conv_block

from tpusim.api import compile, simulate
from tpusim.calibration.chip_times import ChipTime, read_chip_times
from tpusim.calibration.lsq import least_squares
from tpusim.calibration.retime import Retimer
from tpusim.calibration.silicon import (
    FITTED_FIELDS,
    SILICON_FILES,
    Case,
    Report,
    cross_validate,
    fit,
    parse_free,
    predict,
    unreproducible,
)
from tpusim.cli import main
from tpusim.errors import ModelError
from tpusim.hw.chip import load_chip, profile_path, timing_fields, write_chip_timing
from tpusim.ir import OpKind

SHARED = Path(__file__).resolve().parents[2] / "shared"
HEADER = "onnx,precision,batch,opt,time_ms,per,what,toolchain,source\n"


def row(model: str, precision: str = "f16", ms: float = 1.0, what: str = "tpu_perf time",
        batch: int = 1, per: str = "batch") -> ChipTime:
    return ChipTime(Path(f"{model}.onnx"), precision, batch, "after", ms, per, what, "", "")


# ---- reading the table -----------------------------------------------------------------------

def test_rows_are_read_per_launch(tmp_path):
    for name in ("net.onnx", "net_b4.onnx"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "chip_times.csv").write_text(
        HEADER + "net.onnx,f16,1,after,2.5,batch,tpu_perf stats,v1,src\n"
        'net_b4.onnx,INT8,4,before,3.0,image,"bmrt_test calculate time, per image",v1,src\n')
    one, four = read_chip_times(tmp_path)
    assert (one.measured_ms, one.network, one.tool, one.label) == (2.5, "net", "tpu_perf",
                                                                   "net f16 (tpu_perf)")
    # sophon-demo's tables divide by the batch; one launch ran all four images
    assert (four.measured_ms, four.network, four.model, four.precision, four.tool) == (
        12.0, "net", "net_b4", "int8", "bmrt_test")


@pytest.mark.parametrize("line, words", [
    ("missing.onnx,f16,1,after,2.5,batch,w,t,s", "line 2: no file missing.onnx"),
    ("net.onnx,f64,1,after,2.5,batch,w,t,s", "line 2: unknown precision 'f64'"),
    ("net.onnx,f16,0,after,2.5,batch,w,t,s", "line 2: needs batch >= 1"),
    ("net.onnx,f16,1,after,-1,batch,w,t,s", "line 2: needs batch >= 1, time_ms > 0"),
    ("net.onnx,f16,1,after,2.5,launch,w,t,s", "per image or batch"),
    ("net.onnx,f16,1,after,,batch,w,t,s", "line 2: no 'time_ms'"),
])
def test_bad_rows_are_named(tmp_path, line, words):
    (tmp_path / "net.onnx").write_bytes(b"")
    (tmp_path / "chip_times.csv").write_text(HEADER + line + "\n")
    with pytest.raises(ModelError, match=words):
        read_chip_times(tmp_path)


def test_no_table_is_an_error(tmp_path):
    with pytest.raises(ModelError, match=r"no chip_times\.csv"):
        read_chip_times(tmp_path)


def test_the_rule_leaves_out_builds_tpusim_cannot_compile():
    assert unreproducible(row("y", "int8", what="INT8 with --quantize_table t (qtable "
                                               "not public)")) == \
        "INT8 with an unpublished quantisation table"
    assert unreproducible(row("e", "int8", what="INT8 (accuracy table calls it INT8-asym)")) \
        == "asymmetric INT8"
    assert unreproducible(row("y", "int8", what="INT8 symmetric default, no qtable")) is None
    assert unreproducible(row("y", "int8", what="rows unlabelled: sym/asym or qtable variant "
                                               "unknown")) is None
    assert unreproducible(row("y", "f16", what="--quantize_table t")) is None


# ---- the solver ------------------------------------------------------------------------------

def test_least_squares_finds_a_known_solution_inside_its_bounds():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    truth = np.array([0.3, 0.7])
    b = a @ truth

    def residuals(x):
        return a @ x - b, a

    found = least_squares(residuals, np.array([1.0, 1.0]), [0, 0], [1, 1])
    assert found.x == pytest.approx(truth, abs=1e-9)
    assert not found.at_bound.any() and found.cost == pytest.approx(0, abs=1e-15)
    # the unconstrained optimum of the second parameter lies beyond its bound: held there
    held = least_squares(residuals, np.array([0.5, 0.5]), [0, 0], [1, 0.5])
    assert held.x[1] == 0.5 and held.at_bound.tolist() == [False, True]
    assert np.isnan(held.sigma[1]) and held.sigma[0] >= 0


# ---- fitting synthetic chip times ------------------------------------------------------------

TRUTH = {"chip_conv_kernel_efficiency": 0.55, "chip_short_row_cost": 0.4,
         "chip_contention": 0.6}


@pytest.fixture(scope="module")
def synthetic(chip):
    """Five small networks 'measured' on a chip whose timing is TRUTH, each its own network
    but for two precisions of one."""
    truth = chip.replace(**TRUTH)
    graphs = {"block64": (conv_block(64, 32), "f16"), "block96": (conv_block(96, 24), "int8"),
              "block128": (conv_block(128, 16), "f32"), "block32": (conv_block(32, 48), "f16"),
              "chain": (chain((1, 64, 28, 28), [OpKind.CONV2D, OpKind.RELU, OpKind.SIGMOID]),
                        "f16")}
    cases = []
    for name, (graph, precision) in graphs.items():
        program = compile(graph, chip, precision)
        ms = simulate(program, truth).total_ms
        cases.append(Case(row(name, precision, ms), Retimer(program, chip), None))
    return cases


def test_the_fit_recovers_the_parameters_that_made_the_times(chip, synthetic):
    found = fit(synthetic, chip)
    assert found.rms_log < 1e-6
    assert found.values["chip_conv_kernel_efficiency"] == pytest.approx(0.55, rel=1e-4)
    assert found.values["chip_contention"] == pytest.approx(0.6, rel=1e-3)
    assert found.rows == 5 and not found.at_bound
    assert all(found.sigma[n] < 1e-3 for n in ("chip_conv_kernel_efficiency",
                                               "chip_contention"))
    assert [p.error for p in predict(synthetic, found.chip)] == pytest.approx([0] * 5, abs=1e-5)


def test_only_the_free_fields_move(chip, synthetic):
    found = fit(synthetic, chip, parse_free("chip_conv_kernel_efficiency"))
    assert set(found.values) == {"chip_conv_kernel_efficiency"}
    assert found.chip.chip_contention == chip.chip_contention
    with pytest.raises(ModelError, match="'ddr_gbps' is not a \\[chip_timing\\] field"):
        parse_free("chip_contention,ddr_gbps")


def test_a_fit_never_leaves_the_bounds(chip, synthetic):
    """Times no parameter inside the bounds can reach hold the parameters at their bounds."""
    slow = [Case(row(c.row.model, c.row.precision, c.row.measured_ms * 20), c.retimer, None)
            for c in synthetic]
    found = fit(slow, chip)
    for name, value in found.values.items():
        low, high = chip.bounds(name)
        assert low <= value <= high
    assert found.values["chip_contention"] == 1.0 and "chip_contention" in found.at_bound


def test_cross_validation_predicts_each_network_without_it(chip, synthetic):
    # one network measured 3x too slow: it cannot pull its own prediction
    odd = [Case(row(c.row.model, c.row.precision,
                    c.row.measured_ms * (3 if c.network == "block64" else 1)), c.retimer, None)
           for c in synthetic]
    predicted = cross_validate(odd, chip)
    assert [p.case for p in predicted] == odd
    assert predicted[0].error == pytest.approx(1 / 3 - 1, abs=1e-3)
    # ... while the fits that include it are pulled off the truth for every other network
    without_chain = fit(odd[:4], chip).chip
    assert predicted[4].chip_ms == pytest.approx(odd[4].predict_ms(without_chain), rel=1e-12)
    assert abs(predicted[4].error) > 1e-3


def test_the_report_names_each_row_and_model(chip, synthetic):
    cases = [*synthetic[:4], Case(row("q", "int8", 1.0, "--quantize_table t"),
                                  synthetic[4].retimer, 2.0, "INT8 with an unpublished "
                                                              "quantisation table")]
    report = Report(chip.name, cases, predict(cases, chip))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["timing"] == "chip" and len(data["rows"]) == 5
    assert data["rows"][4]["excluded"] and data["rows"][4]["tpu_mlir_ms"] == 2.0
    stats = data["summary"]
    assert stats["chip"]["n"] == 5 and stats["chip_reproducible"]["n"] == 4
    assert stats["tpu_mlir"] == {"n": 1, "median": 1.0, "p90": 1.0, "worst": 1.0}


# ---- the profile -----------------------------------------------------------------------------

def test_the_committed_values_lie_inside_their_bounds(chip):
    for name in timing_fields():
        low, high = chip.bounds(name)
        assert low <= getattr(chip, name) <= high, name
    # the profile says what it was fitted to
    assert "# Fitted by `tpusim fit --silicon`" in profile_path("bm1684x").read_text()


def test_writing_values_keeps_the_profile_and_its_comments(tmp_path, chip):
    path = tmp_path / "mine.toml"
    shutil.copy(profile_path("bm1684x"), path)
    before = path.read_text()
    for _ in range(2):  # the note is replaced, not repeated
        write_chip_timing(path, {"chip_contention": 0.25, "chip_short_row_cost": 1.0},
                          "Fitted by a test to rows it made up; cross-validated |error| "
                          "median 1 %, a note long enough to need a second line to say so.")
    text = path.read_text()
    assert text.count("# Fitted by") == 1 and "#   " in text
    mine = load_chip(path)
    assert (mine.chip_contention, mine.chip_short_row_cost) == (0.25, 1.0)
    assert mine.chip_conv_kernel_efficiency == chip.chip_conv_kernel_efficiency
    assert len(text.splitlines()) == len(before.splitlines())  # one note for another


def test_a_variant_without_the_section_gets_one(tmp_path, chip):
    path = tmp_path / "variant.toml"
    path.write_text('inherits = "bm1684x"\nname = "variant"\nddr_gbps = 32.0\n')
    write_chip_timing(path, {"chip_contention": 0.5}, "Fitted by a test.")
    assert "[chip_timing]" in path.read_text()
    variant = load_chip(path)
    assert variant.chip_contention == 0.5 and variant.ddr_gbps == 32.0
    assert variant.bounds("chip_contention") == chip.bounds("chip_contention")


# ---- the command line ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def silicon_dir(tmp_path_factory, chip):
    """Two ONNX networks (3x3 and 1x1 convolutions), 'measured' on a chip with known timing."""
    onnx_models = pytest.importorskip("onnx_models")
    from tpusim.frontend.load import load_model

    folder = tmp_path_factory.mktemp("silicon")
    truth = chip.replace(**TRUTH)
    lines = [HEADER.strip()]
    for name, k in (("conv3", 3), ("conv1", 1)):
        m = onnx_models.model(
            [onnx_models.node("Conv", ["x", "w"], "y", kernel_shape=[k, k],
                              pads=[k // 2] * 4),
             onnx_models.node("Relu", ["y"], "z")],
            {"x": (1, 64, 40, 40)}, {"z": (1, 64, 40, 40)},
            [onnx_models.weight("w", (64, 64, k, k))])
        path = folder / f"{name}.onnx"
        path.write_bytes(m.SerializeToString())
        for precision in ("f16", "int8"):
            ms = simulate(compile(load_model(str(path)), chip, precision), truth).total_ms
            lines.append(f"{name}.onnx,{precision},1,after,{ms:.9f},batch,tpu_perf time,t,s")
    (folder / "chip_times.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_fit_writes_the_profile_and_validate_reads_it(tmp_path, silicon_dir, capsys):
    profile = tmp_path / "mine.toml"
    shutil.copy(profile_path("bm1684x"), profile)
    assert main(["fit", "--silicon", str(silicon_dir), "--chip", str(profile),
                 "--fields", "chip_conv_kernel_efficiency,chip_contention"]) == 0
    out = capsys.readouterr().out
    assert "fitted to 4 of 4 rows" in out and "chip_conv_kernel_efficiency" in out
    assert "cross-validated" in out and f"wrote the fitted values to {profile}" in out
    fitted = load_chip(profile)
    assert fitted.chip_conv_kernel_efficiency == pytest.approx(0.55, rel=1e-3)
    assert main(["validate", "--silicon", str(silicon_dir), "--chip", str(profile),
                 "--json", "--out", str(tmp_path / "report")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == sorted(SILICON_FILES)
    assert json.loads((tmp_path / "report" / "silicon.json").read_text()) == data
    assert [r["model"] for r in data["rows"]] == ["conv3", "conv3", "conv1", "conv1"]
    assert data["summary"]["chip"]["worst"] < 0.01


def test_a_dry_run_writes_nothing(tmp_path, silicon_dir, capsys):
    profile = tmp_path / "mine.toml"
    shutil.copy(profile_path("bm1684x"), profile)
    before = profile.read_text()
    assert main(["fit", "--silicon", str(silicon_dir), "--chip", str(profile), "--dry-run",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["written"] is None and set(data["fit"]["values"]) == set(FITTED_FIELDS)
    assert {"cv_all_ms", "cv_reproducible_ms"} <= set(data["rows"][0])
    assert profile.read_text() == before


@pytest.mark.parametrize("args, words", [
    (["validate"], "validate needs --data"),
    (["validate", "--silicon", "{dir}", "--no-article"], "--silicon validates against"),
    (["fit", "--silicon", "{dir}", "--fields", "ddr_gbps"], "'ddr_gbps' is not a"),
    (["fit", "--silicon", "{missing}"], "no chip_times.csv"),
])
def test_bad_input_is_one_line(tmp_path, silicon_dir, capsys, args, words):
    args = [a.format(dir=silicon_dir, missing=tmp_path) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


# ---- the published chip times ----------------------------------------------------------------

@pytest.mark.skipif(not (SHARED / "silicon" / "chip_times.csv").is_file(),
                    reason="the published chip times are not in ../shared/silicon")
def test_a_refit_of_the_published_times_is_the_committed_profile(capsys):
    """The committed values are what `tpusim fit --silicon` finds, inside their bounds; the
    cross-validated error is what the closing note of the fit reports."""
    assert main(["fit", "--silicon", str(SHARED / "silicon"), "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    committed = load_chip("bm1684x")
    for name, value in data["fit"]["values"].items():
        low, high = committed.bounds(name)
        assert low <= value <= high, name
        assert value == pytest.approx(getattr(committed, name), rel=1e-4), name
    assert len(data["rows"]) == 27
    stats = data["summary"]
    # leave-one-network-out, the rule's rows fitted: median and p90 over every row
    assert stats["cv_reproducible"]["median"] <= 0.15
    assert stats["cv_reproducible"]["p90"] <= 0.45
    assert stats["cv_all"]["median"] <= 0.15
    # well below tpu-mlir's own estimate on the rows it has one for
    assert stats["cv_reproducible_where_tpu_mlir"]["median"] < \
        0.6 * stats["tpu_mlir"]["median"]
