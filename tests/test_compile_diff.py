"""`tpusim diff`: tpusim's compile of an ONNX file beside tpu-mlir's compile of the same file.

The matching rules are checked on hand-made rows; the whole command on ResNet-34 as tpu-mlir
compiled it (../shared/tpu-mlir/models)."""

import json
from pathlib import Path

import pytest

from tpusim.cli import main
from tpusim.ir import GraphBuilder, OpKind
from tpusim.profile.compile_diff import Row, Share, _segments, onnx_anchors

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = SHARED / "tpu-mlir" / "models"
needs_models = pytest.mark.skipif(not (MODELS / "resnet34").is_dir(),
                                  reason="tpu-mlir's compiles are not in ../shared/tpu-mlir")


def test_anchors_are_the_onnx_tensors_in_network_order():
    g = GraphBuilder("g")
    x = g.input("x", (1, 8))
    y = g.op(OpKind.RELU, [x], "relu")
    z = g.op(OpKind.MULCONST, [y], "scale", const=2.0)
    g.output(z)
    assert onnx_anchors(g.build()) == {"x": 0, y: 1, z: 2}


def _row(name, position, ours, vendor):
    return Row(name, position, (Share(layers=["l"], groups=set(ours)),
                                Share(layers=["l"], groups=set(vendor))))


def test_segments_end_where_no_group_of_either_side_is_open():
    """tpusim groups a-b and c-d; tpu-mlir groups b-c: no cut fits between a and d. e is a global
    layer on both sides: a segment of its own."""
    rows = [_row("a", 0, {0}, {-1}), _row("b", 1, {0}, {5}), _row("c", 2, {1}, {5}),
            _row("d", 3, {1}, {-1}), _row("e", 4, {-1}, {-1})]
    segments = _segments(rows, [r.anchor for r in rows])
    assert [(s.first, s.last, s.anchors) for s in segments] == [("a", "d", 4), ("e", "e", 1)]


@needs_models
def test_diff_of_resnet34_names_both_groupings(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["diff", str(SHARED / "silicon" / "resnet34.onnx"), "--vendor",
                 str(MODELS / "resnet34"), "--precision", "int8", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("resnet34 int8: tpusim ")
    assert "grouping: runs of layers no group crosses" in text
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["diff.txt", "diff_layers.csv", "diff_segments.csv", "diff_kinds.csv", "diff.json"])
    data = json.loads((out / "diff.json").read_text())
    ours, vendor = data["totals"]["total_ms"]["tpusim"], data["totals"]["total_ms"]["tpu-mlir"]
    assert vendor == pytest.approx(0.522332)  # tpu-mlir's own profile of its compile
    assert data["error"] == pytest.approx(ours / vendor - 1)
    assert data["totals"]["tiu_commands"]["tpu-mlir"] == 201  # models/summary.csv
    # every conv of the network is a row, fused with its ReLU on both sides
    convs = [r for r in data["layers"] if r["tpu_mlir_ops"].endswith("Conv2D")
             and r["tpusim_ops"] == "Conv2D"]
    assert len(convs) >= 30
    # the shares of the wall time add up to each side's total
    for side, key in (("tpusim", "tpusim_us"), ("tpu-mlir", "tpu_mlir_us")):
        total = data["totals"]["total_ms"][side] * 1e3
        assert sum(s[key] for s in data["segments"]) == pytest.approx(total, rel=1e-3)


@needs_models
def test_diff_refuses_a_mismatched_precision(capsys):
    folder = MODELS / "resnet34" / "F16"
    assert main(["diff", str(SHARED / "silicon" / "resnet34.onnx"), "--vendor", str(folder),
                 "--precision", "int8"]) == 2
    assert "compiled it in F16" in capsys.readouterr().err


def test_diff_needs_an_onnx_file(tmp_path, capsys):
    assert main(["diff", "swin-t", "--vendor", str(tmp_path)]) == 2
    assert "ONNX file" in capsys.readouterr().err
