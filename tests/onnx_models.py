"""Small ONNX models for the importer tests, built with onnx.helper."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

Shape = Sequence[int]


def node(op: str, inputs: Sequence[str], outputs: Sequence[str] | str, name: str | None = None,
         **attrs):
    outputs = [outputs] if isinstance(outputs, str) else list(outputs)
    return helper.make_node(op, list(inputs), outputs, name=name or outputs[0], **attrs)


def weight(name: str, shape: Shape, dtype: int = TensorProto.FLOAT) -> TensorProto:
    """An initializer whose data is external and missing, as in the shared torchvision files."""
    t = TensorProto(name=name, data_type=dtype, dims=list(shape))
    t.data_location = TensorProto.EXTERNAL
    entry = t.external_data.add()
    entry.key, entry.value = "location", "missing.bin"
    return t


def const(name: str, value) -> TensorProto:
    """An initializer with its value (integers, small float constants)."""
    array = np.asarray(value)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    return numpy_helper.from_array(array, name)


def model(nodes: list, inputs: Mapping[str, Shape], outputs: Mapping[str, Shape | None],
          inits: Sequence[TensorProto] = (), opset: int = 17, infer: bool = False):
    """A model; with `infer`, value_info filled in by onnx's own shape inference."""
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None if s is None else list(s))
         for n, s in outputs.items()],
        list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m) if infer else m


def imported(m, **kw):
    """`load_onnx` twice: without value_info (tpusim infers every shape) and with the value_info
    onnx's own shape inference writes (tpusim checks it agrees); both must give the same graph."""
    from tpusim.frontend.onnx_import import load_onnx

    plain = load_onnx(m, **kw)
    checked = load_onnx(onnx.shape_inference.infer_shapes(m), **kw)
    assert [(op.kind, op.inputs, op.outputs) for op in plain.ops] == \
        [(op.kind, op.inputs, op.outputs) for op in checked.ops]
    assert {n: t.shape for n, t in plain.tensors.items()} == \
        {n: t.shape for n, t in checked.tensors.items()}
    return plain


def shape(g, name):
    return g.tensors[name].shape


def single(g, kind):
    ops = [op for op in g.ops if op.kind is kind]
    assert len(ops) == 1, g.kind_counts()
    return ops[0]


X = {"x": [1, 8, 15, 15]}
