"""Commands: what the TIU and GDMA engines execute, with what the cost model needs to know.

Each engine runs its own in-order queue. A command carries its id on its engine (1, 2, ...) and
`dep`, the id of the command on the other engine it waits for (0: none) - tpu-mlir's
cmd_id / cmd_id_dep. The `work` is a small frozen record the cost model prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Graph, Op


class Engine(Enum):
    __hash__ = object.__hash__  # members are singletons: identity hashes, fast
    TIU = "TIU"
    GDMA = "GDMA"

    @property
    def other(self) -> Engine:
        return Engine.GDMA if self is Engine.TIU else Engine.TIU


# ---- TIU work, by instruction class -------------------------------------------------------
# Shapes are lane views (n, c, h, w): c is spread over the NPU lanes, h*w lies inside a lane.


@dataclass(frozen=True, slots=True)
class Conv:
    """CONV: n x oc x oh x ow outputs, each reducing ic x kh x kw inputs on the cube."""

    n: int
    oc: int
    oh: int
    ow: int
    ic: int
    kh: int
    kw: int
    dtype: DType
    kind = "CONV"


@dataclass(frozen=True, slots=True)
class MatMul:
    """`batch` products of (m x k) by (k x n).

    On the cube (MM2, 16-bit and int8), m rows spread over the lanes. F32 products run as MM
    instead: the n outputs lie over the lanes in blocks of `lane_width` (the backend's W), each
    lane producing one EU group per step; `accumulate` adds one pass for a partial sum or a
    bias folded into the command."""

    m: int
    k: int
    n: int
    dtype: DType
    batch: int = 1
    lane_width: int = 0  # 0: MM2 on the cube; > 0: MM with outputs in blocks of this width
    accumulate: bool = False

    @property
    def kind(self) -> str:
        return "MM" if self.lane_width else "MM2"


@dataclass(frozen=True, slots=True)
class Arith:
    """An EU instruction over an (n, c, h, w) view, `passes` EU passes per element group.

    `aligned` views start every h row on a fresh EU group (line-aligned rows, as softmax and
    layer-norm statistics lie). `kind` is the instruction class tpu-mlir's profiles name: AR
    (arithmetic), RQDQ (requantise), FUSED_CMP (compare-and-select)."""

    n: int
    c: int
    h: int
    w: int
    dtype: DType
    op: str = "add"
    passes: float = 1
    aligned: bool = False
    kind: str = "AR"


@dataclass(frozen=True, slots=True)
class Special:
    """SFU: a transcendental (exp, rsqrt, log, ...) over an (n, c, h, w) view; its EU passes
    per element group come from the chip, by function and dtype."""

    n: int
    c: int
    h: int
    w: int
    dtype: DType
    op: str = "exp"
    aligned: bool = False
    kind = "SFU"


@dataclass(frozen=True, slots=True)
class Lookup:
    """SG: a table lookup per element (int8 activations become tables)."""

    n: int
    c: int
    h: int
    w: int
    dtype: DType
    kind = "SG"


@dataclass(frozen=True, slots=True)
class Pool:
    """PorD: windowed reduction (pooling, depthwise conv, row sums) into (n, c, h, w)."""

    n: int
    c: int
    h: int
    w: int
    window: int
    dtype: DType
    op: str = "avg"
    aligned: bool = False
    kind = "PorD"


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Copies rows across lanes (LANE_BC, LANE_COPY: one EU group of a `w`-wide row per cycle,
    for each of `rows` rows) or a constant into place (STATIC_BC, DISTRIBUTE_BC: one cycle)."""

    rows: int
    w: int
    dtype: DType
    kind: str = "LANE_BC"


TiuWork = Conv | MatMul | Arith | Special | Lookup | Pool | Broadcast


# ---- GDMA work -----------------------------------------------------------------------------


class Direction(Enum):
    __hash__ = object.__hash__  # members are singletons: identity hashes, fast
    S2L = "S2L"  # DDR -> local memory (load)
    L2S = "L2S"  # local memory -> DDR (store)
    S2S = "S2S"  # DDR -> DDR (copy, permute)
    L2L = "L2L"  # local -> local

@dataclass(frozen=True, slots=True)
class Dma:
    """A transfer of `rows` contiguous runs of `row_bytes` each."""

    direction: Direction
    rows: int
    row_bytes: int
    kind: str = "GDMA_TENSOR"

    @property
    def bytes(self) -> int:
        return self.rows * self.row_bytes


Work = TiuWork | Dma


@dataclass(slots=True)
class Command:
    engine: Engine
    id: int
    dep: int
    work: Work
    layer: int  # index into Program.layers
    group: int = -1  # layer group index, -1 for a global layer
    slice: int = -1  # slice index inside a group or a global layer's tile
    tensor: str = ""  # the tensor a GDMA command moves

    @property
    def kind(self) -> str:
        return self.work.kind


@dataclass
class Layer:
    """One op as it runs: globally (DDR in, DDR out) or locally inside a group."""

    name: str
    kind: str
    group: int = -1  # -1: global layer
    macs: int = 0
    tiles: int = 1
    lmem_bytes: int = 0  # peak local memory per lane while it runs (its group's, if local)


@dataclass
class Program:
    """Two command queues plus what they came from."""

    name: str
    chip: str
    precision: str
    layers: list[Layer] = field(default_factory=list)
    tiu: list[Command] = field(default_factory=list)
    gdma: list[Command] = field(default_factory=list)
    groups: list = field(default_factory=list)  # group plans (tpusim.group), empty if none
    graph: Graph | None = None  # the compiled graph the commands came from
    options: object = None  # the compiler options (tpusim.options.Options) used

    def queue(self, engine: Engine) -> list[Command]:
        return self.tiu if engine is Engine.TIU else self.gdma

    def local_ops(self) -> dict[int, Op]:
        """Layer index -> the op that layer runs inside its group (layers of groups only)."""
        ops = {(plan.index, op.name): op for plan in self.groups for op in plan.ops}
        return {i: ops[layer.group, layer.name] for i, layer in enumerate(self.layers)
                if (layer.group, layer.name) in ops}

    @property
    def commands(self) -> int:
        return len(self.tiu) + len(self.gdma)
