"""What the ONNX importer reads from the protobuf: nodes, attributes, dims, element types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tpusim.ir.dtypes import DType


class Unsupported(Exception):
    """Raised by a converter: this node (or this use of its operator) has no tpusim form."""


@dataclass(frozen=True)
class Node:
    """One ONNX node with its attributes decoded to Python values."""

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


def element_dtype(elem_type: int) -> DType:
    """tpusim's dtype for an ONNX element type (64-bit integers are stored as int32)."""
    from onnx import TensorProto as T

    return {T.FLOAT16: DType.F16, T.BFLOAT16: DType.BF16, T.INT8: DType.INT8,
            T.UINT8: DType.UINT8, T.BOOL: DType.UINT8, T.INT16: DType.INT16,
            T.INT32: DType.INT32, T.INT64: DType.INT32, T.UINT16: DType.INT16,
            T.UINT32: DType.INT32, T.UINT64: DType.INT32}.get(elem_type, DType.F32)


def array_dtype(array: np.ndarray) -> DType:
    """tpusim's dtype for a constant's numpy array."""
    if array.dtype == np.float16:
        return DType.F16
    if np.issubdtype(array.dtype, np.floating):
        return DType.F32
    return DType.UINT8 if array.dtype == np.bool_ else DType.INT32


def dims_of(type_proto: Any) -> list[int | str] | None:
    """Dims of a tensor type (ints, or names for symbolic ones); None without a shape."""
    t = type_proto.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]


def decode_attrs(node: Any) -> dict[str, Any]:
    """A node's attributes as Python values (strings decoded)."""
    from onnx import helper

    attrs = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        attrs[a.name] = value.decode() if isinstance(value, bytes) else value
    return attrs


# ONNX rules that both the constant evaluator and the shape importer follow.
def split_sizes(dim: int, parts: int) -> list[int]:
    """Split without sizes: equal parts of ceil(dim / parts), the last one smaller."""
    step = -(-dim // parts)
    return [min(step, dim - i * step) for i in range(parts)]


def reshape_target(shape: tuple[int, ...] | list[int], target: list[int],
                   allowzero: bool) -> list[int]:
    """Reshape's target with each 0 standing for the input's dimension (unless allowzero)."""
    return target if allowzero else [shape[i] if d == 0 else d for i, d in enumerate(target)]
