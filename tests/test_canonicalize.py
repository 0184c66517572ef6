"""Canonicalisation passes and re-batching on small graphs built by hand."""

from pathlib import Path

import pytest

from tpusim.errors import ModelError
from tpusim.ir import DType, GraphBuilder, OpKind, TensorKind, verify
from tpusim.passes import canonicalize as c
from tpusim.passes.fusion import fuse_gelu, fuse_matmul_bias
from tpusim.passes.rebatch import rebatch

K = OpKind
SWIN = Path(__file__).resolve().parents[2] / "shared" / "onnx" / "swin_t.onnx"


def kinds(g):
    return [op.kind for op in g.ops]


def test_identities_go_and_readers_follow():
    b = GraphBuilder("t")
    x = b.input("x", (2, 8))
    h = b.op(K.CAST, [x], "half", to="f16")
    r = b.op(K.RESHAPE, [h], "same", shape=(2, 8))
    p = b.op(K.PAD, [r], "nopad", pads=(0, 0, 0, 0))
    t = b.op(K.PERMUTE, [p], "keep_order", order=(0, 1))
    i = b.op(K.CAST, [t], "int", to="int32")
    y = b.op(K.OPAQUE, [i], "identity", op_type="Identity", out_shapes=((2, 8),))
    b.output(y)
    g = c.remove_identities(b.build())
    assert [(op.name, op.inputs) for op in g.ops] == [("int", ("x",))]
    assert g.outputs == ["int"]


def test_fold_constants_replaces_constant_subgraphs_by_their_shapes():
    b = GraphBuilder("t")
    x = b.input("x", (4, 6))
    table = b.weight("table", (6, 4))
    t = b.op(K.PERMUTE, [table], "t", order=(1, 0))
    m = b.op(K.OPAQUE, [t], "where", op_type="Where", out_shapes=((4, 6),))
    b.output(b.op(K.ADD, [x, m], "add"))
    g = c.fold_constants(b.build())
    assert kinds(g) == [K.ADD]
    assert g.tensors["where"].kind is TensorKind.CONST and g.tensors["where"].shape == (4, 6)
    assert "table" not in g.tensors


def test_gemm_with_a_full_bias_matrix_keeps_an_add():
    b = GraphBuilder("t")
    a = b.input("a", (2, 8))
    w, bias = b.weight("w", (8, 16)), b.weight("bias", (2, 16))
    b.output(b.op(K.OPAQUE, [a, w, bias], "gemm", op_type="Gemm", out_shapes=((2, 16),),
                  transA=0, transB=0, alpha=1.0, beta=1.0))
    g = c.gemm_to_matmul(b.build())
    assert kinds(g) == [K.MATMUL, K.ADD] and g.ops[0].inputs == ("a", "w")
    assert g.outputs == ["gemm"]


def _conv_bn(b, x, bias: bool):
    w = b.weight("w", (4, 3, 3, 3))
    ins = [x, w, b.weight("b", (4,))] if bias else [x, w]
    y = b.op(K.CONV2D, ins, "conv")
    stats = [b.weight(n, (4,)) for n in ("s", "sh", "m", "v")]
    return y, b.op(K.OPAQUE, [y, *stats], "bn", op_type="BatchNormalization",
                   out_shapes=((1, 4, 6, 6),))


def test_batchnorm_folds_into_a_conv_with_its_own_bias():
    b = GraphBuilder("t")
    _, y = _conv_bn(b, b.input("x", (1, 3, 8, 8)), bias=True)
    b.output(y)
    g = c.fold_batchnorm(b.build())
    assert [(op.kind, op.inputs, op.outputs) for op in g.ops] == \
        [(K.CONV2D, ("x", "w", "b"), ("bn",))]


def test_batchnorm_after_a_conv_read_elsewhere_stays_separate():
    b = GraphBuilder("t")
    conv, y = _conv_bn(b, b.input("x", (1, 3, 8, 8)), bias=False)
    b.output(y, b.op(K.RELU, [conv], "other"))
    g = c.fold_batchnorm(b.build())
    assert kinds(g) == [K.CONV2D, K.MUL, K.ADD, K.RELU]


def test_scalar_operands():
    b = GraphBuilder("t")
    x = b.input("x", (2, 8))
    one = b.weight("one", (1,), TensorKind.CONST)
    lifted = b.weight("lifted", (1, 1, 1), TensorKind.CONST)
    m = b.op(K.MUL, [one, x], "unknown_value")  # value not kept in the file
    up = b.op(K.ADD, [m, lifted], "broadcasts_up")  # [2,8] + [1,1,1] -> [1,2,8]
    b.output(b.op(K.DIV, [one, up], "reciprocal"))
    g = c.scalar_to_const_ops(b.build())
    assert kinds(g) == [K.MULCONST, K.ADD, K.DIV]
    assert g.ops[0].attrs == {"const": None} and g.ops[0].inputs == ("x",)


def test_reshape_chains_merge():
    b = GraphBuilder("t")
    x = b.input("x", (2, 3, 4))
    r1 = b.op(K.RESHAPE, [x], "r1", shape=(6, 4))
    r2 = b.op(K.RESHAPE, [r1], "r2", shape=(24,))
    r3 = b.op(K.RESHAPE, [r2], "r3", shape=(4, 6))
    back = b.op(K.RESHAPE, [r3], "back", shape=(2, 3, 4))
    b.output(r3, b.op(K.RELU, [back], "relu"), b.op(K.RELU, [r1], "keeps_r1"))
    g = c.canonicalize(b.build(), (c.merge_reshapes, c.remove_identities, c.drop_dead_ops))
    assert [(op.name, op.inputs) for op in g.ops] == [
        ("r1", ("x",)), ("r3", ("x",)), ("relu", ("x",)), ("keeps_r1", ("r1",))]
    assert g.ops[1].attrs == {"shape": (4, 6)}


@pytest.mark.parametrize("first, second, merged", [
    # patch merging: x[:, 0::2] then [:, :, 1::2]
    (((0, 0, 0, 0), (1, 56, 56, 96), (1, 2, 1, 1)), ((0, 0, 1, 0), (1, 28, 56, 96), (1, 1, 2, 1)),
     ((0, 0, 1, 0), (1, 55, 56, 96), (1, 2, 2, 1))),
    # rows 10..49, then every third from the fifth: 15, 18, 21, 24, 27
    (((0, 10, 0, 0), (1, 50, 56, 96), (1, 1, 1, 1)), ((0, 5, 0, 0), (1, 20, 56, 96), (1, 3, 1, 1)),
     ((0, 15, 0, 0), (1, 28, 56, 96), (1, 3, 1, 1))),
])
def test_slice_chains_merge(first, second, merged):
    b = GraphBuilder("t")
    x = b.input("x", (1, 56, 56, 96))
    keys = ("starts", "ends", "steps")
    s1 = b.op(K.SLICE, [x], "s1", **dict(zip(keys, first)))
    s2 = b.op(K.SLICE, [s1], "s2", **dict(zip(keys, second)))
    b.output(s2)
    before = b.build()
    g = c.canonicalize(before, (c.merge_slices, c.drop_dead_ops))
    assert [(op.name, op.inputs) for op in g.ops] == [("s2", ("x",))]
    assert tuple(g.ops[0].attrs[k] for k in keys) == merged
    assert g.tensors["s2"].shape == before.tensors["s2"].shape


def test_classify_constants_by_how_layers_read_them():
    b = GraphBuilder("t")
    x = b.input("x", (2, 8))
    w = b.weight("w", (8, 8), TensorKind.CONST)
    table = b.weight("table", (2, 8))
    y = b.op(K.MATMUL, [x, w], "mm")
    b.output(b.op(K.ADD, [y, table], "add"))
    g = c.classify_constants(b.build())
    assert (g.tensors["w"].kind, g.tensors["table"].kind) == (TensorKind.WEIGHT, TensorKind.CONST)


def _gelu_graph(extra_reader: bool):
    b = GraphBuilder("t")
    x = b.input("x", (2, 8))
    u = b.op(K.MULCONST, [x], "u", const=0.7071)
    e = b.op(K.ERF, [u], "e")
    t = b.op(K.ADDCONST, [e], "t", const=1.0)
    h = b.op(K.MULCONST, [t], "h", const=0.5)
    b.output(b.op(K.MUL, [x, h], "y"))
    if extra_reader:
        b.output(b.op(K.RELU, [e], "peek"))
    return b.build()


def test_gelu_fuses_only_when_its_intermediates_are_private():
    assert kinds(fuse_gelu(_gelu_graph(False))) == [K.GELU]
    assert K.GELU not in kinds(fuse_gelu(_gelu_graph(True)))


@pytest.mark.parametrize("weight_kind, bias_shape, fused", [
    (TensorKind.WEIGHT, (16,), True),
    (TensorKind.WEIGHT, (1, 1, 16), True),
    (TensorKind.WEIGHT, (4, 16), False),  # a table, not a bias
    (None, (16,), False),  # activation x activation
])
def test_matmul_bias(weight_kind, bias_shape, fused):
    b = GraphBuilder("t")
    x = b.input("x", (2, 4, 8))
    w = b.weight("w", (8, 16), weight_kind) if weight_kind else b.input("w", (8, 16))
    y = b.op(K.MATMUL, [x, w], "mm")
    b.output(b.op(K.ADD, [y, b.weight("bias", bias_shape)], "add"))
    g = fuse_matmul_bias(b.build())
    assert kinds(g) == ([K.MATMUL] if fused else [K.MATMUL, K.ADD])


def test_rebatch_follows_reshapes_slices_expands_and_opaque_ops():
    b = GraphBuilder("t")
    x = b.input("x", (2, 3, 4))
    r = b.op(K.RESHAPE, [x], "r", shape=(6, 4))  # windows x batch lead: 3 per image
    s = b.op(K.SLICE, [r], "s", starts=(0, 1), ends=(6, 4), steps=(1, 1))
    e = b.op(K.EXPAND, [s], "e", shape=(6, 3))
    o = b.op(K.OPAQUE, [e], "o", op_type="Celu", out_shapes=((6, 3),))
    b.output(o)
    g = rebatch(b.build(), 5)
    verify(g)
    assert [g.tensors[t].shape for t in ("x", "r", "s", "e", "o")] == \
        [(5, 3, 4), (15, 4), (15, 3), (15, 3), (15, 3)]


def test_rebatch_refuses_a_reshape_it_cannot_scale():
    b = GraphBuilder("t")
    x = b.input("x", (2, 3))
    b.output(b.op(K.RESHAPE, [x], "r", shape=(1, 6)))
    with pytest.raises(ModelError, match="reshape 'r'"):
        rebatch(b.build(), 3)


@pytest.mark.skipif(not SWIN.is_file(), reason=f"the shared Swin-T export is not at {SWIN}")
def test_every_pass_is_pure_and_keeps_the_graph_valid():
    pytest.importorskip("onnx")
    from tpusim.frontend.onnx_import import import_onnx

    g = import_onnx(SWIN)
    for run in c.PIPELINE:
        snapshot = repr(g)
        out = verify(run(g))
        assert repr(g) == snapshot, f"{run.__name__} changed its input"
        g = out
    assert {t.dtype for t in g.tensors.values()} <= {DType.F32, DType.INT32}
