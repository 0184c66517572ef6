"""Static timelines with matplotlib: one lane per engine plus a lane of layers."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from tpusim.lower.commands import Program
from tpusim.profile.summary import layer_rows
from tpusim.sim.engine import Record

_COLORS = {
    "S2L": "#4c9be8", "L2S": "#e8944c", "S2S": "#b05cc6", "L2L": "#8fbf7f",
    "CONV": "#2b7a3d", "MM2": "#3f9e4f", "AR": "#d9b13b", "SFU": "#c2503f", "SG": "#9c6b3a",
    "PorD": "#6e8fb3", "TRANS": "#8c8c8c",
}


def plot_timeline(program: Program, records: list[Record], path: Path,
                  window_ms: tuple[float, float] | None = None, title: str = "") -> None:
    """Draw the timeline to `path` (PNG or SVG by suffix); `window_ms` zooms in."""
    fig, ax = plt.subplots(figsize=(14, 3.6), dpi=110)
    lanes = [("TIU", 2), ("GDMA", 1), ("Layers", 0)]
    bars: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for r in records:
        lane = 2 if r.engine == "TIU" else 1
        color = r.kind if r.engine == "TIU" else r.direction
        bars.setdefault((lane, color), []).append((r.start_ns / 1e6, r.duration_ns / 1e6))
    for i, row in enumerate(layer_rows(program, records)):
        shade = "#7a7a7a" if i % 2 else "#b0b0b0"
        bars.setdefault((0, shade), []).append((row.start_ns / 1e6, row.span_ns / 1e6))
    for (lane, color), spans in sorted(bars.items()):
        ax.broken_barh(spans, (lane - 0.4, 0.8), facecolors=_COLORS.get(color, color),
                       linewidth=0)
    ax.set_yticks([y for _, y in lanes], [name for name, _ in lanes])
    ax.set_xlabel("time (ms)")
    total = max((r.end_ns for r in records), default=0.0) / 1e6
    ax.set_xlim(*(window_ms or (0.0, total or 1.0)))
    ax.set_ylim(-0.6, 2.6)
    ax.set_title(title or f"{program.name} on {program.chip}, {program.precision}: "
                 f"{total:.3f} ms")
    used = sorted({c for (_, c) in bars if c in _COLORS}, key=list(_COLORS).index)
    ax.legend(handles=[Patch(color=_COLORS[c], label=c) for c in used], loc="upper center",
              bbox_to_anchor=(0.5, -0.28), ncol=len(used) or 1, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None} if path.suffix == ".png" else {"Date": None})
    plt.close(fig)
