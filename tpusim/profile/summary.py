"""Tables from records: per layer and per engine, the numbers a timeline summarises."""

from __future__ import annotations

from dataclasses import dataclass

from tpusim.lower.commands import Program
from tpusim.sim.engine import Record


@dataclass
class LayerRow:
    index: int
    name: str
    kind: str
    group: int
    start_ns: float
    end_ns: float
    tiu_ns: float
    gdma_ns: float
    tiu_commands: int
    gdma_commands: int
    ddr_bytes: int
    macs: int

    @property
    def span_ns(self) -> float:
        return self.end_ns - self.start_ns

    @property
    def bound(self) -> str:
        if not self.tiu_commands and not self.gdma_commands:
            return "-"
        return "TIU" if self.tiu_ns >= self.gdma_ns else "GDMA"


def layer_rows(program: Program, records: list[Record]) -> list[LayerRow]:
    """One row per layer that issued commands, in program order."""
    rows: dict[int, LayerRow] = {}
    for r in records:
        row = rows.get(r.layer)
        if row is None:
            layer = program.layers[r.layer]
            row = rows[r.layer] = LayerRow(r.layer, layer.name, layer.kind, layer.group,
                                           r.start_ns, r.end_ns, 0.0, 0.0, 0, 0, 0, layer.macs)
        row.start_ns = min(row.start_ns, r.start_ns)
        row.end_ns = max(row.end_ns, r.end_ns)
        if r.engine == "TIU":
            row.tiu_ns += r.duration_ns
            row.tiu_commands += 1
        else:
            row.gdma_ns += r.duration_ns
            row.gdma_commands += 1
            if r.direction != "L2L":
                row.ddr_bytes += r.bytes
    return [rows[i] for i in sorted(rows)]


def kind_rows(rows: list[LayerRow]) -> list[dict]:
    """Layers summed by operator kind, largest span first."""
    by_kind: dict[str, dict] = {}
    for row in rows:
        entry = by_kind.setdefault(row.kind, {"kind": row.kind, "layers": 0, "span_ns": 0.0,
                                              "tiu_ns": 0.0, "gdma_ns": 0.0, "ddr_bytes": 0})
        entry["layers"] += 1
        entry["span_ns"] += row.span_ns
        entry["tiu_ns"] += row.tiu_ns
        entry["gdma_ns"] += row.gdma_ns
        entry["ddr_bytes"] += row.ddr_bytes
    return sorted(by_kind.values(), key=lambda e: (-e["span_ns"], e["kind"]))


@dataclass
class GroupRow:
    """A layer group as it ran: the span and engine time of all its commands."""

    group: int
    layers: list[int]
    start_ns: float
    end_ns: float
    tiu_ns: float
    gdma_ns: float
    tiu_commands: int
    gdma_commands: int
    ddr_bytes: int
    lmem_bytes: int

    @property
    def span_ns(self) -> float:
        return self.end_ns - self.start_ns

    @property
    def bound(self) -> str:
        return "TIU" if self.tiu_ns >= self.gdma_ns else "GDMA"


def group_rows(program: Program, records: list[Record]) -> list[GroupRow]:
    """One row per layer group (records with group >= 0), by group index."""
    rows: dict[int, GroupRow] = {}
    for r in records:
        if r.group < 0:
            continue
        row = rows.get(r.group)
        if row is None:
            row = rows[r.group] = GroupRow(r.group, [], r.start_ns, r.end_ns, 0.0, 0.0,
                                           0, 0, 0, 0)
        if r.layer not in row.layers:
            row.layers.append(r.layer)
            row.lmem_bytes = max(row.lmem_bytes, program.layers[r.layer].lmem_bytes)
        row.start_ns = min(row.start_ns, r.start_ns)
        row.end_ns = max(row.end_ns, r.end_ns)
        if r.engine == "TIU":
            row.tiu_ns += r.duration_ns
            row.tiu_commands += 1
        else:
            row.gdma_ns += r.duration_ns
            row.gdma_commands += 1
            if r.direction != "L2L":
                row.ddr_bytes += r.bytes
    for row in rows.values():
        row.layers.sort()
    return [rows[g] for g in sorted(rows)]
