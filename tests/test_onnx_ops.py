"""ONNX operators one by one: imported shapes, kinds and MACs worked out by hand, and the
fused patterns. Every model is imported with and without value_info (`imported`)."""

import math

import numpy as np
import pytest
from onnx_models import X, const, imported, model, node, shape, single, weight

from tpusim.ir import OpKind, TensorKind, macs

# ---- convolution and matrix work ------------------------------------------------------------


def test_conv_groups_strides_dilations_pads():
    g = imported(model([node("Conv", ["x", "w", "b"], "y", strides=[2, 2], pads=[1, 1, 1, 1],
                             dilations=[2, 2], group=2)],
                       X, {"y": None}, [weight("w", [16, 4, 3, 3]), weight("b", [16])]))
    # (15 + 2 - 2*(3-1) - 1) // 2 + 1 = 7; each output reads 4 channels x 3 x 3
    assert shape(g, "y") == (1, 16, 7, 7)
    assert macs(g) == 16 * 7 * 7 * 4 * 3 * 3
    conv = single(g, OpKind.CONV2D)
    assert conv.attrs["group"] == 2 and conv.attrs["pads"] == (1, 1, 1, 1)
    assert g.tensors["w"].kind is TensorKind.WEIGHT


def test_conv_auto_pad_same_upper_and_depthwise():
    g = imported(model([node("Conv", ["x", "w"], "y", strides=[2, 2], auto_pad="SAME_UPPER"),
                        node("Conv", ["y", "dw"], "z", group=4, pads=[1, 1, 1, 1])],
                       {"x": [1, 3, 10, 10]}, {"z": None},
                       [weight("w", [4, 3, 3, 3]), weight("dw", [4, 1, 3, 3])]))
    # SAME_UPPER: out = ceil(10 / 2) = 5, total pad (5-1)*2 + 3 - 10 = 1, at the end
    assert g.ops[0].attrs["pads"] == (0, 0, 1, 1)
    assert shape(g, "z") == (1, 4, 5, 5)
    assert macs(g) == 4 * 25 * 27 + 4 * 25 * 9


def test_gemm_becomes_matmul_on_transposed_constant_weight():
    g = imported(model([node("Gemm", ["x", "w", "b"], "y", transB=1)], {"x": [2, 8]},
                       {"y": None}, [weight("w", [16, 8]), weight("b", [16])]))
    mm = single(g, OpKind.MATMUL)
    assert g.kind_counts() == {"MatMul": 1}
    assert shape(g, mm.inputs[1]) == (8, 16) and mm.inputs[2] == "b"
    assert macs(g) == 2 * 8 * 16


def test_gemm_with_activation_operands_and_alpha():
    g = imported(model([node("Gemm", ["a", "b"], "y", transA=1, transB=1, alpha=0.5)],
                       {"a": [8, 2], "b": [16, 8]}, {"y": None}))
    assert g.kind_counts() == {"MatMul": 1, "MulConst": 1, "Permute": 1}
    assert single(g, OpKind.MATMUL).attrs["right_transpose"] is True
    assert shape(g, "y") == (2, 16) and macs(g) == 2 * 8 * 16


@pytest.mark.parametrize("a, b, out, mac", [
    ([2, 3, 4, 5], [2, 3, 5, 6], (2, 3, 4, 6), 2 * 3 * 4 * 5 * 6),  # batched
    ([2, 3, 4, 5], [5, 7], (2, 3, 4, 7), 2 * 3 * 4 * 5 * 7),  # a weight on the right
    ([1, 3, 4, 5], [2, 1, 5, 6], (2, 3, 4, 6), 2 * 3 * 4 * 5 * 6),  # broadcast batch
    ([5], [5, 7], (7,), 5 * 7),  # a 1-D operand
])
def test_matmul_batched_and_broadcast(a, b, out, mac):
    g = imported(model([node("MatMul", ["a", "b"], "y")], {"a": a, "b": b}, {"y": None}))
    assert shape(g, "y") == out and macs(g) == mac


def test_conv_and_pools_in_1d_run_as_2d():
    nodes = [node("Conv", ["x", "w", "b"], "c", strides=[2], pads=[1, 1], dilations=[2],
                  group=2),
             node("MaxPool", ["c"], "p", kernel_shape=[3], strides=[2], ceil_mode=1),
             node("GlobalAveragePool", ["p"], "y")]
    g = imported(model(nodes, {"x": [1, 8, 100]}, {"y": None},
                       [weight("w", [16, 4, 5]), weight("b", [16])]))
    # (100 + 2 - 2*4 - 1) // 2 + 1 = 47; ceil((47 - 3) / 2) + 1 = 23
    conv = single(g, OpKind.CONV2D)
    assert shape(g, conv.outputs[0]) == (1, 16, 1, 47)  # read by the pool as it is
    assert (shape(g, "p"), shape(g, "y")) == ((1, 16, 23), (1, 16, 1))
    assert conv.attrs["strides"] == (1, 2) and conv.attrs["pads"] == (0, 1, 0, 1)
    assert shape(g, conv.inputs[1]) == (16, 4, 1, 5)
    assert g.tensors[conv.inputs[1]].kind is TensorKind.WEIGHT
    assert macs(g) == 16 * 47 * 4 * 5
    assert g.kind_counts() == {"Conv2D": 1, "MaxPool": 1, "ReduceMean": 1, "Reshape": 2}


def test_batchnorm_folds_into_the_conv_before_it():
    bn = [weight(n, [16]) for n in ("s", "bb", "m", "v")]
    g = imported(model([node("Conv", ["x", "w"], "c"),
                        node("BatchNormalization", ["c", "s", "bb", "m", "v"], "y")],
                       X, {"y": None}, [weight("w", [16, 8, 1, 1]), *bn]))
    conv = single(g, OpKind.CONV2D)
    assert g.kind_counts() == {"Conv2D": 1} and conv.outputs == ("y",)
    assert shape(g, conv.inputs[2]) == (16,)  # the folded shift is the conv's bias
    assert g.tensors[conv.inputs[2]].kind is TensorKind.WEIGHT


def test_lone_batchnorm_is_a_scale_and_shift():
    bn = [weight(n, [8]) for n in ("s", "bb", "m", "v")]
    g = imported(model([node("Relu", ["x"], "r"),
                        node("BatchNormalization", ["r", "s", "bb", "m", "v"], "y")],
                       X, {"y": None}, bn))
    assert g.kind_counts() == {"Add": 1, "Mul": 1, "Relu": 1}
    assert shape(g, single(g, OpKind.MUL).inputs[1]) == (8, 1, 1)


# ---- element-wise and activations ------------------------------------------------------------


@pytest.mark.parametrize("op, attrs, kind", [
    ("Relu", {}, OpKind.RELU), ("Sigmoid", {}, OpKind.SIGMOID), ("Tanh", {}, OpKind.TANH),
    ("HardSigmoid", {"alpha": 0.2}, OpKind.HARDSIGMOID), ("HardSwish", {}, OpKind.HARDSWISH),
    ("Sqrt", {}, OpKind.SQRT), ("Erf", {}, OpKind.ERF), ("Exp", {}, OpKind.EXP),
    ("Neg", {}, OpKind.MULCONST), ("Softmax", {"axis": -1}, OpKind.SOFTMAX),
])
def test_unary_operators(op, attrs, kind):
    g = imported(model([node(op, ["x"], "y", **attrs)], X, {"y": None}))
    assert single(g, kind).inputs == ("x",) and shape(g, "y") == (1, 8, 15, 15)


def test_clip_bounds_from_inputs_and_from_attributes():
    g = imported(model([node("Clip", ["x", "lo", "hi"], "y")], X, {"y": None},
                       [const("lo", 0.0), const("hi", 6.0)]))
    assert dict(single(g, OpKind.CLIP).attrs) == {"min": 0.0, "max": 6.0}
    g = imported(model([node("Clip", ["x"], "y", min=-1.0, max=1.0)], X, {"y": None}, opset=9))
    assert dict(single(g, OpKind.CLIP).attrs) == {"min": -1.0, "max": 1.0}


def test_softmax_before_opset_13_normalises_the_flattened_tail():
    g = imported(model([node("Softmax", ["x"], "y", axis=1)], X, {"y": None}, opset=11))
    assert [op.kind for op in g.ops] == [OpKind.RESHAPE, OpKind.SOFTMAX, OpKind.RESHAPE]
    assert g.ops[0].attrs["shape"] == (1, 8 * 15 * 15) and shape(g, "y") == (1, 8, 15, 15)


def test_sum_max_min_of_several_inputs_chain():
    g = imported(model([node("Sum", ["a", "b", "c"], "s"), node("Max", ["s", "a"], "y")],
                       {"a": [2, 5], "b": [2, 5], "c": [5]}, {"y": None}))
    assert [op.kind for op in g.ops] == [OpKind.ADD, OpKind.ADD, OpKind.MAX]
    assert shape(g, "y") == (2, 5)


@pytest.mark.parametrize("op, kind", [("Add", OpKind.ADD), ("Sub", OpKind.SUB),
                                      ("Mul", OpKind.MUL), ("Div", OpKind.DIV),
                                      ("Pow", OpKind.POW)])
def test_binary_operators_broadcast(op, kind):
    g = imported(model([node(op, ["a", "b"], "y")], {"a": [2, 1, 5], "b": [3, 1]}, {"y": None}))
    assert single(g, kind).inputs == ("a", "b") and shape(g, "y") == (2, 3, 5)


@pytest.mark.parametrize("op, value, kind, stored", [
    ("Mul", 0.5, OpKind.MULCONST, 0.5), ("Div", 4.0, OpKind.MULCONST, 0.25),
    ("Add", 3.0, OpKind.ADDCONST, 3.0), ("Sub", 2.0, OpKind.ADDCONST, -2.0),
])
def test_scalar_constant_operands_become_const_ops(op, value, kind, stored):
    g = imported(model([node(op, ["x", "c"], "y")], X, {"y": None}, [const("c", value)]))
    assert dict(single(g, kind).attrs) == {"const": stored}
    assert g.kind_counts() == {kind.value: 1}


def test_tensor_constant_operands_stay_binary():
    g = imported(model([node("Add", ["x", "t"], "y"), node("Sub", ["c", "y"], "z")], X,
                       {"z": None}, [weight("t", [1, 8, 1, 15]), const("c", 1.0)]))
    assert g.kind_counts() == {"Add": 1, "Sub": 1}  # c - y is not y + const
    assert g.tensors["t"].kind is TensorKind.CONST


def test_silu_and_hardswish_patterns_fuse():
    g = imported(model([node("Sigmoid", ["x"], "s"), node("Mul", ["s", "x"], "y"),
                        node("HardSigmoid", ["y"], "h", alpha=1 / 6, beta=0.5),
                        node("Mul", ["y", "h"], "z")], X, {"z": None}))
    assert [op.kind for op in g.ops] == [OpKind.SILU, OpKind.HARDSWISH]


def test_hardswish_from_clip_and_hardsigmoid_from_clip():
    nodes = [node("Add", ["x", "three"], "p"), node("Clip", ["p", "zero", "six"], "c"),
             node("Mul", ["x", "c"], "m"), node("Div", ["m", "sixf"], "y"),
             node("Add", ["y", "three"], "q"), node("Clip", ["q", "zero", "six"], "d"),
             node("Div", ["d", "sixf"], "z")]
    inits = [const("three", 3.0), const("zero", 0.0), const("six", 6.0), const("sixf", 6.0)]
    g = imported(model(nodes, X, {"z": None}, inits))
    assert [op.kind for op in g.ops] == [OpKind.HARDSWISH, OpKind.HARDSIGMOID]


GELU_ERF = {
    "x*(0.5*(1+erf))": [node("Div", ["x", "sq2"], "u"), node("Erf", ["u"], "e"),
                        node("Add", ["e", "one"], "t"), node("Mul", ["half", "t"], "h"),
                        node("Mul", ["x", "h"], "y")],
    "(0.5*x)*(1+erf)": [node("Mul", ["x", "isq2"], "u"), node("Erf", ["u"], "e"),
                        node("Add", ["one", "e"], "t"), node("Mul", ["x", "half"], "h"),
                        node("Mul", ["h", "t"], "y")],
    "(x*(1+erf))*0.5": [node("Div", ["x", "sq2"], "u"), node("Erf", ["u"], "e"),
                        node("Add", ["e", "one"], "t"), node("Mul", ["t", "x"], "h"),
                        node("Mul", ["h", "half"], "y")],
}
GELU_CONSTS = [const("sq2", math.sqrt(2)), const("isq2", 1 / math.sqrt(2)), const("one", 1.0),
               const("half", 0.5), const("three", 3.0), const("k", 0.044715),
               const("s2pi", math.sqrt(2 / math.pi))]


@pytest.mark.parametrize("order", sorted(GELU_ERF))
def test_erf_gelu_fuses_in_its_common_orderings(order):
    g = imported(model(GELU_ERF[order], X, {"y": None}, GELU_CONSTS))
    assert [(op.kind, op.inputs) for op in g.ops] == [(OpKind.GELU, ("x",))]


@pytest.mark.parametrize("cube", ["pow", "mul"])
def test_tanh_gelu_fuses(cube):
    cubed = [node("Pow", ["x", "three"], "c")] if cube == "pow" else [
        node("Mul", ["x", "x"], "sq"), node("Mul", ["sq", "x"], "c")]
    nodes = [*cubed, node("Mul", ["c", "k"], "kc"), node("Add", ["x", "kc"], "in"),
             node("Mul", ["in", "s2pi"], "u"), node("Tanh", ["u"], "th"),
             node("Add", ["th", "one"], "t"), node("Mul", ["x", "half"], "h"),
             node("Mul", ["h", "t"], "y")]
    g = imported(model(nodes, X, {"y": None}, GELU_CONSTS))
    assert [(op.kind, op.inputs) for op in g.ops] == [(OpKind.GELU, ("x",))]


def test_wrong_constant_is_not_gelu():
    nodes = [node("Div", ["x", "three"], "u"), *GELU_ERF["x*(0.5*(1+erf))"][1:]]
    g = imported(model(nodes, X, {"y": None}, GELU_CONSTS))
    assert OpKind.GELU not in {op.kind for op in g.ops} and len(g.ops) == 5


def test_layernormalization_operator():
    g = imported(model([node("LayerNormalization", ["x", "s", "b"], "y", axis=-1,
                             epsilon=1e-6)], {"x": [2, 49, 96]}, {"y": None},
                       [weight("s", [96]), weight("b", [96])]))
    assert dict(single(g, OpKind.LAYERNORM).attrs) == {"axis": -1, "eps": pytest.approx(1e-6)}


@pytest.mark.parametrize("square", ["Pow", "Mul"])
def test_decomposed_layernorm_fuses(square):
    sq = node("Pow", ["d", "two"], "p") if square == "Pow" else node("Mul", ["d", "d"], "p")
    nodes = [node("ReduceMean", ["x"], "m", axes=[-1]), node("Sub", ["x", "m"], "d"), sq,
             node("ReduceMean", ["p"], "v", axes=[-1]), node("Add", ["v", "eps"], "ve"),
             node("Sqrt", ["ve"], "sd"), node("Div", ["d", "sd"], "n"),
             node("Mul", ["n", "gamma"], "gn"), node("Add", ["gn", "beta"], "y")]
    g = imported(model(nodes, {"x": [2, 49, 96]}, {"y": None},
                       [const("two", 2.0), const("eps", 1e-5), weight("gamma", [96]),
                        weight("beta", [96])], opset=13))
    ln = single(g, OpKind.LAYERNORM)
    assert g.kind_counts() == {"LayerNorm": 1} and ln.inputs == ("x", "gamma", "beta")
    assert ln.attrs["axis"] == -1 and ln.attrs["eps"] == pytest.approx(1e-5)
    assert g.tensors["gamma"].kind is TensorKind.WEIGHT


# ---- reductions and pooling -------------------------------------------------------------------


def test_reducemean_and_reducesum():
    g = imported(model([node("ReduceMean", ["x"], "m", axes=[2, 3], keepdims=1),
                        node("ReduceSum", ["m", "ax"], "s", keepdims=0)], X, {"s": None},
                       [const("ax", np.array([1], np.int64))]))
    assert shape(g, "m") == (1, 8, 1, 1) and shape(g, "s") == (1, 1, 1)
    assert single(g, OpKind.REDUCE_SUM).attrs["axes"] == (1,)


def test_pools():
    g = imported(model([node("MaxPool", ["x"], "p", kernel_shape=[3, 3], strides=[2, 2],
                             pads=[1, 1, 1, 1]),
                        node("AveragePool", ["p"], "a", kernel_shape=[2, 2], strides=[2, 2],
                             ceil_mode=1),
                        node("GlobalAveragePool", ["a"], "y")], X, {"y": None}))
    # (15 + 2 - 3) // 2 + 1 = 8; ceil((8 - 2) / 2) + 1 = 4; then 1 x 1
    assert [shape(g, t) for t in ("p", "a", "y")] == [(1, 8, 8, 8), (1, 8, 4, 4), (1, 8, 1, 1)]
    assert g.ops[2].kind is OpKind.AVGPOOL and g.ops[2].attrs["kernel"] == (4, 4)
    assert macs(g) == 0


def test_max_pool_ceil_mode_pads_the_end():
    g = imported(model([node("MaxPool", ["x"], "p", kernel_shape=[2, 2], strides=[2, 2],
                             ceil_mode=1)], X, {"p": None}))
    assert shape(g, "p") == (1, 8, 8, 8) and g.ops[0].attrs["pads"] == (0, 0, 1, 1)


def test_resize_by_scales_and_by_sizes_and_upsample():
    nodes = [node("Resize", ["x", "", "sc"], "r", mode="nearest"),
             node("Resize", ["r", "", "", "sz"], "s", mode="linear")]
    g = imported(model(nodes, X, {"s": None}, [const("sc", [1.0, 1.0, 2.0, 2.0]),
                                               const("sz", np.array([1, 8, 45, 60], np.int64))]))
    assert shape(g, "r") == (1, 8, 30, 30) and shape(g, "s") == (1, 8, 45, 60)
    assert g.kind_counts() == {"Upsample": 2}
    g = imported(model([node("Upsample", ["x", "sc"], "y")], X, {"y": None},
                       [const("sc", [1.0, 1.0, 2.0, 2.0])], opset=9))
    assert shape(g, "y") == (1, 8, 30, 30)
