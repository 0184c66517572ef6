"""The shared torchvision exports (weights stripped): Swin-T against the built-in, ResNet-18."""

from pathlib import Path

import pytest

import tpusim
from tpusim.frontend.onnx_import import load_onnx
from tpusim.ir import OpKind, TensorKind, macs, params

pytest.importorskip("onnx")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "onnx"
pytestmark = pytest.mark.skipif(not (SHARED / "swin_t.onnx").is_file(),
                                reason=f"the shared ONNX exports are not in {SHARED}")


@pytest.fixture(scope="module")
def swin():
    return load_onnx(SHARED / "swin_t.onnx")


@pytest.fixture(scope="module")
def builtin():
    return tpusim.build_model("swin-t")


def _signature(g):
    return [(op.kind, tuple(g.tensors[t].shape for t in op.inputs),
             tuple(g.tensors[t].kind for t in op.inputs),
             tuple(g.tensors[t].shape for t in op.outputs)) for op in g.ops]


def test_swin_matches_the_builtin_op_for_op(swin, builtin):
    assert swin.kind_counts() == builtin.kind_counts()
    assert macs(swin) == macs(builtin) == 4_490_566_656
    assert params(swin) == params(builtin)
    # same kinds, operand shapes and weight/constant kinds in the same order
    assert _signature(swin) == _signature(builtin)


def test_swin_folds_bias_tables_and_masks_into_constants(swin):
    """The exporter computes them in the graph (ConstantOfShape, ScatterND, Where, Gather on a
    table, ...); imported, they are constant operands of the attention Adds."""
    operands = [(swin.tensors[op.inputs[0]], swin.tensors[op.inputs[1]]) for op in swin.ops
                if op.kind is OpKind.ADD and swin.tensors[op.inputs[1]].is_constant]
    masks = {c.shape for x, c in operands if len(x.shape) == 5}
    biases = {c.shape for x, c in operands if len(x.shape) == 4}
    assert masks == {(1, nw, 1, 49, 49) for nw in (64, 16, 4)}
    assert biases == {(1, heads, 49, 49) for heads in (3, 6, 12, 24)}
    assert all(c.kind is TensorKind.CONST for _, c in operands)


def test_swin_batch_override_matches_the_builtin():
    two = load_onnx(SHARED / "swin_t.onnx", batch=2)
    assert _signature(two) == _signature(tpusim.build_model("swin-t", 2))


def test_resnet18_imports():
    g = load_onnx(SHARED / "resnet18.onnx")
    assert g.kind_counts() == {"Add": 8, "AvgPool": 1, "Conv2D": 20, "MatMul": 1, "MaxPool": 1,
                               "Reshape": 1}
    # its 17 ReLUs fold into the ops before them: the stem and 8 first convs of the blocks,
    # and the 8 residual Adds (tpu-mlir's do_relu)
    fused = [op.kind.value for op in g.ops if op.attr("do_relu")]
    assert sorted(fused) == ["Add"] * 8 + ["Conv2D"] * 9
    assert macs(g) == 1_814_073_344  # 1.8 GMAC, as published
    assert params(g) == 11_689_512 - 4_800  # torchvision's count less the folded BN scales
    assert g.tensors[g.outputs[0]].shape == (1, 1000)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["f16", "int8"])
def test_swin_simulates_within_2_percent_of_the_builtin(swin, builtin, chip, precision):
    imported = tpusim.simulate(tpusim.compile(swin, chip, precision), chip).total_ms
    reference = tpusim.simulate(tpusim.compile(builtin, chip, precision), chip).total_ms
    assert imported == pytest.approx(reference, rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["swin_t", "resnet18"])
@pytest.mark.parametrize("precision", ["f32", "f16", "int8"])
def test_files_simulate(chip, name, precision):
    g = load_onnx(SHARED / f"{name}.onnx")
    assert tpusim.simulate(tpusim.compile(g, chip, precision), chip).total_ms > 0
