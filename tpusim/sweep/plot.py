"""Pictures of what-if studies: a sweep's metric against its parameters, a tornado chart."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib import rc_context
from matplotlib.figure import Figure

from tpusim.outputs import save_figure

if TYPE_CHECKING:
    from tpusim.sweep.result import SweepResult
    from tpusim.sweep.sensitivity import SensitivityResult

_MAX_SERIES = 10  # more lines than this are unreadable: draw one bar per point instead


# Figures are made without pyplot, so drawing leaves the caller's backend alone (a notebook's).
_STYLE = {"svg.hashsalt": "tpusim", "font.size": 9}


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    save_figure(fig, path)  # no timestamps: the same study gives the same file


def _label(name: str, value: Any) -> str:
    return f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"


def plot_sweep(result: SweepResult, path: Path, metric: str = "total_ms") -> None:
    """Two numeric parameters: a heatmap beside lines (one per value of the second). One
    numeric parameter: lines against it, one per combination of the others. Otherwise (or too
    many lines): one bar per point."""
    title = (f"{result.model} on {result.chip}: {metric}"
             + (" (interrupted)" if result.interrupted else ""))
    with rc_context(_STYLE):
        grid = result.grid(metric)
        if grid is not None:
            fig = Figure(figsize=(11, 4.4), dpi=110)
            heat, lines = fig.subplots(1, 2)
            _heatmap(heat, result, grid, metric)
            _lines(lines, result, grid[0], [grid[1]], metric)
        else:
            numeric = result.numeric_params()
            others = [p for p in result.params if p != (numeric[0] if numeric else None)
                      and len(result.axes[p]) > 1]
            series = 1
            for p in others:
                series *= len(result.axes[p])
            fig = Figure(figsize=(8, 4.4), dpi=110)
            ax = fig.subplots()
            if numeric and series <= _MAX_SERIES:
                _lines(ax, result, numeric[0], others, metric)
            else:
                _bars(ax, result, metric)
        fig.suptitle(title)
        _save(fig, path)


def _heatmap(ax: Any, result: SweepResult, grid: tuple[str, str, list[list[Any]]],
             metric: str) -> None:
    down, across, cells = grid
    values = [[float("nan") if c is None else c for c in row] for row in cells]
    image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis_r")
    ax.figure.colorbar(image, ax=ax, label=metric)
    ax.set_xticks(range(len(result.axes[across])), [f"{v:g}" for v in result.axes[across]])
    ax.set_yticks(range(len(result.axes[down])), [f"{v:g}" for v in result.axes[down]])
    ax.set_xlabel(across)
    ax.set_ylabel(down)
    finite = [v for row in values for v in row if v == v]
    middle = (min(finite) + max(finite)) / 2 if finite else 0
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if v == v:
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8,
                        color="white" if v > middle else "black")


def _lines(ax: Any, result: SweepResult, x: str, others: list[str], metric: str) -> None:
    """The metric against `x`, one line per combination of the `others`' values."""
    for combo in itertools.product(*(result.axes[p] for p in others)):
        chosen = dict(zip(others, combo))
        rows = [r for r in result.rows if all(r[p] == v for p, v in chosen.items())]
        rows.sort(key=lambda r: r[x])
        if rows:
            label = ", ".join(_label(p, v) for p, v in chosen.items()) or None
            ax.plot([r[x] for r in rows], [r[metric] for r in rows], marker="o", label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if others:
        ax.legend(fontsize=8)


def _bars(ax: Any, result: SweepResult, metric: str) -> None:
    labels = [", ".join(_label(p, r[p]) for p in result.params) for r in result.rows]
    ax.barh(range(len(result.rows)), [r[metric] for r in result.rows], color="#4c72b0")
    ax.set_yticks(range(len(result.rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(metric)
    ax.grid(axis="x", alpha=0.3)


def plot_tornado(report: SensitivityResult, path: Path) -> None:
    """Each parameter's effect on the total time, moved down and up, largest effect on top."""
    entries = report.entries
    with rc_context(_STYLE):
        fig = Figure(figsize=(8, 1.2 + 0.42 * max(1, len(entries))), dpi=110)
        ax = fig.subplots()
        ys = range(len(entries))
        low = [100 * e.low_change for e in entries]
        high = [100 * e.high_change for e in entries]
        ax.barh(ys, low, color="#4c72b0", label=f"parameter -{report.delta:.0%}")
        ax.barh(ys, high, color="#dd8452", label=f"parameter +{report.delta:.0%}")
        ax.set_yticks(list(ys), [f"{e.param}\n{e.low_value:g} / {e.base_value:g} / "
                                 f"{e.high_value:g}" for e in entries], fontsize=8)
        ax.invert_yaxis()  # the largest effect on top
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel(f"change of total time (%) from {report.base_ms:.4f} ms")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title(f"{report.model} on {report.chip}, {report.setting}: sensitivity of total "
                     f"time")
        _save(fig, path)
