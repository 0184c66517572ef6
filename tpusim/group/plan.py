"""A layer group as compiled: its ops, slices, timestep table and local-memory use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from tpusim.ir.graph import Op

if TYPE_CHECKING:
    from tpusim.group.lmem import Allocation

Shape = tuple[int, ...]

PIPELINE_STAGES = 3  # load next slice, compute this one, store the previous one


class GroupType(Enum):
    """tpu-mlir's group types (Module.h) that change slicing or layout here."""

    NORMAL = "normal"  # NCHW: slices n and h
    MM = "mm"  # matmul-friendly ops: slices n, c and h in that order
    THREE_D = "3d"  # 5-D tensors laid out as (d*n, c, h, w)
    SMALL_C = "small_c"  # h moved to the lanes, n*c*h merged (only in tpu-mlir's own programs)


@dataclass(frozen=True)
class Secs:
    """How many slices along dims 0, 1 and 2 (tpu-mlir's nsecs, csecs, hsecs), and along d and
    w, which only tpu-mlir's own programs cut (dsecs, wsecs)."""

    n: int = 1
    c: int = 1
    h: int = 1
    d: int = 1
    w: int = 1

    @property
    def total(self) -> int:
        return self.n * self.c * self.h * self.d * self.w

    def __str__(self) -> str:
        extra = "".join(f" {axis}{n}" for axis, n in (("d", self.d), ("w", self.w)) if n > 1)
        return f"n{self.n} c{self.c} h{self.h}{extra}"


@dataclass(frozen=True)
class Transfer:
    """A load or store of one tensor in a timestep row, at a pipeline stage."""

    tensor: str
    store: bool
    stage: int  # 0: for the next slice, 1: this slice, 2: for the previous slice
    op: int  # index (in the group) of the op it serves: consumer of a load, producer of a store
    held: bool = False  # a weight loaded once, with the first slice, and kept
    layer: str = ""  # the layer it is charged to, if not the op it serves (tpu-mlir's Load/Store)


@dataclass(frozen=True)
class Compute:
    """An op the TIU runs in a timestep row, at a pipeline stage (1 in tpusim's own groups)."""

    op: int
    stage: int = 1


@dataclass
class Row:
    """One timestep: what the TIU computes beside the GDMA transfers. Rows tpusim builds hold
    one op; rows read from a tpu-mlir program may hold several, or none."""

    computes: list[Compute] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)


@dataclass
class GroupPlan:
    index: int
    ops: list[Op]
    type: GroupType
    secs: Secs
    slices: Sequence[dict[str, Shape]]  # per slice, in execution order: each sliced tensor's shape
    rows: list[Row]
    held: list[str]  # weights loaded once and kept
    lmem_bytes: int  # peak per lane
    estimate_ns: float = 0.0  # tpu-mlir's getGroupCycle formula, with tpusim's command costs
    lmem: Allocation | None = None  # every buffer's address and banks (group/lmem.py)

    @property
    def names(self) -> list[str]:
        return [op.name for op in self.ops]


@dataclass
class Segment:
    """What the grouping makes of the ops: one op run as a global layer (plan is None), or a
    group."""

    ops: list[Op]
    plan: GroupPlan | None = None
