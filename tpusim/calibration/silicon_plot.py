"""Pictures of the chip timing model against chip times: predicted against measured (log-log),
and the residuals by network family and precision."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib import rc_context
from matplotlib.figure import Figure

from tpusim.outputs import save_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from tpusim.calibration.silicon import Report

_STYLE = {"svg.hashsalt": "tpusim", "font.size": 9}
_PRECISIONS = {"f32": "tab:blue", "f16": "tab:orange", "bf16": "tab:purple", "int8": "tab:green"}
_BAND = 0.15  # the +-15 % lines


def plot_report(report: Report, path: Path) -> None:
    """Both panels side by side, to `path` (PNG or SVG by its suffix)."""
    with rc_context(_STYLE):
        fig = Figure(figsize=(12, 5), dpi=110)
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
        predicted_vs_measured(report, left)
        residuals(report, right)
        fig.suptitle(f"{report.chip}: tpusim's chip timing against published chip times")
        fig.tight_layout()
        save_figure(fig, path)


def _chip_series(report: Report) -> tuple[str, list[float]]:
    """The chip model's predictions to draw: cross-validated where there are any."""
    if "reproducible" in report.cross:
        return ("tpusim chip, leave-one-network-out",
                [p.chip_ms for p in report.cross["reproducible"]])
    return "tpusim chip (profile)", [p.chip_ms for p in report.fitted]


def predicted_vs_measured(report: Report, ax: Axes) -> None:
    measured = [c.row.measured_ms for c in report.cases]
    label, chip = _chip_series(report)
    ax.scatter(measured, chip, s=28, color="tab:red", label=label, zorder=3)
    ax.scatter(measured, [c.vendor_timing_ms for c in report.cases], s=22, marker="s",
               facecolor="none", edgecolor="tab:gray", label="tpusim vendor timing", zorder=2)
    known = [c for c in report.cases if c.vendor_ms]
    ax.scatter([c.row.measured_ms for c in known], [c.vendor_ms for c in known], s=26,
               marker="x", color="black", label="tpu-mlir's estimate", zorder=2)
    low = min(min(measured), *chip) * 0.7
    high = max(max(measured), *chip) * 1.4
    ax.plot([low, high], [low, high], color="black", linewidth=0.8)
    for f in (1 - _BAND, 1 + _BAND):
        ax.plot([low, high], [low * f, high * f], color="black", linewidth=0.5, linestyle="--")
    ax.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high),
           xlabel="measured on the chip, ms per launch", ylabel="predicted, ms per launch",
           title="predicted against measured (dashed: +-15 %)")
    ax.legend(loc="upper left", fontsize=8)


def residuals(report: Report, ax: Axes) -> None:
    families = list(dict.fromkeys(c.network for c in report.cases))
    _, chip = _chip_series(report)
    for i, case in enumerate(report.cases):
        x = families.index(case.network)
        m = case.row.measured_ms
        color = _PRECISIONS.get(case.row.precision, "tab:brown")
        marker = "o" if case.excluded is None else "D"
        ax.scatter(x + 0.08, 100 * (chip[i] / m - 1), s=30, color=color, marker=marker,
                   zorder=3)
        ax.scatter(x - 0.08, 100 * (case.vendor_timing_ms / m - 1), s=18, color=color,
                   marker="s", facecolor="none", zorder=2)
    for precision, color in _PRECISIONS.items():
        if any(c.row.precision == precision for c in report.cases):
            ax.scatter([], [], color=color, label=precision)
    ax.scatter([], [], color="gray", marker="o", label="chip timing")
    ax.scatter([], [], color="gray", marker="s", facecolor="none", label="vendor timing")
    ax.scatter([], [], color="gray", marker="D", label="left out of the fit by the rule")
    ax.axhline(0, color="black", linewidth=0.8)
    for f in (-_BAND, _BAND):
        ax.axhline(100 * f, color="black", linewidth=0.5, linestyle="--")
    ax.set_xticks(range(len(families)), families, rotation=30, ha="right")
    ax.set(ylabel="error against the chip, %", title="residuals by network and precision")
    ax.legend(fontsize=7, ncol=2, loc="best")


__all__ = ["plot_report", "predicted_vs_measured", "residuals"]
