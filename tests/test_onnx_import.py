"""ONNX import: data movement, constant and shape folding, unknown operators, bad files,
batch override. Every model is imported with and without value_info (`imported`)."""

import warnings

import numpy as np
import pytest
from onnx_models import TensorProto, X, const, imported, model, node, shape, single, weight

from tpusim.errors import ModelError, UnsupportedOperatorError
from tpusim.frontend.onnx_import import UnknownOperatorWarning, import_onnx, load_onnx
from tpusim.ir import OpKind, TensorKind, macs

# ---- data movement ----------------------------------------------------------------------------


def test_concat_split_slice():
    i64 = np.int64
    nodes = [node("Split", ["x", "parts"], ["a", "b"], axis=1),
             node("Concat", ["b", "a"], "c", axis=1),
             node("Slice", ["c", "st", "en", "ax", "stp"], "y")]
    inits = [const("parts", np.array([3, 5], i64)), const("st", np.array([-14, 0], i64)),
             const("en", np.array([2**62, 8], i64)), const("ax", np.array([2, 1], i64)),
             const("stp", np.array([2, 1], i64))]
    g = imported(model(nodes, X, {"y": None}, inits))
    assert (shape(g, "a"), shape(g, "b"), shape(g, "c")) == \
        ((1, 3, 15, 15), (1, 5, 15, 15), (1, 8, 15, 15))
    sl = g.ops[-1]
    assert shape(g, "y") == (1, 8, 7, 15)  # rows 1, 3, ..., 13
    assert (sl.attrs["starts"], sl.attrs["ends"], sl.attrs["steps"]) == \
        ((0, 0, 1, 0), (1, 8, 15, 15), (1, 1, 2, 1))


def test_split_into_equal_parts():
    g = imported(model([node("Split", ["x"], ["a", "b"], axis=1)], X, {"a": None, "b": None}))
    assert shape(g, "a") == shape(g, "b") == (1, 4, 15, 15)


@pytest.mark.parametrize("indices, kinds, out", [
    (np.array(2, np.int64), ["Slice", "Squeeze"], (1, 15, 15)),  # one index: Slice+Squeeze
    (np.array([2, 3, 4], np.int64), ["Slice"], (1, 3, 15, 15)),  # a contiguous range
    (np.array([5, 1], np.int64), ["Gather"], (1, 2, 15, 15)),  # anything else
    (np.arange(8, dtype=np.int64), [], (1, 8, 15, 15)),  # every index in order: nothing
])
def test_gather_with_constant_indices(indices, kinds, out):
    g = imported(model([node("Gather", ["x", "i"], "y", axis=1), node("Relu", ["y"], "z")], X,
                       {"z": None}, [const("i", indices)]))
    assert [op.kind.value for op in g.ops[:-1]] == kinds
    assert shape(g, g.ops[-1].inputs[0]) == out


def test_reshape_flatten_transpose_squeeze_unsqueeze_expand():
    i64 = np.int64
    nodes = [node("Reshape", ["x", "t"], "r"), node("Transpose", ["r"], "p", perm=[0, 2, 1]),
             node("Unsqueeze", ["p", "u"], "q"), node("Squeeze", ["q", "u"], "s"),
             node("Flatten", ["s"], "f", axis=2), node("Expand", ["f", "e"], "y")]
    inits = [const("t", np.array([0, -1, 15], i64)), const("u", np.array([0], i64)),
             const("e", np.array([3, 1, 1, 1], i64))]
    g = imported(model(nodes, X, {"y": None}, inits))
    assert [shape(g, t) for t in "rpqsfy"] == [(1, 120, 15), (1, 15, 120), (1, 1, 15, 120),
                                              (1, 15, 120), (15, 120), (3, 1, 15, 120)]
    assert g.kind_counts() == {"Expand": 1, "Permute": 1, "Reshape": 2, "Squeeze": 1,
                               "Unsqueeze": 1}


def test_pad_zero_is_removed_and_real_padding_kept():
    i64 = np.int64
    nodes = [node("Pad", ["x", "zero"], "p"), node("Pad", ["p", "pads"], "y", mode="reflect")]
    g = imported(model(nodes, X, {"y": None}, [const("zero", np.zeros(8, i64)),
                                               const("pads", np.array([0, 0, 1, 2, 0, 0, 3, 4],
                                                                      i64))]))
    pad = single(g, OpKind.PAD)
    assert pad.inputs == ("x",) and shape(g, "y") == (1, 8, 19, 21)


def test_scatternd_with_static_shapes():
    g = imported(model([node("ScatterND", ["x", "idx", "upd"], "y")], {"x": [4, 6], "upd": [2, 6]},
                       {"y": None}, [const("idx", np.array([[0], [2]], np.int64))]))
    assert single(g, OpKind.SCATTERND).inputs == ("x", "idx", "upd")
    assert shape(g, "y") == (4, 6)


def test_identity_dropout_and_noop_cast_disappear():
    nodes = [node("Identity", ["x"], "a"), node("Dropout", ["a"], "b"),
             node("Cast", ["b"], "c", to=TensorProto.FLOAT), node("Relu", ["c"], "d"),
             node("Cast", ["d"], "y", to=TensorProto.INT32)]
    g = imported(model(nodes, X, {"y": None}))
    assert [(op.kind, op.inputs) for op in g.ops] == [(OpKind.RELU, ("x",)),
                                                      (OpKind.CAST, ("d",))]


def test_shape_arithmetic_folds_into_static_attributes():
    i64 = np.int64
    nodes = [node("Shape", ["x"], "sh"), node("Gather", ["sh", "zero"], "n"),
             node("Unsqueeze", ["n", "ax0"], "n1"), node("Mul", ["n1", "c120"], "k"),
             node("Concat", ["n1", "k", "minus1"], "target", axis=0),
             node("Reshape", ["x", "target"], "y"),
             node("Constant", [], "cst", value=const("v", np.array([2.0], np.float32))),
             node("Mul", ["y", "cst"], "z")]
    inits = [const("zero", np.array(0, i64)), const("ax0", np.array([0], i64)),
             const("c120", np.array([15], i64)), const("minus1", np.array([-1], i64))]
    g = imported(model(nodes, X, {"z": None}, inits))
    assert [op.kind for op in g.ops] == [OpKind.RESHAPE, OpKind.MULCONST]
    assert g.ops[0].attrs["shape"] == (1, 15, 120) and g.ops[1].attrs["const"] == 2.0


def test_constant_chains_fold_into_one_constant_of_the_final_shape():
    """Swin's shift mask: ConstantOfShape -> ScatterND -> ... -> Equal/Where -> Unsqueeze."""
    i64 = np.int64
    nodes = [node("ConstantOfShape", ["sz"], "zeros"),
             node("ScatterND", ["zeros", "rows", "upd"], "img"),
             node("Reshape", ["img", "win"], "w"),
             node("Unsqueeze", ["w", "a1"], "w1"), node("Unsqueeze", ["w", "a2"], "w2"),
             node("Sub", ["w1", "w2"], "diff"), node("Equal", ["diff", "zf"], "eq"),
             node("Not", ["eq"], "ne"), node("Where", ["ne", "big", "diff"], "m1"),
             node("Where", ["eq", "zf", "m1"], "mask"), node("Unsqueeze", ["mask", "a0"], "m"),
             node("Add", ["x", "m"], "y")]
    inits = [const("sz", np.array([56, 56], i64)), const("rows", np.arange(49)[:, None]),
             weight("upd", [49, 56]), const("win", np.array([64, 49], i64)),
             const("a1", np.array([1], i64)), const("a2", np.array([2], i64)),
             const("zf", 0.0), const("big", -100.0), const("a0", np.array([0, 2], i64))]
    g = imported(model(nodes, {"x": [1, 64, 3, 49, 49]}, {"y": None}, inits))
    add = single(g, OpKind.ADD)
    assert g.kind_counts() == {"Add": 1}
    mask = g.tensors[add.inputs[1]]
    assert mask.shape == (1, 64, 1, 49, 49) and mask.kind is TensorKind.CONST


# ---- unknown operators, bad files, batch ------------------------------------------------------


def _unknown_model(**kw):
    return model([node("Relu", ["x"], "r"), node("Celu", ["r"], "c", name="my_celu"),
                  node("Relu", ["c"], "y")], X, {"y": None}, **kw)


def test_unknown_operator_names_type_and_node():
    with pytest.raises(UnsupportedOperatorError, match=r"node 'my_celu' \(Celu\): operator "
                       "Celu is not supported") as err:
        load_onnx(_unknown_model(infer=True))
    assert "\n" not in str(err.value)


def test_unknown_operator_fallback_imports_warns_and_simulates(chip):
    import tpusim

    with pytest.warns(UnknownOperatorWarning, match=r"my_celu \(Celu\)"):
        g = load_onnx(_unknown_model(infer=True), unknown_ops="fallback")
    op = single(g, OpKind.OPAQUE)
    assert op.attrs["op_type"] == "Celu" and shape(g, "c") == (1, 8, 15, 15)
    result = tpusim.simulate(tpusim.compile(g, chip, "f16"), chip)
    assert result.total_ms > 0


def test_unknown_operator_without_shapes_cannot_fall_back():
    frob = node("Frob", ["x"], "c", domain="com.example")
    m = model([frob, node("Relu", ["c"], "y")], X, {"y": None})
    with pytest.raises(UnsupportedOperatorError, match=r"\(com\.example\.Frob\): operator "
                       "com.example.Frob is not supported, and the file gives no static shape "
                       "for its output 'c'"):
        load_onnx(m, unknown_ops="fallback")


def test_shape_preserving_unknown_operators_fall_back_without_value_info():
    with pytest.warns(UnknownOperatorWarning):
        g = load_onnx(_unknown_model(), unknown_ops="fallback")
    assert shape(g, "c") == (1, 8, 15, 15)


def test_unknown_operator_on_constants_folds_away():
    m = model([node("Celu", ["t"], "c"), node("Add", ["x", "c"], "y")], X, {"y": None},
              [weight("t", [8, 1, 1])], infer=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = load_onnx(m)
    assert g.kind_counts() == {"Add": 1}


@pytest.mark.parametrize("content", [b"", b"hello, not a model\n", bytes(range(256)) * 20])
def test_non_onnx_files_give_one_line(tmp_path, content):
    path = tmp_path / "m.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=r"m\.onnx: not a") as err:
        load_onnx(path)
    assert "\n" not in str(err.value)


def test_truncated_files_give_one_line(tmp_path):
    data = _unknown_model().SerializeToString()
    for cut in range(1, len(data), 7):
        path = tmp_path / "cut.onnx"
        path.write_bytes(data[:cut])
        with pytest.raises(ModelError) as err:
            load_onnx(path)
        assert "cut.onnx" in str(err.value) and "\n" not in str(err.value)


def test_missing_onnx_package(monkeypatch, tmp_path):
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)
    with pytest.raises(ModelError, match=r"needs the onnx package"):
        load_onnx(tmp_path / "m.onnx")


def test_batch_override_scales_baked_reshape_targets():
    i64 = np.int64
    nodes = [node("Conv", ["x", "w"], "c"), node("Reshape", ["c", "t"], "r"),
             node("MatMul", ["r", "fc"], "y")]
    m = model(nodes, {"x": [2, 3, 8, 8]}, {"y": None},
              [weight("w", [4, 3, 1, 1]), const("t", np.array([2, 256], i64)),
               weight("fc", [256, 10])])
    one, five = imported(m), imported(m, batch=5)
    assert shape(one, "y") == (2, 10) and shape(five, "y") == (5, 10)
    assert single(five, OpKind.RESHAPE).attrs["shape"] == (5, 256)
    assert macs(five) * 2 == macs(one) * 5


def test_import_keeps_raw_operators_for_canonicalisation():
    g = import_onnx(model([node("Identity", ["x"], "y")], X, {"y": None}))
    assert g.ops[0].kind is OpKind.OPAQUE and g.ops[0].attrs["op_type"] == "Identity"
