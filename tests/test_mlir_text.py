"""The final.mlir reader against tpu-mlir's real outputs (the shared tpu-mlir/ folder).

Expected values were read off the files by hand; the Swin-T counts are the tpu-mlir README's.
"""

from __future__ import annotations

import gzip
import math
import re
from pathlib import Path

import pytest

from tpusim.errors import ModelError
from tpusim.frontend.mlir_model import MlirModule, OpaqueAttr, TensorType
from tpusim.frontend.mlir_text import parse_final_mlir, read_final_mlir

SHARED = Path(__file__).resolve().parents[2] / "shared" / "tpu-mlir"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="shared tpu-mlir/ folder absent")
FIXTURES = sorted(SHARED.glob("fixtures/*/*_final.mlir"))
MODES = ("F32", "F16", "BF16", "INT8")


def fixture(name: str) -> Path:
    return next(SHARED.glob(f"fixtures/{name}/*_final.mlir"))


@pytest.fixture(scope="module")
def add_wt() -> MlirModule:
    return read_final_mlir(fixture("add_wt_1x3136x96__INT8__f32_io_cast"))


@pytest.fixture(scope="module")
def swin() -> dict[str, MlirModule]:
    return {mode: read_final_mlir(next(SHARED.glob(f"swin_t/{mode}/*_final.mlir.gz")))
            for mode in MODES}


# ---- the add-with-weight fixture, field by field ------------------------------------------


def test_module_and_functions(add_wt: MlirModule) -> None:
    assert (add_wt.name, add_wt.chip, add_wt.mode) == ("add_wt_1x3136x96", "bm1684x", "INT8")
    assert add_wt.attrs["module.FLOPs"] == 301056
    assert add_wt.all_attrs()["module.neuron_addr"] == 4295270400
    assert [f.name for f in add_wt.all_funcs()] == ["main", "subfunc_0"]
    main = add_wt.func("main")
    assert [op.name for op in main.ops] == ["top.Input", "func.call", "func.return"]
    assert main.ops[1].attrs["callee"] == "subfunc_0"
    sub = add_wt.func("subfunc_0")
    assert sub.attrs["next_index"] == (-1,)
    assert sub.attrs["mode"] == OpaqueAttr("#tpu<run_mode TPU_STATIC>")
    assert sub.args[0].name == "%arg0" and sub.args[0].loc == ("input",)
    assert [op.name for op in sub.ops] == ["top.None", "top.Weight", "tpu.Group", "func.return"]
    assert sub.returned() == ("%2",) and sub.global_ops() == ()
    assert add_wt.program_funcs() == (sub,)


def test_group_attributes_and_roles(add_wt: MlirModule) -> None:
    (group,) = add_wt.func("subfunc_0").groups()
    attrs = group.attrs
    assert (attrs.nsecs, attrs.csecs, attrs.dsecs, attrs.hsecs, attrs.wsecs) == (1, 1, 1, 1, 1)
    assert attrs.flow == (-1, 2, 1, -2, 3, 5, -3, 4, 0)
    assert attrs.timesteps == ((2, 1), (3, 5), (4, 0))
    assert (attrs.swpipl_stage_num, attrs.group_type) == (3, 4)
    assert attrs.self_up_overlap_op == () and attrs.extra["support_compress"] is True
    assert [op.name for op in group.loads] == ["tpu.Load", "tpu.Load"]
    assert len(group.stores) == 1
    assert [op.kind for op in group.compute_ops] == ["Cast", "Add", "Cast"]
    by_role = [(op.kind, op.ginfo.id, op.ginfo.stage) for op in group.ops]
    assert by_role == [("Load", 0, 0), ("Load", 1, 1), ("Cast", 2, 1), ("Add", 3, 1),
                       ("Cast", 4, 1), ("Store", 5, 2)]
    assert [[op.kind for op in row] for row in group.timesteps()] == [
        ["Cast", "Load"], ["Add", "Store"], ["Cast", "Load"]]
    assert (group.inputs, group.outputs) == (("%arg0",), ("%2",))
    assert group.op.loc == ("add0_f32",)


def test_layer_group_info(add_wt: MlirModule) -> None:
    (group,) = add_wt.func("subfunc_0").groups()
    load, add = group.ops[0].ginfo, group.by_id()[3].ginfo
    assert (load.out_addr, load.out_size, load.buffer_size) == (32768, 18816, 0)
    assert (load.eu_align, load.can_merge, load.in_hslice_offset) == (True, False, ())
    assert (load.c_idx, load.c_slice, load.h_slice, load.group_type) == ((0,), (3136,), (96,), 4)
    assert (add.out_addr, add.buffer_addr, add.buffer_size) == (98304, 32768, 25088)
    assert add.slice_counts == (1, 1, 1, 1, 1) and add.extra == {}


def test_op_fields_and_types(add_wt: MlirModule) -> None:
    sub = add_wt.func("subfunc_0")
    weight = sub.ops[1]
    assert weight.attrs == {"allow_split": (1, 1, 1), "path": "tpu.Add.1"}
    assert weight.result_types == (TensorType((1, 3136, 96), "si8", 4294967296),)
    assert weight.result_types[0].nbytes == 301056  # the profile's Load_15 moves sz:301056
    (group,) = sub.groups()
    load_in, _, cast, add, cast_out, store = group.ops
    calibrated = load_in.operand_types[0]
    assert (calibrated.dtype, calibrated.address, calibrated.nbytes) == ("f32", 4295270400,
                                                                          1204224)
    assert calibrated.quant.startswith("!quant.calibrated<f32<")
    assert load_in.result_types[0].address is None  # in local memory
    uniform = cast.result_types[0]
    assert (uniform.dtype, uniform.quant) == ("si8", "!quant.uniform<i8:f32, 0.031496062992125984>")
    assert cast.attrs["round_mode"].value == "HalfAwayFromZero"
    assert add.operands == ("%5", "%4") and add.results == ("%6",)
    assert (add.attrs["multipliers"], add.attrs["rshifts"]) == ((1, 77), (1, 7))
    assert add.attrs["relu_limit"] == -1.0 and add.attrs["do_relu"] is False
    assert (add.loc, add.line) == (("add0",), 17)
    assert cast_out.result_types[0].dtype == "f32"
    assert store.operand_types[1].is_none and store.operand_types[1].nbytes == 0
    assert store.result_types[0].address == 4296474624


def test_vendor_layer_numbers(add_wt: MlirModule) -> None:
    ids = add_wt.func("subfunc_0").vendor_layer_ids()
    names = {n: ids[n].kind for n in range(14, 20)}
    assert names == {14: "Load", 15: "Load", 16: "Cast", 17: "Add", 18: "Cast", 19: "Store"}


# ---- every fixture --------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.parent.name)
def test_every_fixture_parses(path: Path) -> None:
    module = read_final_mlir(path)
    (func,) = module.program_funcs()
    expected_groups = 0 if path.parent.name.endswith("stripped") else 1
    assert len(func.groups()) == expected_groups
    assert len(func.global_ops()) == 1 - expected_groups
    assert module.mode == path.parent.name.split("__")[1]
    for group in func.groups():
        assert sorted(op.ginfo.id for op in group.ops) == sorted(
            i for row in group.attrs.timesteps for i in row)


def test_conv_group_sliced_along_h() -> None:
    (group,) = read_final_mlir(fixture("conv7x7s2_3x224x224_64__F16__f32_io_cast")
                               ).program_funcs()[0].groups()
    assert (group.attrs.hsecs, group.attrs.group_type) == (2, 0)
    assert group.attrs.timesteps == ((3, 1, 2), (4, 6), (5, 0))
    load, conv = group.ops[0].ginfo, group.by_id()[4]
    assert (load.h_idx, load.h_slice, load.slice_counts) == ((0, 109), (114, 115), (1, 1, 1, 2, 1))
    assert conv.ginfo.h_slice == (56, 56)
    assert (conv.attrs["kernel_shape"], conv.attrs["strides"]) == ((7, 7), (2, 2))
    assert [t.dtype for t in conv.operand_types] == ["f16", "f16", "f32"]


def test_global_permute_and_small_c_softmax() -> None:
    (func,) = read_final_mlir(fixture("permute_win_1x8x7x8x7x96__F16__stripped")).program_funcs()
    (permute,) = func.global_ops()
    assert permute.attrs["order"] == (0, 1, 3, 2, 4, 5)
    assert permute.result_types[0].shape == (1, 8, 8, 7, 7, 96)
    assert func.buffers()[0].attrs["buffer_type"].value == "GMEM"
    (group,) = read_final_mlir(fixture("softmax_64x3x49x49__INT8__f32_io_cast")
                               ).program_funcs()[0].groups()
    softmax = group.compute_ops[1]
    assert (group.attrs.group_type, softmax.ginfo.n_slice, softmax.ginfo.c_slice) == (
        2, (147,), (64,))
    assert softmax.attrs["axis"] == 3
    assert softmax.result_types[0].dtype == "f16"  # !quant.calibrated<f16<0:1>>


# ---- Swin-T, compiled whole ---------------------------------------------------------------

# (layer groups, global ops) from the tpu-mlir README; loads and stores counted in the files.
SWIN = {"F32": (40, 307, 107, 58), "F16": (44, 129, 199, 52), "BF16": (43, 129, 198, 51),
        "INT8": (51, 135, 238, 70)}


@pytest.mark.parametrize("mode", MODES)
def test_swin_structure(swin: dict[str, MlirModule], mode: str) -> None:
    module = swin[mode]
    (func,) = module.program_funcs()
    groups = func.groups()
    counts = (len(groups), len(func.global_ops()), sum(len(g.loads) for g in groups),
              sum(len(g.stores) for g in groups))
    assert counts == SWIN[mode]
    assert module.mode == mode and module.chip == "bm1684x"
    assert {g.attrs.swpipl_stage_num for g in groups} == {3}
    assert all(g.attrs.nsecs == g.attrs.csecs == g.attrs.dsecs == 1 for g in groups)
    assert len(func.weights()) == (233 if mode == "INT8" else 222)


def test_swin_slicing_and_multi_output_groups(swin: dict[str, MlirModule]) -> None:
    f16 = swin["F16"].program_funcs()[0]
    secs = sorted((g.attrs.hsecs, g.attrs.wsecs) for g in f16.groups())
    assert secs.count((1, 3)) == 10 and secs.count((2, 1)) == 1
    sliced = next(g for g in f16.groups() if g.attrs.wsecs == 3)
    assert sliced.ops[0].ginfo.w_idx == (0, 128, 256)
    two_out = next(g for g in f16.groups() if len(g.outputs) == 2)
    assert two_out.outputs == ("%9#0", "%9#1") and len(two_out.op.result_types) == 2
    f32 = swin["F32"].program_funcs()[0]
    fused = [g.op for g in f32.groups() if len(g.op.loc) == 2]
    assert fused[0].loc == ("layer_norm_LayerNormalization", "layer_norm_1_LayerNormalization")
    consumers = [op for op in f16.ops if "%9#1" in op.operands]
    assert consumers and all(name in f16.defining_ops() for name in consumers[0].operands)


# ---- malformed input ----------------------------------------------------------------------


def assert_one_line_error(text: str, source: str = "bad.mlir") -> str:
    with pytest.raises(ModelError) as caught:
        parse_final_mlir(text, source)
    message = str(caught.value)
    assert "\n" not in message and re.match(rf"{re.escape(source)}:\d+: expected ", message)
    return message


def test_every_truncation_is_an_error() -> None:
    text = fixture("add_wt_1x3136x96__INT8__f32_io_cast").read_text().rstrip()
    for cut in range(0, len(text), 17):
        assert_one_line_error(text[:cut])


def test_truncated_swin_t() -> None:
    text = gzip.decompress(next(SHARED.glob("swin_t/F16/*_final.mlir.gz")).read_bytes()).decode()
    message = assert_one_line_error(text[:len(text) // 2])
    assert "the end of the file" in message
    assert "#loc" in assert_one_line_error(text[:text.index("#loc2 =")])


@pytest.mark.parametrize("closer", ["}", ")", "]", ">"])
def test_every_deleted_closing_bracket_is_an_error(closer: str) -> None:
    text = fixture("conv7x7s2_3x224x224_64__F16__f32_io_cast").read_text()
    positions = [i for i, c in enumerate(text) if c == closer]
    assert positions
    for i in positions:
        assert_one_line_error(text[:i] + text[i + 1:])


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("nsecs = 1 : i64", "nsecs = 1x : i64", "expected ','"),
    ("out_size = 18816", "out_size = 18a16", ""),
    ("tensor<1x3136x96xsi8, 4294967296", "tensor<1x31z6x96xsi8, 4294967296", "element type"),
    ("flow = [-1, 2, 1,", "flow = [-1, 2, 7,", "flow lists every op"),
    ("swpipl_stage_num = 3 : i64", "swpipl_stage_num = 3.0 : i64", "an integer"),
    ("hsecs = 1 : i64, ", "", "field 'hsecs'"),
    (", stage = 2,", ",", "field 'stage'"),
    ("h_slice = [96], w_idx = [0], w_slice = [1], id = 5",
     "h_slice = [96, 1], w_idx = [0], w_slice = [1], id = 5", "as many h_idx"),
    ("(%7, %0) {ginfo", "(%7) {ginfo", "1 operand type(s)"),
    ('#loc7 = loc("add0")', '#loc8 = loc("add0")', "#loc7"),
    ("%0 = \"top.None\"() : () -> none", "%0 = top.None() : () -> none", "an operation"),
    ("-> none loc(#loc)", "-> memref<4xf32> loc(#loc)", "a type"),
])
def test_corrupted_input(old: str, new: str, expected: str) -> None:
    text = fixture("add_wt_1x3136x96__INT8__f32_io_cast").read_text()
    assert old in text
    assert expected in assert_one_line_error(text.replace(old, new, 1))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        read_final_mlir(tmp_path / "missing_final.mlir")
    packed = gzip.compress(fixture("add_wt_1x3136x96__INT8__f32_io_cast").read_bytes())
    (tmp_path / "cut_final.mlir.gz").write_bytes(packed[:len(packed) // 2])
    with pytest.raises(ModelError, match="cannot read"):
        read_final_mlir(tmp_path / "cut_final.mlir.gz")


# ---- syntax the fixtures do not use, in a hand-written module ------------------------------

SYNTHETIC = r'''
#map = affine_map<(d0) -> (d0 + 1)>
#name = loc("outer"(#loc9))
module {
  module @inner attributes {module.chip = "bm1684x"} {
    func.func private @f(%arg0: tensor<2x?xi16> {tpu.flag}, %arg1: tensor<4xui8> loc(#name))
        -> (tensor<4x!quant.uniform<i8<-127:127>:f32, 5.000000e-01>, 16 : i64> {r = 1}, none) {
      %a, %b = "tpu.Two"(%arg0) <{prop = 3 : i64}> ({
        "tpu.Yield"() : () -> () loc("y.mlir":3:7)
      }, {
      }) {d = dense<[1.5, -2.0]> : tensor<2xf32>, e = array<i32>, h = 0x7FC00000 : f32,
          i = 0xFF80 : bf16, m = #map, s = "a\"b\0A", u, n = {x = [true, 1, 2.5E-1, @f]}, t = si16}
          : (tensor<2x?xi16>) -> (tensor<3xsi16>, tensor<f32>) loc(fused<"meta">[#loc9, "b"])
      "tpu.Sink"(%a) : (tensor<3xsi16>) -> () loc(callsite("c" at "d"))
      return %b, %arg1 : tensor<f32>, tensor<4xui8> loc(unknown)
    } loc(#name)
  }
}
#loc9 = loc("nine")
'''


def test_syntax_beyond_the_fixtures() -> None:
    module = parse_final_mlir(SYNTHETIC, "synthetic.mlir")
    assert (module.name, module.modules[0].name, module.chip) == ("", "inner", "bm1684x")
    (func,) = module.all_funcs()
    assert func.loc == ("outer",) and func.args[1].loc == ("outer",)
    assert [str(a.type) for a in func.args] == ["2x?xi16", "4xui8"]
    assert func.args[1].type.nbytes == 4
    quant = func.result_types[0]
    assert (quant.dtype, quant.address, quant.nbytes) == ("si8", 16, 4)
    two, sink, ret = func.ops
    assert two.results == ("%a", "%b") and len(two.regions) == 2 and two.regions[1] == ()
    assert two.body[0].loc == ("y.mlir:3:7",)
    assert two.loc == ("nine", "b") and sink.loc == ("c",)
    attrs = two.attrs
    assert attrs["i"] == -math.inf and attrs["prop"] == 3
    assert attrs["u"] is True and attrs["e"] == ()
    assert attrs["d"].text == "dense<[1.5, -2.0]> : tensor<2xf32>"
    assert attrs["m"].text == "affine_map<(d0) -> (d0 + 1)>"
    assert math.isnan(attrs["h"]) and attrs["s"] == 'a"b\n'
    assert attrs["n"]["x"] == (True, 1, 0.25, OpaqueAttr("@f"))
    assert attrs["t"] == TensorType((), "si16") and two.result_types[1].shape == ()
    assert ret.operands == ("%b", "%arg1") and func.returned() == ("%b", "%arg1")


def test_undefined_attribute_alias_and_loc_cycle() -> None:
    assert "#map" in assert_one_line_error(SYNTHETIC.replace("#map = ", "#other = "))
    cyclic = SYNTHETIC.replace('#loc9 = loc("nine")', '#loc9 = loc(fused["x", #loc9])')
    assert "refer to itself" in assert_one_line_error(cyclic)
