"""The Swin-T study's rewrites: each preserves what the graph computes (checked with the
reference evaluator on random data) and does what it says to the graph's structure."""

import numpy as np
import pytest

from tpusim.frontend.swin import SwinConfig, build_swin
from tpusim.ir import GraphBuilder, OpKind, TensorKind, verify
from tpusim.ir.evaluate import evaluate, random_values
from tpusim.options import parse_options
from tpusim.passes.attention import fold_reshape_add, hdim_is_batch, matmul_permute_split
from tpusim.passes.permutes import compose, inverse, permute_cancel, permute_fuse
from tpusim.passes.pipeline import run_passes

K = OpKind


def same_outputs(before, after, seed=0):
    values = random_values(before, seed)
    values.update({k: v for k, v in random_values(after, seed).items() if k not in values})
    want, got = evaluate(before, values), evaluate(verify(after), values)
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-9, atol=1e-9)


def test_compose_and_inverse():
    assert compose((0, 2, 1, 3), (0, 1, 3, 2)) == (0, 2, 3, 1)
    assert compose((2, 0, 3, 1, 4), inverse((2, 0, 3, 1, 4))) == (0, 1, 2, 3, 4)


def _permutes(shape, orders):
    g = GraphBuilder("p")
    x = g.input("x", shape)
    for i, order in enumerate(orders):
        x = g.op(K.PERMUTE, [x], f"p{i}", order=order)
    g.output(g.op(K.RELU, [x], "relu"))
    return g.build()


@pytest.mark.parametrize("orders, left", [
    ([(0, 2, 1, 3), (0, 1, 3, 2)], [(0, 2, 3, 1)]),  # k's transpose folds into its permute
    ([(0, 2, 1, 3), (0, 2, 1, 3)], []),  # inverse pair: nothing left
    ([(0, 1, 2, 3)], []),  # identity vanishes
    ([(1, 0, 2, 3), (0, 2, 1, 3), (2, 1, 0, 3)], [(0, 2, 1, 3)]),
])
def test_permute_fuse(orders, left):
    before = _permutes((2, 3, 4, 5), orders)
    after = permute_fuse(before)
    assert [tuple(op.attr("order")) for op in after.ops if op.kind is K.PERMUTE] == left
    same_outputs(before, after)


def test_permute_cancel_through_commuting_ops():
    """Permute -> MulConst -> Add(bias) -> Softmax -> inverse Permute: no permute is left; the
    bias is permuted instead and the softmax axis follows."""
    g = GraphBuilder("c")
    x = g.input("x", (2, 5, 3, 5))
    bias = g.weight("bias", (1, 3, 5, 5), TensorKind.CONST)
    y = g.op(K.PERMUTE, [x], "p", order=(0, 2, 1, 3))
    y = g.op(K.MULCONST, [y], "scale", const=0.5)
    y = g.op(K.ADD, [y, bias], "add")
    y = g.op(K.SOFTMAX, [y], "softmax", axis=-1)
    g.output(g.op(K.PERMUTE, [y], "back", order=(0, 2, 1, 3)))
    before = g.build()
    after = permute_cancel(before)
    # the only permute left acts on the constant (folded into a constant at compile time)
    assert [op.inputs for op in after.ops if op.kind is K.PERMUTE] == [("bias",)]
    assert next(op for op in after.ops if op.kind is K.SOFTMAX).attr("axis") == 3
    same_outputs(before, after)


def _qkv(batch=4, tokens=5, heads=2, hd=3):
    g = GraphBuilder("qkv")
    x = g.input("x", (batch, tokens, heads * hd))
    w = g.weight("w", (heads * hd, 3 * heads * hd))
    y = g.op(K.MATMUL, [x, w], "qkv")
    y = g.op(K.RESHAPE, [y], "reshape", shape=(batch, tokens, 3, heads, hd))
    y = g.op(K.PERMUTE, [y], "permute", order=(2, 0, 3, 1, 4))
    parts = []
    for i, part in enumerate("qkv"):
        s = g.op(K.SLICE, [y], f"{part}.slice", starts=(i, 0, 0, 0, 0),
                 ends=(i + 1, batch, heads, tokens, hd), steps=(1,) * 5)
        parts.append(g.op(K.SQUEEZE, [s], f"{part}.squeeze", axes=(0,)))
    return g, parts


def test_matmul_permute_split():
    g, parts = _qkv()
    g.output(*parts)
    before = g.build()
    after = matmul_permute_split(before)
    assert after.count(K.PERMUTE) == 3
    slices = [op for op in after.ops if op.kind is K.SLICE]
    assert [after.tensors[s.inputs[0]].shape for s in slices] == [(4, 5, 3, 2, 3)] * 3
    assert all(s.attr("starts")[2] == i and s.attr("ends")[2] == i + 1
               for i, s in enumerate(slices))
    assert {tuple(op.attr("order")) for op in after.ops if op.kind is K.PERMUTE} == {(0, 2, 1, 3)}
    same_outputs(before, after)


def _attention():
    g, (q, k, v) = _qkv()
    q = g.op(K.MULCONST, [q], "scale", const=0.3)
    kt = g.op(K.PERMUTE, [k], "kt", order=(0, 1, 3, 2))
    a = g.op(K.MATMUL, [q, kt], "qk")
    bias = g.weight("bias", (1, 2, 5, 5), TensorKind.CONST)
    a = g.op(K.ADD, [a, bias], "add_bias")
    a = g.op(K.RESHAPE, [a], "mask.reshape", shape=(2, 2, 2, 5, 5))
    mask = g.weight("mask", (1, 2, 1, 5, 5), TensorKind.CONST)
    a = g.op(K.ADD, [a, mask], "add_mask")
    a = g.op(K.RESHAPE, [a], "mask.unreshape", shape=(4, 2, 5, 5))
    a = g.op(K.SOFTMAX, [a], "softmax", axis=-1)
    y = g.op(K.MATMUL, [a, v], "av")
    y = g.op(K.PERMUTE, [y], "out.permute", order=(0, 2, 1, 3))
    g.output(g.op(K.RESHAPE, [y], "out", shape=(4, 5, 6)))
    return g.build()


def test_fold_reshape_add_tiles_the_mask():
    before = _attention()
    after = fold_reshape_add(before)
    assert after.count(K.RESHAPE) == before.count(K.RESHAPE) - 2 + 1  # + the mask's reshape
    add = next(op for op in after.ops if op.name == "add_mask")
    assert after.tensors[add.inputs[1]].shape == (4, 1, 5, 5)
    same_outputs(before, after)


@pytest.mark.parametrize("precision", ["f16", "int8"])
def test_hdim_is_batch_removes_every_attention_permute(precision):
    before = _attention()
    after = run_passes(before, parse_options("after"), precision, fold=False)
    live = [op for op in after.ops if op.kind is K.PERMUTE
            and not after.tensors[op.inputs[0]].is_constant
            and op.inputs[0] not in {t for o in after.ops if o.kind is K.RESHAPE
                                     for t in o.outputs if "bias" in t or "mask" in t}]
    assert [op.name for op in live] == []
    mms = [op for op in after.ops if op.kind is K.MATMUL and op.name in ("qk", "av")]
    assert all(op.attr("hdim_is_batch") for op in mms)
    assert next(op for op in mms if op.name == "qk").attr("right_transpose")
    same_outputs(before, after)
    folded = run_passes(before, parse_options("after"), precision)
    assert folded.count(K.PERMUTE) == 0


def test_hdim_is_batch_not_at_f32():
    before = _attention()
    assert hdim_is_batch(before, "f32") is before
    after = run_passes(before, parse_options("after"), "f32", fold=False)
    assert not any(op.attr("hdim_is_batch") for op in after.ops)
    same_outputs(before, after)


TINY = SwinConfig(embed_dim=8, depths=(2, 2), heads=(2, 4), window=7, image=56, classes=10)


@pytest.mark.parametrize("precision", ["f32", "f16"])
def test_whole_tiny_swin_keeps_its_values(precision):
    before = build_swin(TINY)
    after = run_passes(before, parse_options("after"), precision, fold=False)
    if precision == "f16":  # at f32 the split gives each branch its permute and none vanish
        assert after.count(K.PERMUTE) < before.count(K.PERMUTE)
    same_outputs(before, after)
