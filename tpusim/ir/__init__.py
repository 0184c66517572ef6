"""The IR: `Tensor`, `Op`, `Graph`, shape inference and `verify`."""

from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, GraphBuilder, Op, Tensor, TensorKind
from tpusim.ir.ops import OpKind
from tpusim.ir.stats import macs, params
from tpusim.ir.verify import verify

__all__ = ["DType", "Graph", "GraphBuilder", "Op", "OpKind", "Tensor", "TensorKind", "macs",
           "params", "verify"]
