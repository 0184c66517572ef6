"""Sweeps on small graphs: parameters checked, programs compiled once per compiler-relevant
setting (counted), rows in point order whatever ran them, outputs, interrupts."""

import json

import pytest
from small_graphs import conv_block

import tpusim.sweep.work as work
from tpusim.api import compile, simulate
from tpusim.errors import ChipProfileError, TpusimError
from tpusim.sweep import (
    METRICS,
    STRUCTURAL_FIELDS,
    SweepError,
    SweepResult,
    parse_set,
    run_points,
    sweep,
)


@pytest.fixture(scope="module")
def block():
    return conv_block()


@pytest.fixture
def compiles(monkeypatch):
    """Every compile a sweep makes in this process: the chip it compiled for."""
    work.clear_caches()
    seen = []

    def counting(graph, chip, precision, opt, **kwargs):
        seen.append(chip)
        return compile(graph, chip, precision, opt, **kwargs)

    monkeypatch.setattr(work, "compile", counting)
    return seen


def test_parse_set(chip):
    assert parse_set("ddr_gbps=32,64,128", chip) == ("ddr_gbps", [32.0, 64.0, 128.0])
    assert parse_set("tiu_mhz=500:1500:5", chip) == ("tiu_mhz", [500.0, 750.0, 1000.0,
                                                                 1250.0, 1500.0])
    assert parse_set("npu_count=32,64", chip) == ("npu_count", [32, 64])
    assert parse_set("opt=before,transposes+grouping,after", chip) == (
        "opt", ["before", "transposes+grouping", "after"])
    assert parse_set("precision=fp16,int8", chip) == ("precision", ["f16", "int8"])


@pytest.mark.parametrize(("text", "message"), [
    ("ddr_gbp=1,2", "unknown sweep parameter 'ddr_gbp': expected a chip field or one of "
                    "precision, opt, batch; did you mean 'ddr_gbps'?"),
    ("ddr_gbps", "expected FIELD=v1,v2,..."),
    ("ddr_gbps=32,fast", "ddr_gbps: expected a number, got 'fast'"),
    ("ddr_gbps=32,-1", "field 'ddr_gbps' must be > 0, got -1.0"),
    ("ddr_read_efficiency=0.5,1.5", "field 'ddr_read_efficiency' must be in (0, 1]"),
    ("npu_count=32.5", "field 'npu_count' must be an integer"),
    ("ddr_gbps=32,32", "ddr_gbps: the value 32.0 appears twice"),
    ("opt=before,nonsense", "unknown optimisation 'nonsense'"),
    ("precision=f8", "unknown precision 'f8'"),
    ("batch=0", "batch must be a whole number >= 1"),
    ("tiu_mhz=500:1500:1", "must be >= 2"),
])
def test_bad_values_are_one_line_errors(chip, text, message):
    with pytest.raises(TpusimError) as info:
        parse_set(text, chip)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_fields_that_constrain_each_other_are_checked_per_point(block, chip):
    grid = {"lmem_banks": [16, 32], "lmem_bytes_per_npu": [262144, 262160]}  # 262160 / 32: no
    with pytest.raises(ChipProfileError, match="multiple of lmem_banks"):
        sweep(block, grid, chip=chip)


def test_timing_fields_compile_once_with_the_base_chip(block, chip, compiles):
    result = sweep(block, {"ddr_gbps": [32, 64, 128], "tiu_mhz": [500, 1000]}, chip=chip,
                   executor="serial")
    assert len(compiles) == 1 and compiles[0] == chip  # the compiler's view: the base chip
    assert (result.points, result.programs, result.compiles) == (6, 1, 1)
    assert [r["program"] for r in result.rows] == [0] * 6
    # each point is the one program simulated on its own chip
    program = compile(block, chip, "f16")
    for row in result.rows:
        variant = chip.replace(ddr_gbps=row["ddr_gbps"], tiu_mhz=row["tiu_mhz"])
        assert row["total_ms"] == round(simulate(program, variant).total_ms, 6)
    assert "programs compiled for the base chip" in result.notes[0]


def test_a_later_study_reuses_the_program(block, chip, compiles):
    first = sweep(block, {"ddr_gbps": [32, 64]}, chip=chip, executor="serial")
    again = sweep(block, {"tiu_mhz": [500, 1000]}, chip=chip, executor="serial")
    other = sweep(block, {"tiu_mhz": [500, 1000]}, chip=chip, executor="serial", opt="before")
    assert (first.compiles, first.reused) == (1, 0)
    assert (again.compiles, again.reused) == (0, 1)
    assert (other.compiles, other.reused) == (1, 0)
    assert len(compiles) == 2


def test_an_edited_model_file_is_loaded_again(tmp_path, monkeypatch):
    loads = []
    monkeypatch.setattr(work, "load_model", lambda *args: loads.append(args) or conv_block())
    work.clear_caches()
    path = tmp_path / "m.onnx"
    path.write_bytes(b"first")
    assert work.load_graph(str(path), None, "error") is work.load_graph(str(path), None, "error")
    path.write_bytes(b"second, longer")
    work.load_graph(str(path), None, "error")
    assert len(loads) == 2


def test_compiler_settings_and_structure_force_programs(block, chip, compiles):
    result = sweep(block, {"opt": ["before", "after"], "lmem_bytes_per_npu": [131072, 262144],
                           "ddr_gbps": [32, 64]}, chip=chip, executor="serial")
    assert "lmem_bytes_per_npu" in STRUCTURAL_FIELDS
    assert (result.programs, result.compiles, len(compiles)) == (4, 4, 4)
    assert sorted({c.lmem_bytes_per_npu for c in compiles}) == [131072, 262144]
    assert {c.ddr_gbps for c in compiles} == {chip.ddr_gbps}
    assert [r["program"] for r in result.rows] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_recompile_compiles_every_point(block, chip, compiles):
    result = sweep(block, {"ddr_gbps": [32, 64, 128]}, chip=chip, recompile=True,
                   executor="serial")
    assert (result.programs, result.compiles) == (3, 3)
    assert [c.ddr_gbps for c in compiles] == [32, 64, 128]
    assert result.notes == []


def test_rows_are_in_cross_product_order_with_every_column(block, chip):
    result = sweep(block, {"precision": ["f16", "int8"], "ddr_gbps": [32, 64, 128]}, chip=chip,
                   executor="serial")
    assert result.columns == ["point", "precision", "ddr_gbps", "program", *METRICS]
    assert [(r["point"], r["precision"], r["ddr_gbps"]) for r in result.rows] == [
        (0, "f16", 32), (1, "f16", 64), (2, "f16", 128),
        (3, "int8", 32), (4, "int8", 64), (5, "int8", 128)]
    assert all(list(r) == result.columns for r in result.rows)
    assert result.fixed == {"opt": "after", "batch": None, "recompile": False, "timing": "chip"}
    assert result.complete and not result.interrupted


def test_process_pool_gives_the_serial_rows(block, chip):
    grid = {"opt": ["before", "after"], "precision": ["f16", "int8"], "ddr_gbps": [32, 128]}
    serial = sweep(block, grid, chip=chip, executor="serial")
    pooled = sweep(block, grid, chip=chip, executor="process", workers=2)
    assert pooled.executor == "process x2"
    assert pooled.rows == serial.rows


def test_run_points_fills_unset_parameters_with_the_base(block, chip):
    result = run_points(block, [{}, {"ddr_gbps": 32}, {"tiu_mhz": 500, "opt": "before"}],
                        chip=chip, executor="serial")
    assert result.params == ["ddr_gbps", "tiu_mhz", "opt"]
    assert [(r["ddr_gbps"], r["tiu_mhz"], r["opt"]) for r in result.rows] == [
        (64, 1000, "after"), (32, 1000, "after"), (64, 500, "before")]
    assert result.programs == 2


def test_progress_reports_every_point(block, chip):
    seen = []
    sweep(block, {"opt": ["before", "after"], "ddr_gbps": [32, 64]}, chip=chip,
          executor="serial", progress=seen.append)
    assert [(p.points_done, p.programs_done) for p in seen] == [
        (1, 0), (2, 0), (2, 1), (3, 1), (4, 1), (4, 2)]
    assert all(p.points == 4 and p.programs == 2 for p in seen)


def _stop_after_first_program(progress):
    if progress.programs_done == 1:
        raise KeyboardInterrupt


def test_interrupt_keeps_the_finished_points(block, chip):
    result = sweep(block, {"opt": ["before", "after"], "ddr_gbps": [32, 64]}, chip=chip,
                   executor="serial", progress=_stop_after_first_program)
    assert result.interrupted and not result.complete
    assert result.compiles + result.reused == 1
    assert [(r["opt"], r["ddr_gbps"]) for r in result.rows] == [("before", 32), ("before", 64)]


def test_interrupting_the_pool_keeps_whole_programs(block, chip):
    """Tasks that finished while the pool stopped are kept too: each program whole."""
    grid = {"opt": ["before", "after"], "precision": ["f16", "int8"], "ddr_gbps": [32, 64]}
    serial = sweep(block, grid, chip=chip, executor="serial")
    result = sweep(block, grid, chip=chip, executor="process", workers=2,
                   progress=_stop_after_first_program)
    assert result.interrupted
    programs = {r["program"] for r in result.rows}
    assert 1 <= len(programs) == result.compiles + result.reused
    assert result.rows == [r for r in serial.rows if r["program"] in programs]


def test_outputs(block, chip, tmp_path):
    result = sweep(block, {"ddr_gbps": [32, 64], "tiu_mhz": [500, 1000, 1500]}, chip=chip,
                   executor="serial")
    written = result.save(tmp_path / "out")
    assert [p.name for p in written] == ["sweep.csv", "sweep.json", "sweep.png"]
    lines = (tmp_path / "out" / "sweep.csv").read_text().splitlines()
    assert lines[0] == ",".join(result.columns) and len(lines) == 7
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["rows"] == result.rows
    assert SweepResult.load(tmp_path / "out").rows == result.rows
    assert (tmp_path / "out" / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    down, across, cells = result.grid()
    assert (down, across) == ("ddr_gbps", "tiu_mhz")
    assert cells[1][2] == result.rows[5]["total_ms"]
    assert result.grid_table().splitlines()[1].split() == ["ddr_gbps", "\\", "tiu_mhz", "500",
                                                           "1000", "1500"]


def test_plots_for_other_shapes_of_sweep(block, chip, tmp_path):
    lines = sweep(block, {"opt": ["before", "after"], "ddr_gbps": [32, 64]}, chip=chip,
                  executor="serial")
    assert lines.grid() is None
    lines.plot(tmp_path / "lines.svg")
    bars = sweep(block, {"opt": ["before", "after"]}, chip=chip, executor="serial")
    bars.plot(tmp_path / "bars.png")
    assert (tmp_path / "lines.svg").stat().st_size > 0 and (tmp_path / "bars.png").stat().st_size


def test_dataframe(block, chip):
    pd = pytest.importorskip("pandas")
    result = sweep(block, {"ddr_gbps": [32, 64]}, chip=chip, executor="serial")
    frame = result.to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == result.columns
    assert frame["total_ms"].tolist() == result.column("total_ms")


def test_batch_of_a_graph_is_refused(block, chip):
    with pytest.raises(SweepError, match="batch can be set only"):
        sweep(block, {"batch": [1, 2]}, chip=chip)


def test_unknown_executor(block, chip):
    with pytest.raises(SweepError, match="unknown executor 'threads'"):
        sweep(block, {"ddr_gbps": [32, 64]}, chip=chip, executor="threads")
