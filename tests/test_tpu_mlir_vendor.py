"""tpusim's run of tpu-mlir's programs against tpu-mlir's own profile of them: the profile as
tpusim records, the comparison tables, `tpusim run --vendor-profile`, bad files.

Issue 8 asks for equal TIU and GDMA command counts per layer and totals within 15 % of the
vendor's, on every fixture.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from pathlib import Path

import pytest

from tpusim.api import Result, load_program, simulate
from tpusim.cli import main
from tpusim.errors import ModelError
from tpusim.frontend.load import load_model
from tpusim.profile.trace import comparison_trace
from tpusim.profile.vendor import parse_vendor_profile, read_vendor_profile
from tpusim.profile.vendor_compare import LABELS, VENDOR_FILES, compare_vendor, comparison_text
from tpusim.profile.vendor_records import vendor_result

SHARED = Path(__file__).resolve().parents[2] / "shared" / "tpu-mlir"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="shared tpu-mlir/ folder absent")
FIXTURES = SHARED / "fixtures"


def files(case: str) -> tuple[Path, Path]:
    folder = FIXTURES / case
    return next(folder.glob("*_final.mlir")), folder / "compiler_profile_0.txt"


def runs(case: str, chip) -> tuple[Result, Result]:
    program_file, profile = files(case)
    program = load_program(program_file, chip)
    return simulate(program, chip, "vendor"), vendor_result(read_vendor_profile(profile),
                                                            program, chip)


# (case, what the kernels issue now against the vendor profile, as measured)
COUNTS = [
    "add_wt_1x3136x96__INT8__f32_io_cast",
    "conv3x3s1_64x56x56_64__F32__stripped",
    "conv7x7s2_3x224x224_64__F16__f32_io_cast",
    "layernorm_1x3136x96__BF16__f32_io_cast",
    "matmul_64x256x512__F16__f32_io_cast",
    "matmul_64x256x512__F16__stripped",
    "permute_win_1x8x7x8x7x96__F16__stripped",
    "softmax_64x3x49x49__INT8__f32_io_cast",
]
TOTALS = [c if isinstance(c, str) else c.values[0] for c in COUNTS]


def per_layer_counts(result: Result, names: dict[int, str]) -> Counter:
    program = result.program
    return Counter((names.get(c.layer, program.layers[c.layer].name), c.engine.value)
                   for c in program.tiu + program.gdma)


@pytest.mark.parametrize("case", COUNTS)
def test_command_counts_per_layer_equal_the_vendors(case: str, chip) -> None:
    ours, vendor = runs(case, chip)
    names = {i: f"{ours.program.layers[i].kind}_{n}"
             for n, i in ours.program.vendor_layers.items()}
    assert per_layer_counts(ours, names) == per_layer_counts(vendor, names)


@pytest.mark.parametrize("case", TOTALS)
def test_total_within_15_percent_of_the_vendors(case: str, chip) -> None:
    ours, vendor = runs(case, chip)
    assert ours.total_ns == pytest.approx(vendor.total_ns, rel=0.15)


def test_the_profile_as_records(chip) -> None:
    """add_wt INT8: every command on the program's own layers, times as the file says
    (end inclusive, so end + 1), bytes and directions of the GDMA commands."""
    ours, vendor = runs("add_wt_1x3136x96__INT8__f32_io_cast", chip)
    layers = vendor.program.layers
    assert layers == ours.program.layers  # no layer the program does not know
    gdma = [r for r in vendor.records if r.engine == "GDMA"]
    assert [(layers[r.layer].name, r.start_ns, r.end_ns, r.bytes, r.direction) for r in gdma] == [
        ("load_0", 0, 22293, 1204224, "S2L"), ("load_c0_i8", 22293, 37155, 301056, "S2L"),
        ("store_add0_f32", 37890, 67276, 1204224, "L2S")]
    tiu = [(layers[r.layer].name, r.kind, r.cmd_id, r.dep) for r in vendor.records
           if r.engine == "TIU"]
    assert tiu[0] == ("inputadd0_si8", "AR", 1, 1) and tiu[-1] == ("add0_f32", "RQDQ", 7, 2)
    assert all(r.group == 0 for r in vendor.records)
    assert vendor.total_ns == 67276 and len(vendor.program.tiu) == 7


def test_comparison_tables(chip) -> None:
    ours, vendor = runs("matmul_64x256x512__F16__f32_io_cast", chip)
    c = compare_vendor(ours, vendor)
    assert c.vendor_total == 10320 and not c.mismatched
    kinds = {(k.engine, k.kind): k for k in c.kinds}
    assert set(kinds) == {("TIU", "MM2"), ("TIU", "AR"), ("GDMA", "GDMA_TENSOR")}
    mm2 = kinds["TIU", "MM2"]
    assert (mm2.ours.count, mm2.vendor.count, mm2.vendor.cycles) == (1, 1, 1024)
    assert mm2.layer_ratios == [mm2.ratio]
    assert [row.vendor_name for row in c.layers] == [
        "Load_14", "Load_15", "Cast_16", "MatMul_17", "Cast_18", "Store_19"]
    text = comparison_text(c)
    assert "MatMul_17" in text and "per command kind" in text


def test_worst_ratio_is_the_farthest_from_one(chip) -> None:
    ours, vendor = runs("softmax_64x3x49x49__INT8__f32_io_cast", chip)
    ar = next(k for k in compare_vendor(ours, vendor).kinds if k.kind == "AR")
    assert len(ar.layer_ratios) == 3
    assert ar.worst_ratio == max(ar.layer_ratios, key=lambda r: abs(math.log(r)))
    assert ar.worst_ratio < 1


def test_both_runs_in_one_trace(chip) -> None:
    ours, vendor = runs("conv7x7s2_3x224x224_64__F16__f32_io_cast", chip)
    events = comparison_trace([ours, vendor], LABELS)["traceEvents"]
    names = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert names == {1: "tpusim", 2: "tpu-mlir"}
    flows = Counter((e["id"], e["ph"]) for e in events if e["ph"] in ("s", "f"))
    assert flows and set(flows.values()) == {1}  # flow ids do not collide across processes


def test_run_with_a_vendor_profile_writes_both_timelines(tmp_path, capsys) -> None:
    program_file, profile = files("layernorm_1x3136x96__BF16__f32_io_cast")
    out = tmp_path / "out"
    assert main(["run", str(program_file), "--vendor-profile", str(profile), "--precision",
                 "int8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "bf16" in printed and "LayerNorm_19" in printed and "per command kind" in printed
    for name in (*VENDOR_FILES, "timeline.html", "trace.json", "summary.json"):
        assert (out / name).is_file(), name
    html = (out / "timeline.html").read_text()
    assert '"tpusim"' in html and '"tpu-mlir"' in html
    trace = json.loads((out / "trace.json").read_text())
    assert {e["pid"] for e in trace["traceEvents"]} == {1, 2}
    table = json.loads((out / "vendor_comparison.json").read_text())
    assert table["vendor_ns"] == 59084 and len(table["layers"]) == 7
    assert (out / "vendor_kinds.csv").read_text().startswith("engine,kind,")


def test_run_json_with_a_vendor_profile(capsys) -> None:
    program_file, profile = files("matmul_64x256x512__F16__stripped")
    assert main(["run", str(program_file), "--vendor-profile", str(profile), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["precision"] == "f16" and data["global_layers"] == 1 and data["groups"] == 0
    assert data["vendor"]["total_ms"] == 0.008082 and data["vendor"]["tiu_commands"] == 1


def _bad(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("which", ["mlir", "profile", "gz"])
def test_truncated_files_give_one_line_and_exit_2(tmp_path, capsys, which) -> None:
    program_file, profile = files("add_wt_1x3136x96__INT8__f32_io_cast")
    if which == "mlir":
        text = program_file.read_text()
        program_file = _bad(tmp_path, "cut_final.mlir", text[:len(text) // 2])
    elif which == "profile":
        text = profile.read_text()
        profile = _bad(tmp_path, "compiler_profile_0.txt", text[:len(text) // 2])
    else:
        program_file = tmp_path / "cut_final.mlir.gz"
        program_file.write_bytes(gzip.compress(b"module {")[:-6])
    assert main(["run", str(program_file), "--vendor-profile", str(profile)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tpusim: error: ") and err.count("\n") == 1, err


def test_vendor_profile_needs_a_compiled_program(capsys) -> None:
    _, profile = files("matmul_64x256x512__F16__stripped")
    assert main(["run", "swin-t", "--vendor-profile", str(profile)]) == 2
    assert "tpu-mlir compiled" in capsys.readouterr().err


def test_compare_refuses_a_compiled_program(capsys) -> None:
    program_file, _ = files("matmul_64x256x512__F16__stripped")
    assert main(["compare", str(program_file)]) == 2
    assert "already compiled" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["prog_final.mlir", "prog_final.MLIR", "prog_final.mlir.gz"])
def test_load_model_names_a_compiled_program_by_its_suffix(tmp_path, monkeypatch, name) -> None:
    """A bare file name counts as a file by its suffix, gzipped or in capitals too."""
    monkeypatch.chdir(tmp_path)
    Path(name).write_text("")
    with pytest.raises(ModelError, match="already compiled cannot be compiled again"):
        load_model(name)


def test_a_malformed_profile_line(chip) -> None:
    from tpusim.errors import ModelError

    with pytest.raises(ModelError, match=r"<text>:2: expected a TIU command"):
        parse_vendor_profile("ENGINE_BD ENGINE_GDMA\nCast_1|AR|s:0\n")


SWIN = {"F32": (40, 307), "F16": (44, 129), "BF16": (43, 129), "INT8": (51, 135)}


def swin_files(mode: str) -> tuple[Path, Path]:
    folder = SHARED / "swin_t" / mode
    return next(folder.glob("*_final.mlir.gz")), folder / "compiler_profile_0.txt.gz"


def test_swin_t_programs_import_and_simulate(chip) -> None:
    """The four whole Swin-T programs: the README's group and global-op counts."""
    for mode, (groups, global_ops) in SWIN.items():
        program = load_program(swin_files(mode)[0], chip)
        assert (len(program.groups), sum(layer.group < 0 for layer in program.layers)) == (
            groups, global_ops), mode
        assert program.precision == mode.lower()
        assert simulate(program, chip).total_ns > 0


@pytest.mark.slow
def test_swin_t_against_the_vendor_profiles(chip) -> None:
    """Every command of the vendor's profiles lands on a layer of the imported program."""
    for mode in SWIN:
        program_file, profile = swin_files(mode)
        program = load_program(program_file, chip)
        vendor = vendor_result(read_vendor_profile(profile), program, chip)
        assert vendor.program.layers == program.layers, mode
        comparison = compare_vendor(simulate(program, chip, "vendor"), vendor)
        assert comparison.total_ratio is not None and comparison.layers


def test_commands_compare_in_cycles_and_totals_in_time(chip) -> None:
    """At half the TIU clock tpusim's MM2 takes twice the time but as many cycles."""
    slow = chip.replace(tiu_mhz=chip.tiu_mhz / 2)
    program_file, profile = files("matmul_64x256x512__F16__stripped")
    program = load_program(program_file, slow)
    ours = simulate(program, slow, "vendor")
    c = compare_vendor(ours, vendor_result(read_vendor_profile(profile), program, slow))
    mm2 = next(k for k in c.kinds if k.kind == "MM2")
    assert mm2.ours.cycles == pytest.approx(1024) and c.ours_total == ours.total_ns
