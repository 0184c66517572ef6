"""The roofline chart of a run: each global layer and each layer group (or, on request, each
layer) as a point, its arithmetic intensity against its achieved throughput, under the chip's
compute roofs and its DDR bandwidth roof, on log-log axes.

- intensity = useful operations (tpusim.cost.tiu.useful_ops: 2 per MAC, 1 per element and
  pass, no alignment padding) / bytes moved to or from DDR, from the records;
- throughput = useful operations / span (first command's start to last command's end);
- roofs: the cube's peak (Chip.peak_tops) per precision, and DDR bandwidth times intensity.

Layers and groups with no TIU work (pure data movement: permutes, copies) or, by layer, no
DDR traffic (a layer inside a group working on local memory only) have no place on log axes;
the chart counts them in a note instead.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from tpusim.cost.tiu import useful_ops
from tpusim.errors import TpusimError
from tpusim.ir.dtypes import DType
from tpusim.lower.commands import TiuWork
from tpusim.outputs import save_figure
from tpusim.profile.colors import GROUP_COLOR
from tpusim.profile.summary import placement

if TYPE_CHECKING:
    from tpusim.sim.result import Result

ROOF_PRECISIONS = ("f32", "f16", "int8")  # always marked, besides the run's own
# distinct colours first (tab10 without its purple, the groups' colour), then lighter ones
_KIND_COLORS = tuple(c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 4) + \
    plt.get_cmap("tab20").colors[1::2]


@dataclass(frozen=True)
class RooflinePoint:
    name: str  # a layer's name or "group N"
    kind: str  # the layer's operator kind, or "group"
    group: int  # the layer's or group's index; -1 for a global layer
    useful_ops: int
    ddr_bytes: int
    span_ns: float

    @property
    def intensity(self) -> float:
        """Useful operations per DDR byte (inf without DDR traffic)."""
        return self.useful_ops / self.ddr_bytes if self.ddr_bytes else math.inf

    @property
    def tops(self) -> float:
        """Achieved useful tera-operations per second over the span (1 op/ns is 1e-3 TOPS)."""
        return self.useful_ops / self.span_ns / 1e3 if self.span_ns else 0.0

    @property
    def plotted(self) -> bool:
        return self.useful_ops > 0 and self.ddr_bytes > 0 and self.span_ns > 0


@dataclass(frozen=True)
class Roofs:
    precision: str  # the run's
    compute_tops: dict[str, float]  # the cube's peak per precision
    vector_tops: float  # the EUs' peak at the run's precision (element-wise work)
    ddr_gbps: float

    def attainable_tops(self, intensity: float, precision: str | None = None) -> float:
        """min(compute roof, intensity x DDR bandwidth): GB/s x ops/B = Gops/s = 1e-3 TOPS."""
        return min(self.compute_tops[precision or self.precision],
                   intensity * self.ddr_gbps / 1e3)

    def ridge(self, precision: str | None = None) -> float:
        """The intensity (ops/B) where the bandwidth roof meets the compute roof."""
        return self.compute_tops[precision or self.precision] * 1e3 / self.ddr_gbps


def roofs(result: Result) -> Roofs:
    chip, precision = result.chip, result.program.precision
    names = [*ROOF_PRECISIONS, *([precision] if precision not in ROOF_PRECISIONS else [])]
    dtype = DType.parse(precision)
    vector = chip.npu_count * chip.eu_num(dtype) * chip.tiu_mhz * 1e6 / 1e12
    return Roofs(precision, {p: chip.peak_tops(DType.parse(p)) for p in names}, vector,
                 chip.ddr_gbps)


def roofline_points(result: Result, by: str = "unit") -> list[RooflinePoint]:
    """`by="unit"`: one point per global layer and per layer group, in time order (together
    they are the whole run); `by="layer"`: one per layer that issued commands."""
    if by not in ("unit", "layer"):
        raise TpusimError(f"roofline points by {by!r}: expected 'unit' or 'layer'")
    program = result.program
    ops: dict[tuple[int, int], int] = defaultdict(int)
    nbytes: dict[tuple[int, int], int] = defaultdict(int)
    spans: dict[tuple[int, int], list[float]] = {}
    for r in result.records:
        key = (r.group, -1) if by == "unit" and r.group >= 0 else (r.group, r.layer)
        span = spans.setdefault(key, [r.start_ns, r.end_ns])
        span[0], span[1] = min(span[0], r.start_ns), max(span[1], r.end_ns)
        if r.engine == "TIU":
            work = program.tiu[r.cmd_id - 1].work
            # a command read from tpu-mlir's profile has no work the cost model knows: no ops
            ops[key] += useful_ops(work) if isinstance(work, TiuWork) else 0
        elif r.direction != "L2L":
            nbytes[key] += r.bytes
    points = []
    for key in sorted(spans, key=lambda k: (spans[k][0], k)):
        group, layer = key
        name, kind = (f"group {group}", "group") if layer < 0 else (
            program.layers[layer].name, program.layers[layer].kind)
        points.append(RooflinePoint(name, kind, group, ops[key], nbytes[key],
                                    spans[key][1] - spans[key][0]))
    return points


def roofline_table(result: Result, by: str = "unit") -> tuple[list[str], list[list[Any]]]:
    """The points as CSV rows, with the attainable throughput and the share of it achieved."""
    bounds = roofs(result)
    header = ["name", "kind", "where", "useful_ops", "ddr_bytes", "span_us", "ops_per_byte",
              "achieved_tops", "attainable_tops", "of_attainable"]
    rows = []
    for p in roofline_points(result, by):
        where = placement(p.group)
        if p.plotted:
            roof = bounds.attainable_tops(p.intensity)
            numbers = [f"{p.intensity:.6g}", f"{p.tops:.6g}", f"{roof:.6g}",
                       f"{p.tops / roof:.6f}"]
        else:
            numbers = ["", f"{p.tops:.6g}", "", ""]
        rows.append([p.name, p.kind, where, p.useful_ops, p.ddr_bytes,
                     f"{p.span_ns / 1e3:.6f}", *numbers])
    return header, rows


def _kind_colors(kinds: list[str]) -> dict[str, Any]:
    return {k: _KIND_COLORS[i % len(_KIND_COLORS)] for i, k in enumerate(sorted(kinds))}


def plot_roofline(result: Result, path: Path | Sequence[Path], by: str = "unit",
                  title: str = "") -> None:
    """Draw the roofline to `path` (PNG or SVG by suffix; several paths: one drawing, each
    format). Marker area follows the point's span; groups are squares in one colour, layers
    circles coloured by operator kind."""
    points = roofline_points(result, by)
    shown = [p for p in points if p.plotted]
    bounds = roofs(result)
    total = result.total_ns or 1.0
    xs = [p.intensity for p in shown] or [1.0]
    ys = [p.tops for p in shown] or [bounds.vector_tops]
    x0 = min(min(xs), 1.0) / 4
    x1 = max(max(xs), max(bounds.ridge(p) for p in bounds.compute_tops)) * 4
    y0, y1 = min(ys) / 4, max(bounds.compute_tops.values()) * 3
    with plt.rc_context({"svg.hashsalt": "tpusim", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(10, 6.5), dpi=110)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.plot([x0, x1], [x0 * bounds.ddr_gbps / 1e3, x1 * bounds.ddr_gbps / 1e3],
                color="black", linewidth=1.2)
        ax.text(x0 * 1.3, x0 * 1.3 * bounds.ddr_gbps / 1e3 * 1.25,
                f"DDR {bounds.ddr_gbps:g} GB/s", rotation=0, fontsize=8)
        for precision, peak in bounds.compute_tops.items():
            own = precision == bounds.precision
            ax.plot([bounds.ridge(precision), x1], [peak, peak], color="black",
                    linewidth=1.4 if own else 0.8, linestyle="-" if own else "--")
            ax.text(x1 / 1.1, peak * 1.08, f"{precision} cube {peak:g} TOPS", ha="right",
                    fontsize=8)
        vector_ridge = bounds.vector_tops * 1e3 / bounds.ddr_gbps
        ax.plot([vector_ridge, x1], [bounds.vector_tops] * 2, color="grey", linewidth=0.8,
                linestyle=":")
        ax.text(vector_ridge * 1.15, bounds.vector_tops * 0.8, f"{bounds.precision} vector "
                f"(EU) {bounds.vector_tops:g} TOPS", va="top", fontsize=8, color="grey")
        colors = _kind_colors(sorted({p.kind for p in shown if p.kind != "group"}))
        for kind in ["group", *colors]:
            mine = [p for p in shown if p.kind == kind]
            if not mine:
                continue
            ax.scatter([p.intensity for p in mine], [p.tops for p in mine],
                       s=[12 + 400 * p.span_ns / total for p in mine],
                       c=[GROUP_COLOR if kind == "group" else colors[kind]] * len(mine),
                       marker="s" if kind == "group" else "o", alpha=0.75, linewidths=0)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xlabel("arithmetic intensity (useful operations per DDR byte)")
        ax.set_ylabel("achieved throughput (useful TOPS over the span)")
        ax.grid(which="major", alpha=0.3)
        program = result.program
        what = "global layers and layer groups" if by == "unit" else "layers"
        hidden = len(points) - len(shown)
        note = f"; {hidden} without TIU work or DDR traffic not shown" if hidden else ""
        ax.set_title(title or f"{program.name} on {program.chip}, {program.precision}: "
                     f"roofline of {len(shown)} {what}{note}")
        handles = [Line2D([], [], linestyle="", marker="s" if k == "group" else "o",
                          markersize=6, color=GROUP_COLOR if k == "group" else colors[k],
                          label="layer group" if k == "group" else k)
                   for k in ["group", *colors] if any(p.kind == k for p in shown)]
        if handles:
            ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.09, top=0.94)  # tight_layout
        save_figure(fig, path)
        plt.close(fig)
