"""What a tpu-mlir `*_final.mlir` file says, as plain frozen data (read by `mlir_text`).

The file is MLIR's generic text form after layer grouping and address assignment. A module holds
functions; `main` calls `subfunc_N`, which holds the compiled program: `top.Weight` constants,
global operators (DDR in, DDR out) and `tpu.Group` ops whose region holds `tpu.Load`,
local operators and `tpu.Store`, each with a `ginfo = #tpu.lg<...>` attribute (`LayerGroupInfo`).

Value names are kept as the file spells them ("%5", "%arg0", "%9#1" for the second result of
"%9:2 = ..."). A group's region numbers its values on from the enclosing function, and every
region restarts from the same number, so a name is unique only within one scope: look names up
with `defining_ops` over one scope (a function's top level, or one group's body).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tpusim.errors import ModelError

# Bits per element of the non-integer element types tpu-mlir writes (integers: from the name).
_FLOAT_BITS = {"f64": 64, "f32": 32, "tf32": 32, "f16": 16, "bf16": 16, "index": 64}


@dataclass(frozen=True)
class TensorType:
    """A tensor type, e.g. `tensor<1x3136x96xsi8, 4294967296 : i64>`.

    `dtype` is the storage element type in MLIR's spelling: f32, f16, bf16, si8, ui8, i8, si32,
    i32, ...; for quantised types it is the storage type (`!quant.uniform<i8:f32, s>` is "si8",
    `<u8:...>` is "ui8") or, for `!quant.calibrated<f32<lo:hi>>`, the expressed float type;
    MLIR's `none` type is dtype "none" with shape (). `address` is the DDR address tpu-mlir puts
    in the encoding of global tensors (None inside groups, where tensors live in local memory).
    `quant` keeps the `!quant...` text. A dynamic dimension (`?`) is -1.
    """

    shape: tuple[int, ...]
    dtype: str
    address: int | None = None
    quant: str | None = None

    @property
    def is_none(self) -> bool:
        return self.dtype == "none"

    @property
    def elements(self) -> int:
        return 0 if self.is_none else math.prod(self.shape)

    @property
    def element_bits(self) -> int:
        if self.is_none:
            return 0
        if self.dtype in _FLOAT_BITS:
            return _FLOAT_BITS[self.dtype]
        if self.dtype.startswith("f8"):
            return 8
        return int(self.dtype.lstrip("su")[1:])  # i8, si8, ui16, i1, ...

    @property
    def nbytes(self) -> int:
        """Storage size in bytes (whole bytes per element; 0 for `none`)."""
        return self.elements * math.ceil(self.element_bits / 8)

    def __str__(self) -> str:
        dims = "x".join("?" if d < 0 else str(d) for d in self.shape)
        where = "" if self.address is None else f" @{self.address:#x}"
        return f"{dims}x{self.dtype}{where}" if dims else f"{self.dtype}{where}"


@dataclass(frozen=True)
class OpaqueAttr:
    """An attribute tpusim keeps as text: `#tpu<round_mode HalfUp>`, `dense<...> : ...`, `@f`."""

    text: str

    @property
    def value(self) -> str:
        """The last word inside the brackets: "HalfUp" for `#tpu<round_mode HalfUp>`."""
        inner = self.text[self.text.find("<") + 1:self.text.rfind(">")]
        return inner.split()[-1] if inner.split() else inner

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class LayerGroupInfo:
    """One op's `ginfo = #tpu.lg<...>` (tpu-mlir's LayerGroupAttr) inside a `tpu.Group`.

    `out_addr`/`out_size`: the op's output buffer in local memory (bytes, per NPU lane);
    `buffer_addr`/`buffer_size`: its scratch buffer. `n_idx`/`n_slice` ... `w_idx`/`w_slice`:
    start and length of every slice along that axis, one entry per slice. `id` is the op's
    number in the group's `flow`; `stage` its software-pipeline stage (0 load of the next slice,
    1 compute, 2 store of the previous slice). Fields tpusim does not know go to `extra`.
    """

    out_addr: int
    out_size: int
    buffer_addr: int
    buffer_size: int
    eu_align: bool
    can_merge: bool
    in_hslice_offset: tuple[int, ...]
    n_idx: tuple[int, ...]
    n_slice: tuple[int, ...]
    c_idx: tuple[int, ...]
    c_slice: tuple[int, ...]
    d_idx: tuple[int, ...]
    d_slice: tuple[int, ...]
    h_idx: tuple[int, ...]
    h_slice: tuple[int, ...]
    w_idx: tuple[int, ...]
    w_slice: tuple[int, ...]
    id: int
    stage: int
    slice_idx: int
    group_type: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def slice_counts(self) -> tuple[int, int, int, int, int]:
        """How many slices along n, c, d, h, w."""
        return (len(self.n_slice), len(self.c_slice), len(self.d_slice), len(self.h_slice),
                len(self.w_slice))


@dataclass(frozen=True)
class GroupAttrs:
    """The attributes of one `tpu.Group` op.

    `nsecs`...`wsecs`: slices along each axis; `flow`: the timestep table as tpu-mlir stores it
    (a negative number -k opens timestep k-1, the numbers after it are the `ginfo.id`s of the
    ops run in that timestep); `swpipl_stage_num`: software-pipeline depth; `group_type`:
    0 NORMAL, 1 3D, 2 SMALL_C, 3 MM_INT4, 4 MM, 5 MM_OPT3. The overlap lists name ops borrowed
    from the neighbouring groups (all empty in the programs seen so far).
    """

    nsecs: int
    csecs: int
    dsecs: int
    hsecs: int
    wsecs: int
    swpipl_stage_num: int
    group_type: int
    flow: tuple[int, ...]
    self_up_overlap_op: tuple[int, ...] = ()
    self_down_overlap_op: tuple[int, ...] = ()
    other_up_overlap_op: tuple[int, ...] = ()
    other_down_overlap_op: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def timesteps(self) -> tuple[tuple[int, ...], ...]:
        """`flow` as rows of op ids, one row per timestep."""
        rows: list[list[int]] = []
        for number in self.flow:
            if number < 0:
                rows.append([])
            else:
                rows[-1].append(number)
        return tuple(tuple(row) for row in rows)

    @property
    def loop_count(self) -> int:
        """Slices the group iterates over (every axis, c included; a secs of 0 counts as 1)."""
        return math.prod(max(1, s) for s in (self.nsecs, self.csecs, self.dsecs, self.hsecs,
                                             self.wsecs))


@dataclass(frozen=True, eq=False)  # compared and hashed by identity
class MlirOp:
    """One operation. `name` is the full MLIR name ("tpu.MatMul", "top.Weight", "func.call",
    "func.return"); `loc` the names of its location (one for `loc("add0")`, one per part of a
    fused location, none for `loc(unknown)`); `line` where it starts in the file."""

    name: str
    results: tuple[str, ...]
    operands: tuple[str, ...]
    result_types: tuple[TensorType, ...]
    operand_types: tuple[TensorType, ...]
    attrs: dict[str, Any]
    regions: tuple[tuple[MlirOp, ...], ...]
    loc: tuple[str, ...]
    line: int
    group_attrs: GroupAttrs | None = None

    @property
    def kind(self) -> str:
        """The name without its dialect: "MatMul" for "tpu.MatMul"."""
        return self.name.rpartition(".")[2]

    @property
    def loc_name(self) -> str:
        """The first location name ("" when unknown): tpu-mlir's name of the op's output."""
        return self.loc[0] if self.loc else ""

    @property
    def ginfo(self) -> LayerGroupInfo | None:
        value = self.attrs.get("ginfo")
        return value if isinstance(value, LayerGroupInfo) else None

    @property
    def body(self) -> tuple[MlirOp, ...]:
        """The ops of the first region (empty when the op has none)."""
        return self.regions[0] if self.regions else ()

    @property
    def is_group(self) -> bool:
        return self.name == "tpu.Group"


@dataclass(frozen=True)
class FuncArg:
    name: str
    type: TensorType
    loc: tuple[str, ...]


@dataclass(frozen=True)
class MlirGroup:
    """A view of one `tpu.Group` op: its attributes and its ops by role."""

    op: MlirOp

    @property
    def attrs(self) -> GroupAttrs:
        assert self.op.group_attrs is not None
        return self.op.group_attrs

    @property
    def ops(self) -> tuple[MlirOp, ...]:
        """Every op of the region except the closing `tpu.Yield`, in file order."""
        return tuple(op for op in self.op.body if op.name != "tpu.Yield")

    @property
    def loads(self) -> tuple[MlirOp, ...]:
        return tuple(op for op in self.ops if op.name == "tpu.Load")

    @property
    def stores(self) -> tuple[MlirOp, ...]:
        return tuple(op for op in self.ops if op.name == "tpu.Store")

    @property
    def compute_ops(self) -> tuple[MlirOp, ...]:
        """The local operators (everything but loads and stores)."""
        return tuple(op for op in self.ops if op.name not in ("tpu.Load", "tpu.Store"))

    def by_id(self) -> dict[int, MlirOp]:
        """Ops by `ginfo.id`, the numbers `flow` uses."""
        return {op.ginfo.id: op for op in self.ops if op.ginfo is not None}

    def timesteps(self) -> tuple[tuple[MlirOp, ...], ...]:
        """The timestep table with ops in place of ids."""
        ops = self.by_id()
        return tuple(tuple(ops[i] for i in row) for row in self.attrs.timesteps)

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.op.operands

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.op.results


# Top-level ops that do no work on the chip: constants, the input marker, scratch buffers.
NOT_LAYERS = frozenset({"top.Weight", "top.None", "top.Input", "tpu.Buffer", "func.return",
                         "func.call"})


@dataclass(frozen=True, eq=False)  # compared and hashed by identity
class MlirFunc:
    name: str
    args: tuple[FuncArg, ...]
    result_types: tuple[TensorType, ...]
    ops: tuple[MlirOp, ...]
    attrs: dict[str, Any]
    loc: tuple[str, ...]
    line: int

    def groups(self) -> tuple[MlirGroup, ...]:
        return tuple(MlirGroup(op) for op in self.ops if op.is_group)

    def global_ops(self) -> tuple[MlirOp, ...]:
        """Top-level ops that run as global layers (not groups, constants, buffers, calls)."""
        return tuple(op for op in self.ops if not op.is_group and op.name not in NOT_LAYERS)

    def weights(self) -> tuple[MlirOp, ...]:
        return tuple(op for op in self.ops if op.name == "top.Weight")

    def buffers(self) -> tuple[MlirOp, ...]:
        """`tpu.Buffer` ops: DDR scratch space some global layers use."""
        return tuple(op for op in self.ops if op.name == "tpu.Buffer")

    def returned(self) -> tuple[str, ...]:
        """The values the function returns."""
        last = self.ops[-1] if self.ops else None
        return last.operands if last is not None and last.name == "func.return" else ()

    def vendor_layer_ids(self, first: int | None = None) -> dict[int, MlirOp]:
        """The numbers tpu-mlir's profile gives layers ("Load_15" is layer 15) -> the ops.

        Ops are numbered in file order from `first`, a group's body right after the group op,
        and one number is spent after each body. Inferred from the data, not from tpu-mlir's
        code: every fixture and the Swin-T programs (single subfunc, one input) start at 11,
        ERNIE's (two inputs) at 13: two numbers more per input (its top.Input in main and its
        argument here), so `first` defaults to 9 + 2 per argument.
        """
        if first is None:
            first = 9 + 2 * len(self.args)
        numbers: dict[int, MlirOp] = {}

        def number(ops: tuple[MlirOp, ...], next_id: int) -> int:
            for op in ops:
                numbers[next_id] = op
                next_id += 1
                for region in op.regions:
                    next_id = number(region, next_id) + 1
            return next_id

        number(self.ops, first)
        return numbers

    def defining_ops(self) -> dict[str, MlirOp | FuncArg]:
        """Top-level value name -> the op (or argument) that defines it."""
        table: dict[str, MlirOp | FuncArg] = {arg.name: arg for arg in self.args}
        table.update(defining_ops(self.ops))
        return table


def defining_ops(ops: Iterable[MlirOp]) -> dict[str, MlirOp]:
    """Value name -> defining op, for the ops of one scope (one function or one group body)."""
    return {result: op for op in ops for result in op.results}


@dataclass(frozen=True, eq=False)  # compared and hashed by identity
class MlirModule:
    """A module: its attributes, functions and nested modules. tpu-mlir writes an outer module
    with the compile settings (module.chip, module.mode, ...) around an inner one with the
    memory layout (module.coeff_addr, module.neuron_addr, ...) that holds the functions."""

    name: str
    attrs: dict[str, Any]
    funcs: tuple[MlirFunc, ...]
    modules: tuple[MlirModule, ...]
    source: str

    def all_funcs(self) -> tuple[MlirFunc, ...]:
        """Functions of this module and every nested one, in file order."""
        nested = tuple(f for m in self.modules for f in m.all_funcs())
        return self.funcs + nested

    def all_attrs(self) -> dict[str, Any]:
        """Attributes of this module and the nested ones, merged (inner ones win)."""
        merged = dict(self.attrs)
        for module in self.modules:
            merged.update(module.all_attrs())
        return merged

    def func(self, name: str) -> MlirFunc:
        for f in self.all_funcs():
            if f.name == name:
                return f
        raise KeyError(name)

    def program_funcs(self) -> tuple[MlirFunc, ...]:
        """The functions that hold compiled code: all but `main` (which only calls them)."""
        return tuple(f for f in self.all_funcs() if f.name != "main")

    def _text_attr(self, name: str) -> str | None:
        value = self.all_attrs().get(name)
        if value is not None and not isinstance(value, str):
            raise ModelError(f"{self.source}: {name} must be a string, not {value}")
        return value

    @property
    def chip(self) -> str | None:
        return self._text_attr("module.chip")

    @property
    def mode(self) -> str | None:
        """"F32", "F16", "BF16", "INT8", ... as tpu-mlir's module.mode says."""
        return self._text_attr("module.mode")
