"""tpusim's run of a tpu-mlir program against tpu-mlir's own profile of it.

Both runs share the program's layers (`vendor_records`), so they are compared command kind by
command kind and layer by layer: how many commands each issued and how many cycles they took
(tpusim's at the chip profile's engine clocks, the vendor's as written), and the totals in
time (the vendor's model runs at 1000 MHz: 1 cycle = 1 ns). A ratio is tpusim over the
vendor. Per command kind, the median and worst ratios are over the layers that issued that kind
in both runs; the worst is the one farthest from 1 (either way).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tpusim.outputs import dumps_json, staged_directory
from tpusim.profile.html import timeline_html
from tpusim.profile.report import OUTPUT_FILES, write_result_files
from tpusim.profile.tables import format_table, write_csv
from tpusim.profile.trace import comparison_trace, dumps_trace

if TYPE_CHECKING:
    from tpusim.sim.result import Result

LABELS = ("tpusim", "tpu-mlir")
# What --vendor-profile adds to --out (timeline.html and trace.json then hold both runs).
VENDOR_FILES = {
    "vendor_comparison.txt": "totals, per command kind and per layer, tpusim against tpu-mlir",
    "vendor_kinds.csv": "per command kind: counts, cycles, ratio, median and worst ratio",
    "vendor_layers.csv": "per layer: TIU and GDMA command counts and cycles on both sides",
    "vendor_comparison.json": "all of it",
}


@dataclass
class Side:
    """Commands of one run in one cell of the table."""

    count: int = 0
    cycles: float = 0.0

    def add(self, cycles: float) -> None:
        self.count += 1
        self.cycles += cycles


def _ratio(ours: float, theirs: float) -> float | None:
    return ours / theirs if theirs else None


def _worst(ratios: list[float]) -> float | None:
    return max(ratios, key=lambda r: abs(math.log(r)) if r > 0 else math.inf, default=None)


@dataclass
class KindRow:
    engine: str
    kind: str
    ours: Side
    vendor: Side
    layer_ratios: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        return _ratio(self.ours.cycles, self.vendor.cycles)

    @property
    def median_ratio(self) -> float | None:
        return statistics.median(self.layer_ratios) if self.layer_ratios else None

    @property
    def worst_ratio(self) -> float | None:
        return _worst(self.layer_ratios)


@dataclass
class LayerRow:
    index: int
    name: str
    vendor_name: str  # as tpu-mlir's profile names it ("Load_14"); "" if it has no number
    kind: str
    group: int
    sides: dict[str, tuple[Side, Side]]  # "TIU"/"GDMA" -> (ours, vendor)

    @property
    def counts_match(self) -> bool:
        return all(o.count == v.count for o, v in self.sides.values())

    @property
    def ratio(self) -> float | None:
        return _ratio(sum(o.cycles for o, _ in self.sides.values()),
                      sum(v.cycles for _, v in self.sides.values()))


@dataclass
class VendorComparison:
    ours_total: float  # ns
    vendor_total: float  # ns
    kinds: list[KindRow]
    layers: list[LayerRow]

    @property
    def total_ratio(self) -> float | None:
        return _ratio(self.ours_total, self.vendor_total)

    @property
    def mismatched(self) -> list[LayerRow]:
        return [row for row in self.layers if not row.counts_match]

    def to_dict(self) -> dict[str, Any]:
        return {"tpusim_ns": self.ours_total, "vendor_ns": self.vendor_total,
                "ratio": self.total_ratio,
                "kinds": [dict(zip(_KIND_HEADER, _kind_cells(k, raw=True))) for k in self.kinds],
                "layers": [dict(zip(_LAYER_HEADER, _layer_cells(r, raw=True)))
                           for r in self.layers]}


def _cycles(result: Result, engine: str, duration_ns: float) -> float:
    """tpusim's cycles of a duration, at the chip profile's clock of the engine."""
    mhz = result.chip.tiu_mhz if engine == "TIU" else result.chip.gdma_mhz
    return duration_ns * mhz / 1000.0


def compare_vendor(ours: Result, vendor: Result) -> VendorComparison:
    """The table of `ours` (tpusim's run of an imported program) against `vendor` (its
    `vendor_result`)."""
    cells: dict[tuple[int, str, str], list[Side]] = {}  # (layer, engine, kind) -> [ours, vendor]
    for side, result in enumerate((ours, vendor)):
        for r in result.records:
            pair = cells.setdefault((r.layer, r.engine, r.kind), [Side(), Side()])
            # the vendor's records are in its own cycles already (1 cycle = 1 ns)
            pair[side].add(r.duration_ns if side else _cycles(result, r.engine, r.duration_ns))
    kinds: dict[tuple[str, str], KindRow] = {}
    for (_, engine, kind), (o, v) in sorted(cells.items()):
        row = kinds.setdefault((engine, kind), KindRow(engine, kind, Side(), Side()))
        row.ours.count += o.count
        row.ours.cycles += o.cycles
        row.vendor.count += v.count
        row.vendor.cycles += v.cycles
        if o.cycles and v.cycles:
            row.layer_ratios.append(o.cycles / v.cycles)
    numbers = {index: n for n, index in getattr(ours.program, "vendor_layers", {}).items()}
    layers = []
    indices = sorted({layer for layer, _, _ in cells})
    for index in indices:
        layer = vendor.program.layers[index]
        sides = {}
        for engine in ("TIU", "GDMA"):
            pairs = [p for (i, e, _), p in cells.items() if i == index and e == engine]
            sides[engine] = (_sum(p[0] for p in pairs), _sum(p[1] for p in pairs))
        name = f"{layer.kind}_{numbers[index]}" if index in numbers else ""
        layers.append(LayerRow(index, layer.name, name, layer.kind, layer.group, sides))
    order = {"TIU": 0, "GDMA": 1}
    rows = sorted(kinds.values(), key=lambda k: (order[k.engine], -k.vendor.cycles, k.kind))
    return VendorComparison(ours.total_ns, vendor.total_ns, rows, layers)


def _sum(sides: Iterable[Side]) -> Side:
    total = Side()
    for s in sides:
        total.count += s.count
        total.cycles += s.cycles
    return total


# ---- tables ----------------------------------------------------------------------------------

_KIND_HEADER = ["engine", "kind", "tpusim_n", "vendor_n", "tpusim_cycles", "vendor_cycles",
                "ratio", "median_ratio", "worst_ratio", "layers_compared"]
_LAYER_HEADER = ["index", "layer", "vendor_layer", "kind", "group", "tpusim_tiu_n",
                 "vendor_tiu_n", "tpusim_gdma_n", "vendor_gdma_n", "tpusim_tiu_cycles",
                 "vendor_tiu_cycles", "tpusim_gdma_cycles", "vendor_gdma_cycles", "ratio",
                 "counts_match"]


def _r(value: float | None, raw: bool) -> Any:
    if raw:
        return None if value is None else round(value, 6)
    return "-" if value is None else f"{value:.3f}"


def _c(cycles: float, raw: bool) -> Any:
    return round(cycles, 3) if raw else f"{cycles:.0f}"


def _kind_cells(k: KindRow, raw: bool = False) -> list[Any]:
    return [k.engine, k.kind, k.ours.count, k.vendor.count, _c(k.ours.cycles, raw),
            _c(k.vendor.cycles, raw), _r(k.ratio, raw), _r(k.median_ratio, raw),
            _r(k.worst_ratio, raw), len(k.layer_ratios)]


def _layer_cells(row: LayerRow, raw: bool = False) -> list[Any]:
    (ot, vt), (og, vg) = row.sides["TIU"], row.sides["GDMA"]
    return [row.index, row.name, row.vendor_name, row.kind, row.group, ot.count, vt.count,
            og.count, vg.count, _c(ot.cycles, raw), _c(vt.cycles, raw), _c(og.cycles, raw),
            _c(vg.cycles, raw), _r(row.ratio, raw), row.counts_match if raw else
            ("yes" if row.counts_match else "NO")]


def kind_table(c: VendorComparison) -> tuple[list[str], list[list[Any]]]:
    return _KIND_HEADER, [_kind_cells(k) for k in c.kinds]


def layer_table(c: VendorComparison) -> tuple[list[str], list[list[Any]]]:
    return _LAYER_HEADER, [_layer_cells(r) for r in c.layers]


def comparison_text(c: VendorComparison, top: int | None = None) -> str:
    """Totals, the table per command kind, and the layers (all, or the `top` whose command
    counts differ first, then the farthest ratios)."""
    ratios = [r.ratio for r in c.layers if r.ratio]
    head = (f"tpusim {c.ours_total / 1e6:.6f} ms, tpu-mlir {c.vendor_total / 1e6:.6f} ms: ratio "
            f"{_r(c.total_ratio, False)}; per layer median {_r(_median(ratios), False)}, "
            f"worst {_r(_worst(ratios), False)}; {len(c.mismatched)} of {len(c.layers)} "
            "layers issue other command counts\n")
    text = head + "\nper command kind (ratio = tpusim / tpu-mlir cycles)\n"
    text += format_table(*kind_table(c))
    layers = sorted(c.layers, key=lambda r: (r.counts_match,
                                             -abs(math.log(r.ratio)) if r.ratio else 0.0))
    shown = layers if top is None else layers[:top]
    what = "every layer" if top is None or len(shown) == len(layers) else \
        f"{len(shown)} layers, mismatched counts first"
    header, _ = layer_table(c)
    text += f"\nper layer ({what})\n" + format_table(header, [_layer_cells(r) for r in shown])
    return text


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def save_vendor_comparison(ours: Result, vendor: Result, comparison: VendorComparison,
                           directory: Path) -> list[Path]:
    """tpusim's usual outputs for `ours`, with timeline.html and trace.json holding both runs,
    and VENDOR_FILES: all of them or, on error, none."""
    title = f"{ours.program.name} ({ours.program.precision}): tpusim vs tpu-mlir's profile"
    with staged_directory(Path(directory)) as tmp:
        write_result_files(ours, tmp, timeline=False)
        (tmp / "timeline.html").write_text(timeline_html([ours, vendor], LABELS, title),
                                           encoding="utf-8")
        (tmp / "trace.json").write_text(dumps_trace(comparison_trace([ours, vendor], LABELS)),
                                        encoding="utf-8")
        (tmp / "vendor_comparison.txt").write_text(comparison_text(comparison),
                                                   encoding="utf-8")
        write_csv(tmp / "vendor_kinds.csv", kind_table(comparison))
        write_csv(tmp / "vendor_layers.csv", layer_table(comparison))
        (tmp / "vendor_comparison.json").write_text(dumps_json(comparison.to_dict()),
                                                    encoding="utf-8")
    return [Path(directory) / name for name in [*OUTPUT_FILES, *VENDOR_FILES]]


__all__ = ["LABELS", "VENDOR_FILES", "KindRow", "LayerRow", "VendorComparison",
           "compare_vendor", "comparison_text", "kind_table", "layer_table",
           "save_vendor_comparison"]
