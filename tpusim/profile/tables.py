"""Summaries as text tables, CSV and JSON: per layer, per group, per engine, and the KPIs.

CSV times are microseconds with six decimals; JSON keeps the nanosecond floats as computed, so
its numbers equal sums over the records. `summary.csv` and `detail.csv` follow the columns of
tpu-mlir's `tpu_profile --format csv`, so scripts written for it read tpusim's output.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tpusim.outputs import write_atomic
from tpusim.profile.kpis import engine_rows, kpis
from tpusim.profile.summary import group_rows, kind_rows, layer_rows, time_shares

if TYPE_CHECKING:
    from tpusim.sim.result import Result


def _us(ns: float) -> str:
    return f"{ns / 1e3:.6f}"


def layer_table(result: Result) -> tuple[list[str], list[list[Any]]]:
    header = ["index", "layer", "kind", "group", "start_us", "end_us", "span_us", "tiu_us",
              "gdma_us", "tiu_cmds", "gdma_cmds", "ddr_bytes", "macs", "lmem_bytes", "bound"]
    layers = result.program.layers
    rows = [[r.index, r.name, r.kind, r.group, _us(r.start_ns), _us(r.end_ns), _us(r.span_ns),
             _us(r.tiu_ns), _us(r.gdma_ns), r.tiu_commands, r.gdma_commands, r.ddr_bytes,
             r.macs, layers[r.index].lmem_bytes, r.bound]
            for r in layer_rows(result.program, result.records)]
    return header, rows


def group_table(result: Result) -> tuple[list[str], list[list[Any]]]:
    header = ["group", "layers", "first_layer", "last_layer", "start_us", "end_us", "span_us",
              "tiu_us", "gdma_us", "tiu_cmds", "gdma_cmds", "ddr_bytes", "lmem_bytes", "bound"]
    rows = [[g.group, len(g.layers), g.layers[0], g.layers[-1], _us(g.start_ns), _us(g.end_ns),
             _us(g.span_ns), _us(g.tiu_ns), _us(g.gdma_ns), g.tiu_commands, g.gdma_commands,
             g.ddr_bytes, g.lmem_bytes, g.bound]
            for g in group_rows(result.program, result.records)]
    return header, rows


def engine_table(result: Result) -> tuple[list[str], list[list[Any]]]:
    header = ["engine", "commands", "busy_us", "busy_ratio", "bytes"]
    rows = [[e.engine, e.commands, _us(e.busy_ns), f"{e.busy_ratio:.6f}", e.bytes]
            for e in engine_rows(result)]
    return header, rows


_KPI_NAMES = [
    ("tiu_working_ratio", "TIU busy / total"),
    ("parallelism", "(TIU busy + GDMA busy) / total"),
    ("concurrency", "(TIU + GDMA - total) / min(TIU, GDMA)"),
    ("ddr_avg_gbps", "DDR bytes / total, GB/s"),
    ("ddr_utilisation", "DDR average bandwidth / peak"),
    ("uarch_rate", "useful / issued TIU operations"),
]


def kpi_table(result: Result) -> tuple[list[str], list[list[Any]]]:
    values = kpis(result).to_dict()
    return ["kpi", "value", "meaning"], [[k, f"{values[k]:.6f}", m] for k, m in _KPI_NAMES]


def tpu_profile_summary(result: Result) -> tuple[list[str], list[list[Any]]]:
    """tpu_profile's summary.csv: one row per subnet; tpusim runs one TPU subnet."""
    return (["index", "subnet_id", "subnet_type", "duration(us)"],
            [[0, 0, "TPU", _us(result.total_ns)]])


def tpu_profile_detail(result: Result) -> tuple[list[str], list[list[Any]]]:
    """tpu_profile's detail.csv: every layer (TPU_LAYER) and command (TPU_GDMA, TPU_BD) as a
    row, by start time; layer types carry (G) global or (L) local as bmprofile shows them."""
    header = ["category", "begin_usec", "end_usec", "duration(us)", "func_type", "layer_id",
              "layer_type", "subnet_id", "subnet_type", "iteration", "info"]
    program = result.program
    keyed = []
    for r in layer_rows(program, result.records):
        info = f"name={r.name};group={r.group};ddr_bytes={r.ddr_bytes};bound={r.bound}"
        keyed.append(((r.start_ns, 0, r.index), [
            "TPU_LAYER", _us(r.start_ns), _us(r.end_ns), _us(r.span_ns), r.kind, r.index,
            _layer_type(r.kind, r.group), 0, "TPU", 0, info]))
    for r in result.records:
        layer = program.layers[r.layer]
        if r.engine == "GDMA":
            info = (f"gdma_id={r.cmd_id};dep={r.dep};direction={r.direction};bytes={r.bytes};"
                    f"tensor={r.tensor};slice={r.slice}")
        else:
            info = f"bd_id={r.cmd_id};dep={r.dep};slice={r.slice}"
        category, rank = ("TPU_GDMA", 1) if r.engine == "GDMA" else ("TPU_BD", 2)
        keyed.append(((r.start_ns, rank, r.cmd_id), [
            category, _us(r.start_ns), _us(r.end_ns), _us(r.duration_ns), r.kind, r.layer,
            _layer_type(layer.kind, layer.group), 0, "TPU", 0, info]))
    keyed.sort(key=lambda item: item[0])
    return header, [row for _, row in keyed]


def _layer_type(kind: str, group: int) -> str:
    return f"{kind}({'G' if group < 0 else 'L'})"


def write_csv(path: Path, table: tuple[list[str], list[list[Any]]]) -> None:
    header, rows = table

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(header)
            out.writerows(rows)

    write_atomic(path, write)


def summary_json(result: Result) -> dict[str, Any]:
    """The headline numbers (Result.summary without the wall time), KPIs and engines."""
    data = {k: v for k, v in result.summary().items() if k != "sim_wall_s"}
    data["kpis"] = kpis(result).to_dict()
    data["engines"] = [e.to_dict() for e in engine_rows(result)]
    return data


def profile_json(result: Result) -> dict[str, Any]:
    """Every table with nanosecond floats: layers, groups, operator kinds, engines, KPIs."""
    program = result.program
    rows = layer_rows(program, result.records)
    layers = []
    for r in rows:
        row = dict(vars(r))
        row.update(span_ns=r.span_ns, bound=r.bound,
                   lmem_bytes=program.layers[r.index].lmem_bytes)
        layers.append(row)
    groups = [{**vars(g), "span_ns": g.span_ns, "bound": g.bound}
              for g in group_rows(program, result.records)]
    return {"summary": summary_json(result), "layers": layers, "groups": groups,
            "kinds": kind_rows(rows, time_shares(result.records, result.total_ns)[0])}


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(row, widths, numeric)).rstrip() + "\n"

    rule = ["-" * w for w in widths]
    return "".join(line(r) for r in [cells[0], rule, *cells[1:]])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def summary_text(result: Result) -> str:
    """Everything in one plain-text report."""
    s = result.summary()
    parts = [f"{s['model']} on {s['chip']}, {s['precision']}: total {s['total_ms']:.6f} ms, "
             f"{s['tiu_commands']} TIU and {s['gdma_commands']} GDMA commands, "
             f"{s['global_layers']} global layers, {s['groups']} groups\n"]
    sections = [("KPIs", kpi_table(result)), ("engines", engine_table(result))]
    groups = group_table(result)
    if groups[1]:
        sections.append(("layer groups", groups))
    kinds = kind_rows(layer_rows(result.program, result.records),
                      time_shares(result.records, result.total_ns)[0])
    sections.append(("time by operator kind", (
        ["kind", "layers", "time_us", "tiu_us", "gdma_us", "ddr_bytes"],
        [[q["kind"], q["layers"], _us(q["time_ns"]), _us(q["tiu_ns"]), _us(q["gdma_ns"]),
          q["ddr_bytes"]] for q in kinds])))
    sections.append(("layers", layer_table(result)))
    for title, (header, rows) in sections:
        parts.append(f"\n{title}\n" + format_table(header, rows))
    if not groups[1]:
        parts.append("\nno layer groups: every layer ran global\n")
    return "".join(parts)
