"""A program compiled by tpu-mlir (`*_final.mlir`) as tpusim can execute it, as compiled.

tpu-mlir has already decided everything tpusim's passes and grouping would: which operators run
global and which inside layer groups, each group's slices, timestep rows and pipeline stages,
and every tensor's dtype. `import_final_mlir` keeps those decisions: global operators become
tpusim ops (run through the same kernels and cost model as tpusim's own), and each `tpu.Group`
becomes a `GroupPlan` built from the file (its secs, per-slice shapes from each op's `ginfo`, its
timestep rows from `flow` with each op's stage, its loads and stores as transfers charged to
tpu-mlir's Load and Store layers, weights held when the group loops). `tpusim.lower.imported`
turns the result into command queues.

Layers are numbered as tpu-mlir's profile numbers them (`vendor_id`, "Load_14" is 14), so a
vendor profile can be laid beside tpusim's timeline layer by layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tpusim.errors import ModelError
from tpusim.frontend.mlir_model import (
    NOT_LAYERS,
    LayerGroupInfo,
    MlirFunc,
    MlirGroup,
    MlirModule,
    MlirOp,
    TensorType,
)
from tpusim.frontend.onnx_import import warn_unknown
from tpusim.frontend.tpu_mlir_ops import convert, dtype_of, local_axis, shape_of
from tpusim.frontend.tpu_mlir_slices import (
    SMALL_C,
    full_dims,
    is_cut,
    loop_steps,
    shape_rule,
    slice_dims,
)
from tpusim.group.lmem import Allocation, Buffer, plan_lifetimes, scratch_name
from tpusim.group.plan import Compute, GroupPlan, GroupType, Row, Secs, Transfer
from tpusim.ir.graph import Graph, Op, Tensor, TensorKind, fresh_name
from tpusim.ir.ops import OpKind
from tpusim.limits import MAX_COMMANDS

__all__ = ["ImportedLayer", "ImportedModel", "import_final_mlir"]

# tpu-mlir's group_type numbers -> tpusim's layouts (MM_INT4 and MM_OPT3 slice as MM does).
_GROUP_TYPES = {0: GroupType.NORMAL, 1: GroupType.THREE_D, 2: GroupType.SMALL_C,
                3: GroupType.MM, 4: GroupType.MM, 5: GroupType.MM}


@dataclass
class ImportedLayer:
    """One layer of the program: a global op, or one op of a group's region (Load, a local
    operator, Store). `kind` is tpu-mlir's operator name without its dialect."""

    name: str
    kind: str
    group: int  # -1: a global layer
    vendor_id: int | None  # the number tpu-mlir's profile gives the layer


@dataclass
class ImportedModel:
    name: str
    chip: str  # module.chip, e.g. "bm1684x"
    mode: str  # module.mode: "F32", "F16", "BF16", "INT8", ...
    graph: Graph  # every tensor and op (global and local) of the program
    layers: list[ImportedLayer]
    steps: list[GroupPlan | str]  # in execution order: a group, or a global layer's op name
    unknown: list[Op] = field(default_factory=list)  # ops costed by the Opaque fallback


def import_final_mlir(module: MlirModule, source: str = "<final.mlir>",
                      max_commands: int = MAX_COMMANDS) -> ImportedModel:
    """The program of a parsed final.mlir. Operators tpusim has no rule for get the Opaque
    fallback and one `UnknownOperatorWarning` naming them. A group of more loop iterations
    than `max_commands` (each is a command at least) is refused before they are listed."""
    importer = _Importer(source, max_commands)
    funcs = module.program_funcs()
    if not funcs:
        raise ModelError(f"{source}: no compiled function (only 'main', or none at all)")
    for func in funcs:
        importer.func(func)
    if not importer.steps:
        raise ModelError(f"{source}: the program runs no operator")
    graph = Graph(module.name or "tpu_mlir", importer.tensors, importer.ops, importer.inputs,
                  importer.outputs)
    model = ImportedModel(module.name or "tpu_mlir", module.chip or "", module.mode or "",
                          graph, importer.layers, importer.steps, importer.unknown)
    if model.unknown:
        warn_unknown(source, model.unknown, stacklevel=2)
    return model


class _Names:
    """Unique names: "add0", then "add0#2", "add0#3", ..."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def __call__(self, base: str) -> str:
        name = fresh_name(base, self._used, "#", 2)
        self._used.add(name)
        return name


class _Importer:
    def __init__(self, source: str, max_commands: int = MAX_COMMANDS) -> None:
        self.source, self.max_commands = source, max_commands
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.layers: list[ImportedLayer] = []
        self.steps: list[GroupPlan | str] = []
        self.unknown: list[Op] = []
        self._tensor_name, self._layer_name = _Names(), _Names()
        self._ids: dict[int, int] = {}
        self._buffers: set[str] = set()

    def where(self, op: MlirOp) -> str:
        return f"{self.source}:{op.line}"

    # ---- tensors, layers, ops -------------------------------------------------------------

    def tensor(self, base: str, t: TensorType, where: str,
               kind: TensorKind = TensorKind.ACTIVATION, shape: tuple[int, ...] | None = None
               ) -> str:
        name = self._tensor_name(base)
        self.tensors[name] = Tensor(name, shape or shape_of(t), dtype_of(t, where), kind)
        return name

    def layer(self, op: MlirOp, group: int, prefix: str = "") -> str:
        """A layer for `op`, named after its location (a Store's location is its tensor's)."""
        name = self._layer_name(prefix + (op.loc_name or op.kind.lower()))
        self.layers.append(ImportedLayer(name, op.kind, group, self._ids.get(id(op))))
        return name

    def data_operands(self, op: MlirOp, scope: dict[str, str]) -> tuple[list[str],
                                                                         list[TensorType]]:
        """Tensor names and types of the operands that carry data (not `none`, not the DDR
        scratch buffers some global layers take)."""
        names, types = [], []
        for value, t in zip(op.operands, op.operand_types):
            if t.is_none or value in self._buffers:
                continue
            if value not in scope:
                raise ModelError(f"{self.where(op)}: {op.name} uses {value}, which is not "
                                 "defined before it")
            names.append(scope[value])
            types.append(t)
        return names, types

    def add_op(self, op: MlirOp, name: str, ins: list[str], types: list[TensorType],
               outs: list[str]) -> Op:
        converted = convert(op, name, ins, types, outs, self.where(op))
        for extra in converted.extra:
            self.tensors.setdefault(extra.name, extra)
        if converted.unknown:
            self.unknown.append(converted.op)
        return converted.op

    # ---- functions ------------------------------------------------------------------------

    def func(self, func: MlirFunc) -> None:
        self._ids = {id(op): number for number, op in func.vendor_layer_ids().items()}
        scope: dict[str, str] = {}
        for arg in func.args:
            scope[arg.name] = self.tensor(arg.loc[0] if arg.loc else "input", arg.type,
                                          f"{self.source}:{func.line}")
            self.inputs.append(scope[arg.name])
        for op in func.ops:
            if op.name == "top.Weight":
                scope[op.results[0]] = self.tensor(op.loc_name or "weight", op.result_types[0],
                                                   self.where(op), TensorKind.WEIGHT)
            elif op.name == "tpu.Buffer":
                self._buffers.update(op.results)
            elif op.name == "func.return":
                self.outputs += [scope[v] for v in op.operands if v in scope]
            elif op.is_group:
                self.group(MlirGroup(op), scope)
            elif op.name not in NOT_LAYERS:
                self.global_op(op, scope)

    def global_op(self, op: MlirOp, scope: dict[str, str]) -> None:
        ins, types = self.data_operands(op, scope)
        name = self.layer(op, -1)
        outs = [self.tensor(name if i == 0 else f"{name}:{i}", t, self.where(op))
                for i, t in enumerate(op.result_types)]
        scope.update(zip(op.results, outs))
        self.ops.append(self.add_op(op, name, ins, types, outs))
        self.steps.append(name)

    def group(self, group: MlirGroup, scope: dict[str, str]) -> None:
        self.steps.append(_GroupBuilder(self, group, scope,
                                        sum(isinstance(s, GroupPlan) for s in self.steps)).build())


class _GroupBuilder:
    """One `tpu.Group` as a GroupPlan. The region sees the enclosing values; its own names
    (which repeat from region to region) shadow them in `local`."""

    def __init__(self, importer: _Importer, group: MlirGroup, scope: dict[str, str],
                 index: int) -> None:
        self.im, self.group, self.scope, self.index = importer, group, scope, index
        self.attrs = group.attrs
        self.local = dict(scope)
        self.rules: dict[str, Callable] = {}  # local tensor -> slice dims to shape
        self.infos: dict[str, LayerGroupInfo] = {}  # local tensor -> the ginfo of its defining op
        self.ops: list[Op] = []
        self.index_of: dict[int, int] = {}  # id(compute MlirOp) -> index in self.ops
        self.transfers: dict[int, Transfer] = {}  # id(Load/Store MlirOp) -> its transfer
        self.held: list[str] = []
        self.scratch: dict[int, LayerGroupInfo] = {}  # op index -> its ginfo (scratch buffer)

    def local_tensor(self, op: MlirOp, base: str, t: TensorType, kind: TensorKind) -> str:
        info = op.ginfo
        original = shape_of(t)
        rule = shape_rule(info, original, self.attrs.group_type)
        name = self.im.tensor(base, t, self.im.where(op), kind, rule(full_dims(info)))
        self.rules[name], self.infos[name] = rule, info
        return name

    def build(self) -> GroupPlan:
        attrs, im = self.attrs, self.im
        if attrs.group_type not in _GROUP_TYPES:
            raise ModelError(f"{im.where(self.group.op)}: unknown group_type "
                             f"{attrs.group_type}")
        iterations = attrs.loop_count
        if iterations > im.max_commands:
            raise ModelError(f"{im.where(self.group.op)}: {iterations:,} slices (nsecs x csecs "
                             f"x dsecs x hsecs x wsecs), more than the bound of "
                             f"{im.max_commands:,} commands (max_commands)")
        for op in self.group.ops:
            if op.ginfo.stage not in (0, 1, 2):
                raise ModelError(f"{im.where(op)}: stage {op.ginfo.stage} (tpusim runs "
                                 "3-stage pipelines: stages 0, 1, 2)")
            if op.name == "tpu.Load":
                self.load(op, iterations)
            elif op.name == "tpu.Store":
                self.store(op)
            else:
                self.compute(op)
        yielded = next((op.operands for op in self.group.op.body if op.name == "tpu.Yield"), ())
        self.scope.update((result, self.local[value]) for result, value in
                          zip(self.group.outputs, yielded) if value in self.local)
        self.resolve_transfers()
        rows = [self.row(ops) for ops in self.group.timesteps()]
        lmem = max((max(i.out_addr + i.out_size, i.buffer_addr + i.buffer_size)
                    for i in (op.ginfo for op in self.group.ops)), default=0)
        secs = Secs(attrs.nsecs, attrs.csecs, attrs.hsecs, attrs.dsecs, attrs.wsecs)
        plan = GroupPlan(self.index, self.ops, _GROUP_TYPES[attrs.group_type], secs,
                         self.slices(), rows, self.held, lmem)
        plan.lmem = self.allocation(plan)
        return plan

    def allocation(self, plan: GroupPlan) -> Allocation:
        """tpu-mlir's own addresses: each op's result at out_addr, its scratch at
        buffer_addr, alive in the rows the timestep table gives them."""
        alive: dict[str, set[int]] = {}
        for t, first, last in plan_lifetimes(plan):
            alive.setdefault(t, set()).update(range(first, last + 1))
        every = set(range(len(plan.rows)))
        buffers = [Buffer(t, info.out_addr, info.out_size, frozenset(alive.get(t, every)))
                   for t, info in self.infos.items() if info.out_size > 0]
        rows = {c.op: r for r, row in enumerate(plan.rows) for c in row.computes}
        for i, info in self.scratch.items():
            if info.buffer_size > 0:
                buffers.append(Buffer(scratch_name(self.ops[i].name), info.buffer_addr,
                                      info.buffer_size, frozenset({rows.get(i, 0)})))
        return Allocation(sorted(buffers, key=lambda b: (b.addr, min(b.rows, default=0))))

    def load(self, op: MlirOp, loops: int) -> None:
        source = self.local.get(op.operands[0]) if op.operands else None
        if source is None:
            raise ModelError(f"{self.im.where(op)}: tpu.Load reads a value not defined before")
        kind = self.im.tensors[source].kind
        name = self.local_tensor(op, op.loc_name or "load", op.result_types[0], kind)
        self.local[op.results[0]] = name
        # A weight the group does not cut is loaded with the first slice and kept
        # (tpu-mlir's hold_coeff).
        held = kind is not TensorKind.ACTIVATION and loops > 1 and not is_cut(op.ginfo)
        if held:
            self.held.append(name)
        self.transfers[id(op)] = Transfer(name, False, op.ginfo.stage, -1, held,
                                          self.im.layer(op, self.index))

    def store(self, op: MlirOp) -> None:
        stored = self.local.get(op.operands[0]) if op.operands else None
        if stored is None:
            raise ModelError(f"{self.im.where(op)}: tpu.Store writes a value not defined before")
        if stored not in self.rules:  # it has no slices to store
            raise ModelError(f"{self.im.where(op)}: tpu.Store writes {op.operands[0]}, which "
                             "the group neither loads nor computes")
        layer = self.im.layer(op, self.index, "store_")
        self.local[op.results[0]] = self.im.tensor(op.loc_name or layer, op.result_types[0],
                                                   self.im.where(op))
        self.transfers[id(op)] = Transfer(stored, True, op.ginfo.stage, -1, False, layer)

    def compute(self, op: MlirOp) -> None:
        ins, types = self.im.data_operands(op, self.local)
        name = self.im.layer(op, self.index)
        outs = [self.local_tensor(op, name if i == 0 else f"{name}:{i}", t,
                                  TensorKind.ACTIVATION) for i, t in enumerate(op.result_types)]
        self.local.update(zip(op.results, outs))
        converted = self.im.add_op(op, name, ins, types, outs)
        if (self.attrs.group_type == SMALL_C and ins
                and converted.kind in (OpKind.LAYERNORM, OpKind.SOFTMAX)):
            axis = local_axis(converted.attr("axis", -1), shape_of(types[0]),
                              self.im.tensors[ins[0]].shape)
            converted = converted.with_attrs(axis=axis)
        self.index_of[id(op)] = len(self.ops)
        self.scratch[len(self.ops)] = op.ginfo
        self.ops.append(converted)
        self.im.ops.append(converted)

    def resolve_transfers(self) -> None:
        """Each transfer serves an op: a load its first reader (a convolution reads its
        weight as the OIHW view `_conv` makes of it), a store the producer."""
        readers: dict[str, int] = {}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                readers.setdefault(t.removesuffix(":oihw"), i)
        makers = {t: i for i, op in enumerate(self.ops) for t in op.outputs}
        for key, tr in self.transfers.items():
            served = (makers if tr.store else readers).get(tr.tensor, 0)
            self.transfers[key] = Transfer(tr.tensor, tr.store, tr.stage, served, tr.held,
                                           tr.layer)

    def row(self, ops: tuple[MlirOp, ...]) -> Row:
        row = Row()
        for op in ops:
            if id(op) in self.transfers:
                row.transfers.append(self.transfers[id(op)])
            else:
                row.computes.append(Compute(self.index_of[id(op)], op.ginfo.stage))
        return row

    def slices(self) -> list[dict[str, tuple[int, ...]]]:
        """Every local tensor's shape per iteration; iterations of equal shapes share a dict."""
        shared: dict[tuple, dict[str, tuple[int, ...]]] = {}
        result = []
        for step in loop_steps(self.attrs):
            shapes = {t: rule(slice_dims(self.infos[t], step)) for t, rule in self.rules.items()}
            key = tuple(shapes.values())
            result.append(shared.setdefault(key, shapes))
        return result
