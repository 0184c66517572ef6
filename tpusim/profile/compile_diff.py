"""tpusim's own compile of a network beside tpu-mlir's compile of the same network.

Both programs come from one ONNX file, and both compilers keep its tensor names: tpusim's ops
produce the ONNX outputs they replace, and tpu-mlir names each layer after its ONNX output with
a suffix ("/relu/Relu_output_0_Relu", "input/relu/Relu_output_0_Relu_f16" for a cast of the
input). So every layer of either program is charged to an *anchor*, an ONNX tensor, in network
order:

- a tpusim layer to the ONNX output its op produces, or else (an op a pass made) to the latest
  anchor among its inputs' producers;
- a tpu-mlir layer to the longest ONNX tensor name its name starts with; its Loads and Stores
  count for the op they serve, as tpusim charges its own transfers.

Rows are anchors: what each compiler issued for that tensor (layers, group, command counts,
cycles, DDR bytes) and its share of the wall time (layers running at once split each instant).
Segments are the shortest runs of anchors that no layer group of either program crosses: where
the two compilers grouped differently, a segment holds both groupings and the time each took.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tpusim.ir.graph import Graph
from tpusim.lower.commands import Program
from tpusim.outputs import dumps_json, staged_directory
from tpusim.profile.summary import time_shares
from tpusim.profile.tables import format_table, write_csv

if TYPE_CHECKING:
    from tpusim.sim.result import Result

SIDES = ("tpusim", "tpu-mlir")
DIFF_FILES = {
    "diff.txt": "totals, grouping and layers, largest differences first",
    "diff_layers.csv": "per ONNX tensor, in network order: both compiles side by side",
    "diff_segments.csv": "per run of layers no group crosses: each side's groups and time",
    "diff_kinds.csv": "per command kind: counts and cycles on both sides",
    "diff.json": "all of it",
}


@dataclass
class Share:
    """What one program spent on one anchor (or one segment)."""

    layers: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    groups: set[int] = field(default_factory=set)  # -1: a global layer
    tiu_n: int = 0
    tiu_ns: float = 0.0
    gdma_n: int = 0
    gdma_ns: float = 0.0
    ddr_bytes: int = 0
    time_ns: float = 0.0  # share of the wall time

    def placement(self, secs: dict[int, str]) -> str:
        """"G" (global), "g3 n1 c1 h4" (in group 3), joined by '+' when several."""
        if not self.layers:
            return ""
        return "+".join("G" if g < 0 else f"g{g} {secs.get(g, '')}".strip()
                        for g in sorted(self.groups))


@dataclass
class Row:
    anchor: str  # the ONNX tensor
    position: int  # network order
    sides: tuple[Share, Share]

    @property
    def delta_ns(self) -> float:
        return self.sides[0].time_ns - self.sides[1].time_ns


@dataclass
class Segment:
    first: str
    last: str
    anchors: int
    sides: tuple[Share, Share]

    @property
    def delta_ns(self) -> float:
        return self.sides[0].time_ns - self.sides[1].time_ns


@dataclass
class CompileDiff:
    model: str
    precision: str
    totals: dict[str, tuple[Any, Any]]
    rows: list[Row]
    segments: list[Segment]
    kinds: list[tuple[str, str, int, float, int, float]]  # engine, kind, n, ns, n, ns
    secs: tuple[dict[int, str], dict[int, str]]  # per side: group index -> "n1 c1 h4"

    @property
    def total_error(self) -> float | None:
        ours, vendor = self.totals["total_ms"]
        return ours / vendor - 1 if vendor else None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "precision": self.precision,
                "totals": {k: {SIDES[0]: a, SIDES[1]: b} for k, (a, b) in self.totals.items()},
                "error": self.total_error,
                "layers": [dict(zip(_ROW_HEADER, _row_cells(r, self.secs, raw=True)))
                           for r in self.rows],
                "segments": [dict(zip(_SEGMENT_HEADER, _segment_cells(s, self.secs, raw=True)))
                             for s in self.segments],
                "kinds": [dict(zip(_KIND_HEADER, k)) for k in self.kinds]}


# ---- anchors -------------------------------------------------------------------------------

def onnx_anchors(graph: Graph) -> dict[str, int]:
    """The imported ONNX graph's tensors in network order: its inputs, then each op's outputs."""
    order: dict[str, int] = {}
    for name in [*graph.inputs, *(t for op in graph.ops for t in op.outputs)]:
        order.setdefault(name, len(order))
    return order


def _ours_anchor(program: Program, anchors: dict[str, int]) -> Callable[[int], int]:
    """Layer index -> anchor position, for tpusim's own program."""
    graph = program.graph
    ops = {op.name: op for op in graph.ops} if graph is not None else {}
    producer = {t: op for op in ops.values() for t in op.outputs}
    memo: dict[str, int] = {}

    def of_op(name: str, depth: int = 0) -> int:
        if name in memo:
            return memo[name]
        op = ops.get(name)
        found = -1
        if op is not None:
            found = next((anchors[t] for t in op.outputs if t in anchors), -1)
            if found < 0 and depth < 64:  # made by a pass: after what it reads
                for t in op.inputs:
                    if t in anchors:
                        found = max(found, anchors[t])
                    elif t in producer:
                        found = max(found, of_op(producer[t].name, depth + 1))
        memo[name] = found
        return found

    return lambda index: of_op(program.layers[index].name)


def _vendor_anchor(program: Program, anchors: dict[str, int]) -> Callable[[int], int]:
    """Layer index -> anchor position, for a program imported from tpu-mlir's final.mlir."""
    served: dict[str, str] = {}  # a Load or Store layer -> the op it serves
    for plan in program.groups:
        for row in plan.rows:
            for tr in row.transfers:
                if tr.layer and 0 <= tr.op < len(plan.ops):
                    served[tr.layer] = plan.ops[tr.op].name
    memo: dict[int, int] = {}

    def longest_prefix(name: str) -> int:
        for end in range(len(name), 0, -1):
            position = anchors.get(name[:end])
            if position is not None:
                return position
        return -1

    def of_layer(index: int) -> int:
        if index not in memo:
            name = program.layers[index].name
            memo[index] = longest_prefix(served.get(name, name))
        return memo[index]

    return of_layer


# ---- the comparison ------------------------------------------------------------------------

def _shares(result: Result, anchor_of: Callable[[int], int]) -> dict[int, Share]:
    """Per anchor position, what `result`'s layers charged to it spent. Layers with no anchor
    take the anchor of the layer before them in program order."""
    program = result.program
    position: dict[int, int] = {}
    last = 0
    for index in range(len(program.layers)):
        found = anchor_of(index)
        last = found if found >= 0 else last
        position[index] = last
    shares: dict[int, Share] = defaultdict(Share)
    seen: set[int] = set()
    for r in result.records:
        share = shares[position[r.layer]]
        if r.layer not in seen:
            seen.add(r.layer)
            layer = program.layers[r.layer]
            share.layers.append(layer.name)
            share.kinds.append(layer.kind)
            share.groups.add(layer.group)
        if r.engine == "TIU":
            share.tiu_n += 1
            share.tiu_ns += r.duration_ns
        else:
            share.gdma_n += 1
            share.gdma_ns += r.duration_ns
            if r.direction != "L2L":
                share.ddr_bytes += r.bytes
    times, _ = time_shares(result.records, result.total_ns, key=lambda r: position[r.layer])
    for where, ns in times.items():
        shares[where].time_ns += ns
    return shares


def _merge(shares: Iterable[Share]) -> Share:
    total = Share()
    for s in shares:
        total.layers += s.layers
        total.kinds += s.kinds
        total.groups |= s.groups
        total.tiu_n += s.tiu_n
        total.tiu_ns += s.tiu_ns
        total.gdma_n += s.gdma_n
        total.gdma_ns += s.gdma_ns
        total.ddr_bytes += s.ddr_bytes
        total.time_ns += s.time_ns
    return total


def _segments(rows: list[Row], names: list[str]) -> list[Segment]:
    """Cut the rows where no group of either side spans the cut."""
    reach: dict[tuple[int, int], tuple[int, int]] = {}  # (side, group) -> first, last row
    for i, row in enumerate(rows):
        for side, share in enumerate(row.sides):
            for g in share.groups:
                if g >= 0:
                    lo, hi = reach.get((side, g), (i, i))
                    reach[(side, g)] = (min(lo, i), max(hi, i))
    open_until = [-1] * len(rows)
    for lo, hi in reach.values():
        for i in range(lo, hi):
            open_until[i] = max(open_until[i], hi)
    segments: list[Segment] = []
    start = 0
    end = -1
    for i in range(len(rows)):
        end = max(end, open_until[i], i)
        if end == i:
            part = rows[start:i + 1]
            segments.append(Segment(names[start], names[i], len(part),
                                    (_merge(r.sides[0] for r in part),
                                     _merge(r.sides[1] for r in part))))
            start = i + 1
    return segments


def _ddr(result: Result, direction: str) -> int:
    return sum(r.bytes for r in result.records if r.direction == direction)


def _totals(ours: Result, vendor: Result) -> dict[str, tuple[Any, Any]]:
    def both(get: Callable[[Result], Any]) -> tuple[Any, Any]:
        return get(ours), get(vendor)

    return {
        "total_ms": both(lambda r: round(r.total_ms, 6)),
        "tiu_commands": both(lambda r: len(r.program.tiu)),
        "gdma_commands": both(lambda r: len(r.program.gdma)),
        "layer_groups": both(lambda r: len(r.program.groups)),
        "ops_in_groups": both(lambda r: sum(len(g.ops) for g in r.program.groups)),
        "tiu_busy_ms": both(lambda r: round(r.busy_ns("TIU") / 1e6, 6)),
        "gdma_busy_ms": both(lambda r: round(r.busy_ns("GDMA") / 1e6, 6)),
        "ddr_read_mb": both(lambda r: round(_ddr(r, "S2L") / 1e6, 3)),
        "ddr_write_mb": both(lambda r: round(_ddr(r, "L2S") / 1e6, 3)),
        "ddr_copy_mb": both(lambda r: round(_ddr(r, "S2S") / 1e6, 3)),
    }


def _kinds(ours: Result, vendor: Result) -> list[tuple[str, str, int, float, int, float]]:
    cells: dict[tuple[str, str], list[float]] = {}
    for side, result in enumerate((ours, vendor)):
        for r in result.records:
            cell = cells.setdefault((r.engine, r.kind), [0, 0.0, 0, 0.0])
            cell[2 * side] += 1
            cell[2 * side + 1] += r.duration_ns
    order = {"TIU": 0, "GDMA": 1}
    keys = sorted(cells, key=lambda k: (order.get(k[0], 2), -max(cells[k][1], cells[k][3]), k))
    return [(e, k, int(cells[(e, k)][0]), round(cells[(e, k)][1], 1), int(cells[(e, k)][2]),
             round(cells[(e, k)][3], 1)) for e, k in keys]


def _secs(program: Program) -> dict[int, str]:
    return {i: str(plan.secs) for i, plan in enumerate(program.groups)}


def compile_diff(ours: Result, vendor: Result, onnx_graph: Graph) -> CompileDiff:
    """`ours` (tpusim's compile of `onnx_graph`, simulated) beside `vendor` (tpu-mlir's profile
    of its own compile of the same file, on the program imported from its final.mlir)."""
    anchors = onnx_anchors(onnx_graph)
    names = sorted(anchors, key=anchors.__getitem__)
    ours_shares = _shares(ours, _ours_anchor(ours.program, anchors))
    vendor_shares = _shares(vendor, _vendor_anchor(vendor.program, anchors))
    rows = [Row(names[p], p, (ours_shares.get(p, Share()), vendor_shares.get(p, Share())))
            for p in sorted(set(ours_shares) | set(vendor_shares))]
    segments = _segments(rows, [r.anchor for r in rows])
    return CompileDiff(ours.program.name, ours.program.precision, _totals(ours, vendor), rows,
                       segments, _kinds(ours, vendor), (_secs(ours.program),
                                                       _secs(vendor.program)))


# ---- tables and text -----------------------------------------------------------------------

_ROW_HEADER = ["tensor", "tpusim_ops", "tpusim_where", "tpu_mlir_ops", "tpu_mlir_where",
               "tpusim_us", "tpu_mlir_us", "delta_us", "tpusim_tiu_n", "tpu_mlir_tiu_n",
               "tpusim_tiu_us", "tpu_mlir_tiu_us", "tpusim_gdma_n", "tpu_mlir_gdma_n",
               "tpusim_gdma_us", "tpu_mlir_gdma_us", "tpusim_ddr_kb", "tpu_mlir_ddr_kb"]
_SEGMENT_HEADER = ["first", "last", "tensors", "tpusim_groups", "tpu_mlir_groups",
                   "tpusim_us", "tpu_mlir_us", "delta_us", "tpusim_tiu_us", "tpu_mlir_tiu_us",
                   "tpusim_gdma_us", "tpu_mlir_gdma_us", "tpusim_ddr_kb", "tpu_mlir_ddr_kb"]
_KIND_HEADER = ["engine", "kind", "tpusim_n", "tpusim_ns", "tpu_mlir_n", "tpu_mlir_ns"]


def _us(ns: float, raw: bool) -> Any:
    return round(ns / 1e3, 3) if raw else f"{ns / 1e3:.1f}"


def _kinds_text(share: Share) -> str:
    counts: dict[str, int] = {}
    for k in share.kinds:
        counts[k] = counts.get(k, 0) + 1
    return "+".join(k if n == 1 else f"{k}x{n}" for k, n in counts.items())


def _row_cells(r: Row, secs: tuple[dict[int, str], dict[int, str]], raw: bool = False
               ) -> list[Any]:
    o, v = r.sides
    return [r.anchor, _kinds_text(o), o.placement(secs[0]), _kinds_text(v),
            v.placement(secs[1]), _us(o.time_ns, raw), _us(v.time_ns, raw),
            _us(r.delta_ns, raw), o.tiu_n, v.tiu_n, _us(o.tiu_ns, raw), _us(v.tiu_ns, raw),
            o.gdma_n, v.gdma_n, _us(o.gdma_ns, raw), _us(v.gdma_ns, raw),
            round(o.ddr_bytes / 1e3, 1), round(v.ddr_bytes / 1e3, 1)]


def _group_list(share: Share, secs: dict[int, str], raw: bool) -> Any:
    groups = sorted(g for g in share.groups if g >= 0)
    singles = sum(1 for g in share.groups if g < 0)
    if raw:
        return {"groups": [{"index": g, "secs": secs.get(g, "")} for g in groups],
                "global": bool(singles)}
    parts = [f"g{g} {secs.get(g, '')}".strip() for g in groups]
    if singles:
        parts.append("global")
    return ", ".join(parts) or "-"


def _segment_cells(s: Segment, secs: tuple[dict[int, str], dict[int, str]],
                   raw: bool = False) -> list[Any]:
    o, v = s.sides
    return [s.first, s.last, s.anchors, _group_list(o, secs[0], raw),
            _group_list(v, secs[1], raw), _us(o.time_ns, raw), _us(v.time_ns, raw),
            _us(s.delta_ns, raw), _us(o.tiu_ns, raw), _us(v.tiu_ns, raw), _us(o.gdma_ns, raw),
            _us(v.gdma_ns, raw), round(o.ddr_bytes / 1e3, 1), round(v.ddr_bytes / 1e3, 1)]


def _short(name: str, width: int = 48) -> str:
    return name if len(name) <= width else "..." + name[-(width - 3):]


def diff_text(d: CompileDiff, top: int | None = 12) -> str:
    """Totals, then the segments and the rows whose times differ most (`top` of each; all with
    None), then the command kinds."""
    err = d.total_error
    head = (f"{d.model} {d.precision}: tpusim {d.totals['total_ms'][0]:.3f} ms, tpu-mlir "
            f"{d.totals['total_ms'][1]:.3f} ms"
            + (f" ({err * 100:+.1f} %)" if err is not None else "") + "\n\n")
    totals = format_table(["", *SIDES], [[k, *v] for k, v in d.totals.items()])

    def biggest(items: list, limit: int | None) -> list:
        ranked = sorted(items, key=lambda x: -abs(x.delta_ns))
        return ranked if limit is None else ranked[:limit]

    seg_rows = []
    for s in biggest(d.segments, top):
        o, v = s.sides
        seg_rows.append([_short(s.first, 36), _short(s.last, 36), s.anchors,
                         _group_list(o, d.secs[0], False), _group_list(v, d.secs[1], False),
                         _us(o.time_ns, False), _us(v.time_ns, False), _us(s.delta_ns, False)])
    segments = format_table(["first", "last", "n", "tpusim groups", "tpu-mlir groups",
                             "tpusim us", "tpu-mlir us", "delta us"], seg_rows)
    layer_rows = []
    for r in biggest(d.rows, top):
        o, v = r.sides
        layer_rows.append([_short(r.anchor), _kinds_text(o) or "-", o.placement(d.secs[0]),
                           _kinds_text(v) or "-", v.placement(d.secs[1]),
                           _us(o.time_ns, False), _us(v.time_ns, False), _us(r.delta_ns, False),
                           f"{o.tiu_n}/{v.tiu_n}", f"{o.gdma_n}/{v.gdma_n}"])
    layers = format_table(["tensor", "tpusim", "where", "tpu-mlir", "where", "tpusim us",
                           "tpu-mlir us", "delta us", "TIU n", "GDMA n"], layer_rows)
    kinds = format_table(["engine", "kind", "tpusim n", "tpusim us", "tpu-mlir n",
                          "tpu-mlir us"],
                         [[e, k, n0, _us(t0, False), n1, _us(t1, False)]
                          for e, k, n0, t0, n1, t1 in d.kinds])
    which = "" if top is None else f", the {top} largest differences"
    return (head + totals
            + f"\ngrouping: runs of layers no group crosses ({len(d.segments)}){which}\n"
            + segments
            + f"\nper ONNX tensor ({len(d.rows)}){which}\n" + layers
            + "\nper command kind\n" + kinds)


def save_compile_diff(d: CompileDiff, directory: Path) -> list[Path]:
    """DIFF_FILES in `directory`: all of them or, on error, none."""
    with staged_directory(Path(directory)) as tmp:
        (tmp / "diff.txt").write_text(diff_text(d, top=None), encoding="utf-8")
        write_csv(tmp / "diff_layers.csv",
                  (_ROW_HEADER, [_row_cells(r, d.secs) for r in d.rows]))
        write_csv(tmp / "diff_segments.csv",
                  (_SEGMENT_HEADER, [_segment_cells(s, d.secs) for s in d.segments]))
        write_csv(tmp / "diff_kinds.csv", (_KIND_HEADER, [list(k) for k in d.kinds]))
        (tmp / "diff.json").write_text(dumps_json(d.to_dict()), encoding="utf-8")
    return [Path(directory) / name for name in DIFF_FILES]


__all__ = ["DIFF_FILES", "CompileDiff", "compile_diff", "diff_text", "onnx_anchors",
           "save_compile_diff"]
