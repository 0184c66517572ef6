"""Programs compiled by tpu-mlir, imported as compiled: the groups, slices, timestep rows and
stages tpusim executes are the ones the final.mlir says; nothing is regrouped.

Shapes and counts below were read off the fixture files by hand.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import pytest

from tpusim.api import load_program, simulate
from tpusim.errors import ModelError
from tpusim.frontend.mlir_text import read_final_mlir
from tpusim.frontend.onnx_import import UnknownOperatorWarning
from tpusim.group.plan import GroupType
from tpusim.ir.dtypes import DType
from tpusim.ir.ops import OpKind
from tpusim.sim.invariants import violations

SHARED = Path(__file__).resolve().parents[2] / "shared" / "tpu-mlir"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="shared tpu-mlir/ folder absent")
FIXTURES = sorted(p.name for p in SHARED.glob("fixtures/*")) if SHARED.is_dir() else []


def mlir(case: str) -> Path:
    return next((SHARED / "fixtures" / case).glob("*_final.mlir"))


@pytest.mark.parametrize("case", FIXTURES)
def test_every_fixture_imports_and_simulates(case: str, chip) -> None:
    result = simulate(load_program(mlir(case), chip), chip)
    assert result.total_ns > 0 and not violations(result)


@pytest.mark.parametrize("case", FIXTURES)
def test_groups_are_the_files(case: str, chip) -> None:
    """Group count, secs, slice count, and each timestep row's ops with their stages."""
    func = read_final_mlir(mlir(case)).program_funcs()[0]
    program = load_program(mlir(case), chip)
    assert len(program.groups) == len(func.groups())
    assert sum(layer.group < 0 for layer in program.layers) == len(func.global_ops())
    for plan, group in zip(program.groups, func.groups()):
        a = group.attrs
        assert (plan.secs.n, plan.secs.c, plan.secs.d, plan.secs.h, plan.secs.w) == (
            a.nsecs, a.csecs, a.dsecs, a.hsecs, a.wsecs)
        assert len(plan.slices) == a.loop_count
        assert len(plan.rows) == len(a.timesteps)
        assert [op.name for op in plan.ops] == [
            program.layers[i].name for i, layer in enumerate(program.layers)
            if layer.group == plan.index and layer.kind not in ("Load", "Store")]
        for row, ops in zip(plan.rows, group.timesteps()):
            ours = Counter((program.layers[i].kind, stage) for i, stage in (
                [(_layer(program, plan.ops[c.op].name), c.stage) for c in row.computes]
                + [(_layer(program, t.layer), t.stage) for t in row.transfers]))
            theirs = Counter((op.kind, op.ginfo.stage) for op in ops)
            assert ours == theirs


def _layer(program, name: str) -> int:
    return next(i for i, layer in enumerate(program.layers) if layer.name == name)


def test_conv_group_slices_with_halos(chip) -> None:
    """conv7x7 stride 2 on 224x224 in two h slices: the input slices overlap (114 and 115
    rows), the output splits 56 + 56; weights are held, loaded once; the input twice."""
    program = load_program(mlir("conv7x7s2_3x224x224_64__F16__f32_io_cast"), chip)
    (plan,) = program.groups
    assert plan.type is GroupType.NORMAL and str(plan.secs) == "n1 c1 h2"
    first, second = plan.slices
    assert first["load_0"] == (1, 3, 114, 224) and second["load_0"] == (1, 3, 115, 224)
    assert first["conv0"] == second["conv0"] == (1, 64, 56, 112)
    assert set(plan.held) == {"load_conv0_filter_reorderd", "load_b0"}
    gdma = Counter(program.layers[c.layer].name for c in program.gdma)
    assert gdma == {"load_0": 2, "load_conv0_filter_reorderd": 1, "load_b0": 1,
                    "store_conv0_f32": 2}
    conv = next(op for op in plan.ops if op.kind is OpKind.CONV2D)
    # the file stores the weight as 1x64x1x224; the op reads it as [OC, IC, KH, KW]
    assert program.graph.tensors[conv.inputs[1]].shape == (64, 3, 7, 7)
    assert conv.attrs["strides"] == (2, 2) and conv.attrs["pads"] == (3, 3, 3, 3)


def test_small_c_group_uses_its_local_layout(chip) -> None:
    """A SMALL_C group lays 64x3x49x49 out as n=147, c=64, h=49: the softmax reduces the last
    axis of that layout."""
    program = load_program(mlir("softmax_64x3x49x49__INT8__f32_io_cast"), chip)
    (plan,) = program.groups
    assert plan.type is GroupType.SMALL_C
    softmax = next(op for op in plan.ops if op.kind is OpKind.SOFTMAX)
    assert plan.slices[0][softmax.outputs[0]] == (147, 64, 49)
    assert softmax.attrs["axis"] == 2


def test_dtypes_come_from_the_file(chip) -> None:
    """INT8 add with a weight, between casts from and to f32, whatever --precision says."""
    program = load_program(mlir("add_wt_1x3136x96__INT8__f32_io_cast"), chip)
    tensors = program.graph.tensors
    (plan,) = program.groups
    kinds = [(op.kind, tensors[op.outputs[0]].dtype) for op in plan.ops]
    assert kinds == [(OpKind.CAST, DType.INT8), (OpKind.ADD, DType.INT8),
                     (OpKind.CAST, DType.F32)]
    assert plan.type is GroupType.MM and plan.slices[0]["add0"] == (1, 3136, 96)
    assert program.precision == "int8"


def test_layers_carry_the_profiles_numbers(chip) -> None:
    program = load_program(mlir("add_wt_1x3136x96__INT8__f32_io_cast"), chip)
    named = {n: (program.layers[i].kind, program.layers[i].name)
             for n, i in program.vendor_layers.items()}
    assert named == {14: ("Load", "load_0"), 15: ("Load", "load_c0_i8"),
                     16: ("Cast", "inputadd0_si8"), 17: ("Add", "add0"),
                     18: ("Cast", "add0_f32"), 19: ("Store", "store_add0_f32")}


def test_global_ops_run_through_the_kernels(chip) -> None:
    program = load_program(mlir("conv3x3s1_64x56x56_64__F32__stripped"), chip)
    assert not program.groups
    (layer,) = program.layers
    assert (layer.name, layer.kind, layer.group) == ("conv0", "Conv2D", -1)
    assert [c.kind for c in program.tiu] == ["CONV"] and len(program.gdma) == 4
    assert program.graph.tensors[program.graph.ops[0].inputs[1]].shape == (64, 64, 3, 3)


def _edited(tmp_path: Path, case: str, old: str, new: str) -> Path:
    text = mlir(case).read_text()
    assert old in text
    path = tmp_path / "edited_final.mlir"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("case, old, new", [
    ("matmul_64x256x512__F16__stripped", '"tpu.MatMul"', '"tpu.Frobnicate"'),  # global
    ("add_wt_1x3136x96__INT8__f32_io_cast", '"tpu.Add"', '"tpu.Frobnicate"'),  # in a group
])
def test_unknown_operators_fall_back_with_a_warning(tmp_path, chip, case, old, new) -> None:
    path = _edited(tmp_path, case, old, new)
    with pytest.warns(UnknownOperatorWarning, match=r"tpu\.Frobnicate"):
        program = load_program(path, chip)
    op = next(op for op in program.graph.ops if op.kind is OpKind.OPAQUE)
    assert op.attrs["op_type"] == "tpu.Frobnicate"
    assert any(program.layers[c.layer].kind == "Frobnicate" for c in program.tiu)
    assert simulate(program, chip).total_ns > 0


def test_known_files_raise_no_warning(chip) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for case in FIXTURES:
            load_program(mlir(case), chip)


def test_a_file_for_another_chip_is_an_error(tmp_path, chip) -> None:
    path = _edited(tmp_path, "matmul_64x256x512__F16__stripped", 'module.chip = "bm1684x"',
                   'module.chip = "bm1688"')
    with pytest.raises(ModelError, match="compiled for chip bm1688, but the chip profile is "
                                         "bm1684x"):
        load_program(path, chip)


def test_gzipped_files_and_missing_files(tmp_path, chip) -> None:
    import gzip

    path = tmp_path / "prog_final.mlir.gz"
    path.write_bytes(gzip.compress(mlir("matmul_64x256x512__F16__stripped").read_bytes()))
    assert len(load_program(path, chip).tiu) == 1
    with pytest.raises(ModelError, match="model file not found"):
        load_program(tmp_path / "nothing_final.mlir", chip)


def test_small_c_weights_keep_their_layout(chip) -> None:
    """Swin-T F16's first MLP MatMul runs in a SMALL_C group: the 96x384 weight is laid out as
    c=96, h=384, so it loads as 96 rows of 384 halves (not as 36864 two-byte rows)."""
    path = next((SHARED / "swin_t" / "F16").glob("*_final.mlir.gz"))
    program = load_program(path, chip)
    plan = next(p for p in program.groups if p.type is GroupType.SMALL_C
                and any(op.kind is OpKind.MATMUL for op in p.ops))
    matmul = next(op for op in plan.ops if op.kind is OpKind.MATMUL)
    weight = matmul.inputs[1]
    assert program.graph.tensors[weight].shape == plan.slices[0][weight] == (1, 96, 384)
    (load,) = [c for c in program.gdma if c.tensor == weight]
    assert (load.work.rows, load.work.row_bytes) == (96, 768)
    assert plan.slices[0][matmul.inputs[0]] == (49, 64, 96)
