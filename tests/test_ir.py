import pytest

from tpusim.errors import GraphError
from tpusim.ir import DType, Graph, GraphBuilder, Op, OpKind, Tensor, verify
from tpusim.ir.shapes import infer

K = OpKind


@pytest.mark.parametrize("kind, shapes, attrs, out", [
    (K.ADD, [(2, 1, 4), (3, 1)], {}, (2, 3, 4)),
    (K.MATMUL, [(64, 49, 32), (64, 32, 49)], {}, (64, 49, 49)),
    (K.MATMUL, [(1, 3136, 96), (96, 288), (288,)], {}, (1, 3136, 288)),
    (K.MATMUL, [(64, 49, 3, 32), (64, 49, 3, 32)], {"hdim_is_batch": True,
                                                    "right_transpose": True}, (64, 49, 3, 49)),
    (K.CONV2D, [(1, 3, 224, 224), (96, 3, 4, 4)], {"strides": (4, 4)}, (1, 96, 56, 56)),
    (K.CONV2D, [(1, 64, 56, 56), (64, 1, 3, 3)], {"pads": (1, 1, 1, 1), "group": 64},
     (1, 64, 56, 56)),
    (K.MAXPOOL, [(1, 64, 112, 112)], {"kernel": (3, 3), "strides": (2, 2),
                                      "pads": (1, 1, 1, 1)}, (1, 64, 56, 56)),
    (K.RESHAPE, [(64, 49, 288)], {"shape": (64, 49, 3, 3, -1)}, (64, 49, 3, 3, 32)),
    (K.PERMUTE, [(64, 49, 3, 3, 32)], {"order": (2, 0, 3, 1, 4)}, (3, 64, 3, 49, 32)),
    (K.SLICE, [(1, 56, 56, 96)], {"starts": (0, 1, 0, 0), "ends": (1, 56, 56, 96),
                                  "steps": (1, 2, 2, 1)}, (1, 28, 28, 96)),
    (K.SQUEEZE, [(1, 64, 3, 49, 32)], {"axes": (0,)}, (64, 3, 49, 32)),
    (K.UNSQUEEZE, [(3, 49, 49)], {"axes": (0,)}, (1, 3, 49, 49)),
    (K.CONCAT, [(1, 3, 56, 96), (1, 53, 56, 96)], {"axis": 1}, (1, 56, 56, 96)),
    (K.REDUCE_MEAN, [(1, 768, 7, 7)], {"axes": (2, 3), "keepdims": True}, (1, 768, 1, 1)),
    (K.PAD, [(1, 3, 5, 5)], {"pads": (0, 0, 1, 1, 0, 0, 1, 1)}, (1, 3, 7, 7)),
    (K.GATHER, [(169, 3)], {"axis": 0, "indices_shape": (2401,)}, (2401, 3)),
])
def test_shape_inference(kind, shapes, attrs, out):
    assert infer(kind, shapes, attrs) == [out]


@pytest.mark.parametrize("kind, shapes, attrs, words", [
    (K.ADD, [(2, 3), (4, 3)], {}, "do not broadcast"),
    (K.MATMUL, [(4, 5), (6, 7)], {}, "inner dimensions differ"),
    (K.RESHAPE, [(2, 3)], {"shape": (4, 2)}, "cannot reshape"),
    (K.PERMUTE, [(2, 3)], {"order": (0, 0)}, "not a permutation"),
    (K.SQUEEZE, [(2, 3)], {"axes": (0,)}, "cannot squeeze"),
])
def test_shape_errors_name_the_op(kind, shapes, attrs, words):
    with pytest.raises(GraphError, match=f"op 'x'.*{words}"):
        infer(kind, shapes, attrs, "x")


def _graph() -> Graph:
    g = GraphBuilder("tiny")
    x = g.input("x", (2, 8))
    w = g.weight("w", (8, 4))
    y = g.op(OpKind.MATMUL, [x, w], "mm")
    g.output(g.op(OpKind.RELU, [y], "relu"))
    return g.build()


def test_builder_infers_and_verifies():
    g = _graph()
    assert g.tensors["mm"].shape == (2, 4)
    assert [op.name for op in g.ops] == ["mm", "relu"]
    assert g.kind_counts() == {"MatMul": 1, "Relu": 1}


def test_verify_catches_broken_graphs():
    g = _graph()
    bad_order = Graph("g", g.tensors, list(reversed(g.ops)), g.inputs, g.outputs)
    with pytest.raises(GraphError, match="before it is produced"):
        verify(bad_order)
    wrong_shape = dict(g.tensors, mm=Tensor("mm", (2, 5)))
    with pytest.raises(GraphError, match="inferred"):
        verify(Graph("g", wrong_shape, g.ops, g.inputs, g.outputs))
    twice = [*g.ops, Op(OpKind.RELU, "again", ("x",), ("relu",))]
    with pytest.raises(GraphError, match="written more than once"):
        verify(Graph("g", g.tensors, twice, g.inputs, g.outputs))
    with pytest.raises(GraphError, match="unknown tensor"):
        verify(Graph("g", g.tensors, [Op(OpKind.RELU, "r", ("nope",), ("relu",))], g.inputs,
                     []))


def test_dtype_parse_and_sizes():
    assert DType.parse("fp16") is DType.F16 and DType.F16.bytes == 2
    assert DType.parse("int8").bytes == 1
    with pytest.raises(ValueError):
        DType.parse("f8")
