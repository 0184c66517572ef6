"""Static timelines with matplotlib (PNG or SVG): lanes for layers, GDMA and TIU as bmprofile
draws them (GDMA height = achieved bandwidth over peak, TIU height = uArch rate), and below
them DDR bandwidth and local-memory occupancy. Bars narrower than a pixel merge into one
column per pixel, so the output stays small; nothing time-dependent goes into the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch

from tpusim.errors import TpusimError
from tpusim.outputs import save_figure
from tpusim.profile.colors import (
    DDR_COLOR,
    GLOBAL_LAYER_COLORS,
    GROUP_COLOR,
    LMEM_COLOR,
    LOCAL_LAYER_COLORS,
    command_color,
)
from tpusim.profile.kpis import tiu_rate
from tpusim.profile.series import ddr_bytes_per_bin, lmem_series, nice_bin_ns, pack_rows
from tpusim.profile.summary import group_rows, layer_rows

if TYPE_CHECKING:
    from tpusim.sim.result import Result

_WIDTH_IN, _DPI = 14.0, 110
_LANES = {"TIU": 0.0, "GDMA": 1.15}  # lane bottoms; layers sit above them
_LANE_H = 1.0


def plot_window_ms(result: Result, window_ms: tuple[float, float] | None = None,
                   layers: tuple[int, int] | None = None) -> tuple[float, float]:
    """The time window to draw: given, or spanning layers first..last (program indices)."""
    if window_ms is not None and layers is not None:
        raise TpusimError("give a time window or a layer range, not both")
    if layers is not None:
        first, last = layers
        rows = [r for r in layer_rows(result.program, result.records) if first <= r.index <= last]
        if not rows:
            raise TpusimError(f"no layer with commands in the range {first}..{last}")
        return min(r.start_ns for r in rows) / 1e6, max(r.end_ns for r in rows) / 1e6
    if window_ms is not None:
        if not window_ms[0] < window_ms[1]:
            raise TpusimError(f"empty time window {window_ms[0]}..{window_ms[1]} ms")
        return float(window_ms[0]), float(window_ms[1])
    return 0.0, (result.total_ns / 1e6) or 1.0


def _bars(result: Result, engine: str, t0: float, t1: float, px_ms: float):
    """(start, width, height, color) in ms of an engine's commands in view, merged per pixel."""
    chip, program = result.chip, result.program
    recs = [r for r in result.records if r.engine == engine
            and r.end_ns / 1e6 >= t0 and r.start_ns / 1e6 <= t1]
    if not recs:
        return []
    start = np.array([r.start_ns for r in recs]) / 1e6
    width = np.array([r.duration_ns for r in recs]) / 1e6
    if engine == "TIU":
        height = np.array([tiu_rate(program, r.cmd_id, chip) for r in recs])
        keys = [r.kind for r in recs]
    else:
        height = np.array([min(1.0, r.bytes / r.duration_ns / chip.ddr_gbps)
                           if r.duration_ns else 1.0 for r in recs])
        keys = [r.direction for r in recs]
    narrow = width < px_ms
    column = np.floor((start - t0) / px_ms).astype(int)
    order = np.lexsort((-height, column))  # by column, tallest first
    bars, seen = [], set()
    for i in order.tolist():
        if narrow[i]:
            if column[i] in seen:
                continue
            seen.add(column[i])
            bars.append((t0 + column[i] * px_ms, px_ms, height[i], keys[i]))
        else:
            bars.append((start[i], width[i], height[i], keys[i]))
    return sorted(bars)


def _draw_rects(ax, rects: list[tuple[float, float, float, float]], colors: list[str]) -> None:
    if not rects:
        return
    verts = [[(x, y), (x + w, y), (x + w, y + h), (x, y + h)] for x, w, y, h in rects]
    # thousands of bars: an SVG holds them as one image (axes and text stay vector)
    ax.add_collection(PolyCollection(verts, facecolors=colors, linewidths=0, rasterized=True))


def _draw_layers(ax, result: Result, t0: float, t1: float, px_ms: float) -> float:
    rows = [r for r in layer_rows(result.program, result.records)
            if r.end_ns / 1e6 >= t0 and r.start_ns / 1e6 <= t1]
    packed = pack_rows([(r.start_ns, r.end_ns) for r in rows])
    nrows = max(packed, default=0) + 1
    base = _LANES["GDMA"] + _LANE_H + 0.15
    row_h = _LANE_H / nrows
    rects, colors = [], []
    for k, (r, row) in enumerate(zip(rows, packed)):
        shades = LOCAL_LAYER_COLORS if r.group >= 0 else GLOBAL_LAYER_COLORS
        x, w = r.start_ns / 1e6, max(r.span_ns / 1e6, px_ms)
        rects.append((x, w, base + row * row_h, row_h * 0.92))
        colors.append(shades[k % 2])
        if w > 0.06 * (t1 - t0) and nrows <= 3:
            ax.text(max(x, t0) + 0.004 * (t1 - t0), base + (row + 0.46) * row_h, r.name,
                    fontsize=7, va="center", clip_on=True)
    _draw_rects(ax, rects, colors)
    for g in group_rows(result.program, result.records):
        for t in (g.start_ns / 1e6, g.end_ns / 1e6):
            ax.axvline(t, color=GROUP_COLOR, linewidth=0.6, linestyle="--", alpha=0.6)
    return base


def plot_timeline(result: Result, path: Path | Sequence[Path],
                  window_ms: tuple[float, float] | None = None,
                  layers: tuple[int, int] | None = None, title: str = "") -> None:
    """Draw the run to `path` (PNG or SVG by suffix; several paths: one drawing, each
    format); zoom with `window_ms` or `layers`."""
    t0, t1 = plot_window_ms(result, window_ms, layers)
    total = result.total_ns / 1e6
    program = result.program
    zoomed = "" if (t0, t1) == (0.0, total) else f", showing {t0:.4f}-{t1:.4f} ms"
    _plot([result], [title or f"{program.name} on {program.chip}, {program.precision}: "
                     f"total {total:.3f} ms{zoomed}"], path, t0, t1)


def plot_timelines(results: Sequence[Result], path: Path | Sequence[Path],
                   labels: Sequence[str] = (),
                   window_ms: tuple[float, float] | None = None) -> None:
    """Several runs stacked on one time axis (a before/after comparison), each with its lanes
    and its DDR and LMEM view; the axis spans the longest run unless `window_ms` is given."""
    if not results:
        raise TpusimError("no run to plot")
    longest = max(results, key=lambda r: r.total_ns)
    t0, t1 = plot_window_ms(longest, window_ms)
    titles = []
    for i, result in enumerate(results):
        p = result.program
        name = labels[i] if i < len(labels) else f"{p.name} on {p.chip}, {p.precision}"
        titles.append(f"{name}: total {result.total_ns / 1e6:.3f} ms")
    _plot(results, titles, path, t0, t1)


def _plot(results: Sequence[Result], titles: Sequence[str], path: Path | Sequence[Path],
          t0: float, t1: float) -> None:
    px_ms = (t1 - t0) / (_WIDTH_IN * _DPI * 0.85)
    n = len(results)
    with plt.rc_context({"svg.hashsalt": "tpusim", "font.size": 9}):
        fig, axes = plt.subplots(2 * n, 1, figsize=(_WIDTH_IN, 5.6 * n), dpi=_DPI, sharex=True,
                                 gridspec_kw={"height_ratios": [3, 1.2] * n}, squeeze=False)
        for i, (result, title) in enumerate(zip(results, titles)):
            ax, ax2 = axes[2 * i, 0], axes[2 * i + 1, 0]
            _draw_lanes(ax, result, t0, t1, px_ms)
            ax.set_title(title)
            _draw_memory(ax2, result, t0, t1)
            if i < n - 1:
                ax2.set_xlabel("")  # the shared axis is named once, at the bottom
        # fixed margins (the legend sits right of the lanes): measuring every label for a tight
        # layout costs more than drawing the bars
        height = 5.6 * n
        fig.subplots_adjust(left=0.068, right=0.875, top=1 - 0.42 / height,
                            bottom=0.55 / height, hspace=0.32)
        save_figure(fig, path)
        plt.close(fig)


def _draw_lanes(ax, result: Result, t0: float, t1: float, px_ms: float) -> None:
    """TIU and GDMA bars, the layers above them, and the legend."""
    used: list[str] = []
    for engine, base in _LANES.items():
        bars = _bars(result, engine, t0, t1, px_ms)
        _draw_rects(ax, [(x, w, base, h * _LANE_H * 0.95) for x, w, h, _ in bars],
                    [command_color(k) for *_, k in bars])
        used += sorted({k for *_, k in bars} - set(used))
    layer_base = _draw_layers(ax, result, t0, t1, px_ms)
    ax.set_yticks([_LANES["TIU"] + 0.5, _LANES["GDMA"] + 0.5, layer_base + 0.5],
                  ["TIU\n(uArch rate)", "GDMA\n(BW / peak)", "layers"])
    ax.set_ylim(-0.05, layer_base + _LANE_H + 0.05)
    ax.set_xlim(t0, t1)
    ax.grid(axis="x", alpha=0.3)
    handles = [Patch(color=command_color(k), label=k) for k in used]
    handles += [Patch(color=GLOBAL_LAYER_COLORS[0], label="global layer"),
                Patch(color=LOCAL_LAYER_COLORS[0], label="local layer")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8,
              frameon=False)


def _draw_memory(ax, result: Result, t0: float, t1: float) -> None:
    """DDR bandwidth (left axis) and LMEM per lane (right axis) over the window."""
    bin_ns = nice_bin_ns((t1 - t0) * 1e6, bins=300)
    per_bin = ddr_bytes_per_bin(result, bin_ns, t0 * 1e6, t1 * 1e6)
    edges = (t0 * 1e6 + np.arange(len(per_bin) + 1) * bin_ns) / 1e6
    gbps = np.append(per_bin / bin_ns, 0.0)
    ax.fill_between(edges, gbps, step="post", color=DDR_COLOR, alpha=0.45, linewidth=0)
    ax.axhline(result.chip.ddr_gbps, color=DDR_COLOR, linestyle="--", linewidth=0.8)
    ax.set_ylim(0, result.chip.ddr_gbps * 1.1)
    ax.set_ylabel("DDR GB/s", color=DDR_COLOR)
    ax.set_xlabel("time (ms)")
    ax.grid(axis="x", alpha=0.3)
    lmem = lmem_series(result)
    ax_l = ax.twinx()
    ax_l.step([t / 1e6 for t, _ in lmem], [b / 1024 for _, b in lmem], where="post",
              color=LMEM_COLOR, linewidth=1.0)
    ax_l.set_ylim(0, result.chip.lmem_bytes_per_npu / 1024 * 1.1)
    ax_l.set_ylabel("LMEM KiB / lane", color=LMEM_COLOR)
    ax.set_xlim(t0, t1)
