"""The vendor profile reader against tpu-mlir's compiler_profile_0.txt files.

Expected values were read off the files by hand; the Swin-T command counts are the tpu-mlir
README's.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

from tpusim.errors import ModelError
from tpusim.frontend.mlir_model import MlirOp
from tpusim.frontend.mlir_text import read_final_mlir
from tpusim.profile.vendor import (
    DIRECTIONS,
    VendorProfile,
    parse_vendor_profile,
    read_vendor_profile,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "tpu-mlir"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="shared tpu-mlir/ folder absent")
FIXTURES = sorted(SHARED.glob("fixtures/*/compiler_profile_0.txt"))
MODES = ("F32", "F16", "BF16", "INT8")
ADD_WT = SHARED / "fixtures" / "add_wt_1x3136x96__INT8__f32_io_cast"


@pytest.fixture(scope="module")
def swin() -> dict[str, VendorProfile]:
    return {mode: read_vendor_profile(SHARED / "swin_t" / mode / "compiler_profile_0.txt.gz")
            for mode in MODES}


def test_add_wt_profile_line_by_line() -> None:
    profile = read_vendor_profile(ADD_WT / "compiler_profile_0.txt")
    assert (len(profile.tiu), len(profile.gdma)) == (7, 3)
    assert [c.layer for c in profile.gdma] == ["Load_14", "Load_15", "Store_19"]
    load = profile.gdma[0]
    assert (load.kind, load.start, load.end, load.cycles) == ("GDMA_TENSOR", 0, 22292, 22293)
    assert (load.direction, load.nbytes, load.bandwidth_gbps) == ("S2L", 1204224, 50.31)
    assert (load.cmd_id, load.dep, load.line) == (1, 0, 5)
    store = profile.gdma[2]
    assert (store.direction, store.cmd_id, store.dep) == ("L2S", 3, 7)
    assert [(c.layer, c.kind, c.cycles) for c in profile.tiu] == [
        ("Cast_16", "AR", 588), ("Cast_16", "AR", 588), ("Cast_16", "AR", 294),
        ("Add_17", "AR", 147), ("Add_17", "AR", 147), ("Add_17", "AR", 147),
        ("Cast_18", "RQDQ", 294)]
    add = profile.tiu[3]
    assert (add.start, add.bd_id, add.gdma_id, add.cmd_id, add.dep) == (37155, 4, 2, 4, 2)
    assert (add.layer_type, add.layer_id, add.direction, add.nbytes) == ("Add", 17, None, None)
    assert profile.total_cycles == 67276
    assert profile.gdma_bytes == {"S2L": 1505280, "L2S": 1204224, "S2S": 0, "L2L": 0}
    assert (profile.flops, profile.runtime_ms) == (301056, 0.067276)
    assert list(profile.by_layer()) == ["Load_14", "Cast_16", "Load_15", "Add_17", "Cast_18",
                                        "Store_19"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.parent.name)
def test_every_fixture_is_consistent(path: Path) -> None:
    profile = read_vendor_profile(path)
    check_consistent(profile)
    final = read_final_mlir(next(path.parent.glob("*_final.mlir")))
    check_layers_name_ops(profile, final.program_funcs()[0].vendor_layer_ids())


def test_permute_profile_has_no_runtime_line() -> None:
    profile = read_vendor_profile(
        SHARED / "fixtures" / "permute_win_1x8x7x8x7x96__F16__stripped" / "compiler_profile_0.txt")
    assert (len(profile.tiu), profile.gdma[0].direction, profile.runtime_ms) == (0, "S2S", None)


# (TIU commands, GDMA commands, total cycles) from the tpu-mlir README and the files' API_END.
SWIN = {"F32": (13657, 6804, 35031985), "F16": (10819, 612, 5166198),
        "BF16": (10828, 610, 5176947), "INT8": (16076, 592, 2962601)}


@pytest.mark.parametrize("mode", MODES)
def test_swin_t_counts(swin: dict[str, VendorProfile], mode: str) -> None:
    profile = swin[mode]
    assert (len(profile.tiu), len(profile.gdma), profile.total_cycles) == SWIN[mode]
    check_consistent(profile)


def test_swin_t_f16_command_mix(swin: dict[str, VendorProfile]) -> None:
    profile = swin["F16"]
    gdma = Counter(c.kind for c in profile.gdma)
    assert set(gdma) <= {"GDMA_TENSOR", "GDMA_MATRIX", "GDMA_BROADCAST", "GDMA_GATHER"}
    assert profile.gdma_bytes["S2S"] == 6474240
    assert Counter(c.layer_type for c in profile.gdma if c.direction == "S2S")["Permute"] > 0


@pytest.mark.parametrize("mode", MODES)
def test_swin_t_layers_name_ops_of_the_final_mlir(swin: dict[str, VendorProfile],
                                                  mode: str) -> None:
    final = read_final_mlir(next((SHARED / "swin_t" / mode).glob("*_final.mlir.gz")))
    check_layers_name_ops(swin[mode], final.program_funcs()[0].vendor_layer_ids())


def check_consistent(profile: VendorProfile) -> None:
    """Ids run 1..N on each engine, the byte summary adds up, nothing ends after the total."""
    for engine in (profile.tiu, profile.gdma):
        assert [c.cmd_id for c in engine] == list(range(1, len(engine) + 1))
        assert all(a.end < b.start for a, b in pairwise(engine))
    moved = Counter()
    for command in profile.gdma:
        moved[command.direction] += command.nbytes
    assert {d: moved[d] for d in DIRECTIONS} == profile.gdma_bytes
    assert max(c.end for c in profile.commands) + 1 == profile.total_cycles


def check_layers_name_ops(profile: VendorProfile, ops: dict[int, MlirOp]) -> None:
    for layer, commands in profile.by_layer().items():
        assert ops[commands[0].layer_id].kind == commands[0].layer_type, layer


# ---- malformed input ----------------------------------------------------------------------


def assert_one_line_error(text: str, source: str = "bad.txt") -> str:
    with pytest.raises(ModelError) as caught:
        parse_vendor_profile(text, source)
    message = str(caught.value)
    assert "\n" not in message and re.match(rf"{re.escape(source)}:\d+: expected ", message)
    return message


def test_every_truncation_is_an_error() -> None:
    text = (ADD_WT / "compiler_profile_0.txt").read_text()
    closing = text.index("#####")
    for cut in range(0, closing, 11):
        assert_one_line_error(text[:cut])
    parse_vendor_profile(text[:text.index("flops:")])  # the runtime line is optional


def test_truncated_swin_t(swin: dict[str, VendorProfile]) -> None:
    text = gzip.decompress((SHARED / "swin_t/F16/compiler_profile_0.txt.gz").read_bytes()).decode()
    message = assert_one_line_error(text[:len(text) // 2])
    assert "the end of the file" in message


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("s:22293|b:1|g:1", "s:22z93|b:1|g:1", "bad.txt:6: expected a TIU command"),
    ("sz:1204224|bw:50.31", "sz:12O4224|bw:50.31", "bad.txt:5: expected a GDMA command"),
    ("e:22880|t:588", "e:22880|t:589", "t = e - s + 1"),
    ("dr:1|sz:1204224", "dr:7|sz:1204224", "direction 0..3"),
    ("Cast_18|RQDQ|s:37596|b:7|g:2|e:37889|t:294", "", "bad.txt:15: expected 7 TIU commands"),
    ("|dr[2] S2S:0", "|dr[2] S2S:", "GDMA SUMMARY"),
    ("API_END total_cycle:67276", "API_END total_cycles:67276", "API_END"),
    ("ENGINE_BD", "ENGINE_TIU", "ENGINE_BD"),
    ("\n--------------------------------------\nAPI_END", "\nAPI_END", "a TIU command"),
    ("runtime: 0.067276ms", "runtime: 0.067276", "flops: N"),
])
def test_corrupted_input(old: str, new: str, expected: str) -> None:
    text = (ADD_WT / "compiler_profile_0.txt").read_text()
    assert old in text
    assert expected in assert_one_line_error(text.replace(old, new, 1))


def test_two_commands_in_one_column_is_an_error() -> None:
    text = (ADD_WT / "compiler_profile_0.txt").read_text()
    lines = text.splitlines()
    lines[5] = lines[5].split()[0] + " " + lines[5].split()[0] + " " + lines[5].split()[1]
    assert "at most one TIU" in assert_one_line_error("\n".join(lines))


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        read_vendor_profile(tmp_path / "compiler_profile_0.txt")
