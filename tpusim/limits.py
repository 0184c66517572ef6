"""Bounds that protect the machine: a model or a program too large to hold in memory fails
early with a message, instead of exhausting memory minutes later.

- `MAX_OPS`, `MAX_TENSOR_ELEMENTS`: checked on a graph right after it is loaded
  (`load_model`; an ONNX file's node count before any node is converted). Swin-B at batch 64
  has 938 operators and under 2^27 elements in its largest tensor; a graph beyond either bound
  is a mistake (a wrong batch, a corrupted shape) or more than any chip tpusim models holds.
- `MAX_COMMANDS`: checked while lowering, command by command, so the compiler stops before it
  has built more. A command with its simulation record takes about 500 bytes, so the default
  bound keeps a run to a few GB; Swin-T at batch 1 is about 7,400 commands.
- `MAX_SWEEP_POINTS`: the points of one sweep (`--set ddr_gbps=1:2:100000000` is refused
  before a list of its values is made).

Every bound but the last can be raised (or lowered) per call:
`load_model(..., max_ops=, max_elements=)`, `compile(..., max_commands=)` (and `sweep`,
`sensitivity`, `run_suite`, `load_program`), and `--max-commands` on the command line.
"""

from __future__ import annotations

from tpusim.errors import ModelError, TpusimError
from tpusim.ir.graph import Graph

MAX_OPS = 1_000_000
MAX_TENSOR_ELEMENTS = 2**40
MAX_COMMANDS = 5_000_000
MAX_SWEEP_POINTS = 100_000  # a what-if study: each point is a simulation (Swin-T: ~0.3 s)


def check_model_size(graph: Graph, where: str | None = None, max_ops: int = MAX_OPS,
                     max_elements: int = MAX_TENSOR_ELEMENTS) -> Graph:
    """`graph` itself, or a ModelError naming the bound it exceeds."""
    where = where or f"model {graph.name!r}"
    if len(graph.ops) > max_ops:
        raise ModelError(f"{where}: {len(graph.ops):,} operators, more than the bound of "
                         f"{max_ops:,} (max_ops)")
    for tensor in graph.tensors.values():
        if tensor.numel > max_elements:
            raise ModelError(f"{where}: tensor {tensor.name!r} {list(tensor.shape)} has "
                             f"{tensor.numel:,} elements, more than the bound of "
                             f"{max_elements:,} (max_elements)")
    return graph


def check_bound(name: str, value: int) -> int:
    """A bound given by the user: a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TpusimError(f"{name} must be a positive integer, got {value!r}")
    return value
