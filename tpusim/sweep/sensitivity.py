"""Sensitivity: each chosen chip field moved down and up by a fraction, the effect on the total
time ranked, drawn as a tornado chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tpusim.cost.timing import DEFAULT_TIMING
from tpusim.hw.chip import Chip, at_most, load_chip
from tpusim.ir.graph import Graph
from tpusim.limits import MAX_COMMANDS
from tpusim.outputs import csv_text, dumps_json, staged_directory
from tpusim.profile.tables import format_table
from tpusim.sweep.execute import ExecutorSpec, ProgressSpec
from tpusim.sweep.params import COMPILER_SETTINGS, SweepError, check_name
from tpusim.sweep.result import SweepResult
from tpusim.sweep.run import run_points

# The timing fields a study usually asks about first (all non-zero on the BM1684X).
DEFAULT_PARAMS: tuple[str, ...] = ("tiu_mhz", "gdma_mhz", "ddr_gbps", "ddr_read_efficiency",
                                   "ddr_write_efficiency", "gdma_bytes_per_cycle",
                                   "ddr_min_access_bytes")

SENSITIVITY_FILES = {
    "sensitivity.csv": "one row per parameter, largest effect first",
    "sensitivity.json": "the same with the study's settings and every simulated point",
    "tornado.png": "the effects as a tornado chart",
    "tornado.svg": "the same, vector",
}


@dataclass(frozen=True)
class Effect:
    """What moving one parameter down and up did to the total time."""

    param: str
    base_value: float
    low_value: float
    high_value: float
    base_ms: float
    low_ms: float
    high_ms: float

    def _relative(self, ms: float) -> float:
        """`ms` as a change from the base; a program of no commands (0 ms) never changes."""
        return ms / self.base_ms if self.base_ms else 0.0

    @property
    def low_change(self) -> float:
        return self._relative(self.low_ms - self.base_ms)

    @property
    def high_change(self) -> float:
        return self._relative(self.high_ms - self.base_ms)

    @property
    def swing(self) -> float:
        """The spread of the total time between the two moves, as a fraction of the base."""
        return self._relative(abs(self.high_ms - self.low_ms))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "low_change": round(self.low_change, 6),
                "high_change": round(self.high_change, 6), "swing": round(self.swing, 6)}


@dataclass
class SensitivityResult:
    model: str
    chip: str
    setting: str  # precision and options, for titles
    delta: float
    base_ms: float
    entries: list[Effect]  # largest swing first
    sweep: SweepResult  # every simulated point

    @property
    def interrupted(self) -> bool:
        return self.sweep.interrupted

    def table(self) -> str:
        header = ["parameter", "low", "base", "high", "low ms", "high ms", "low %", "high %",
                  "swing %"]
        body = [[e.param, f"{e.low_value:g}", f"{e.base_value:g}", f"{e.high_value:g}",
                 f"{e.low_ms:.4f}", f"{e.high_ms:.4f}", f"{100 * e.low_change:+.2f}",
                 f"{100 * e.high_change:+.2f}", f"{100 * e.swing:.2f}"] for e in self.entries]
        return format_table(header, body)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "chip": self.chip, "setting": self.setting,
                "delta": self.delta, "base_ms": self.base_ms,
                "entries": [e.to_dict() for e in self.entries], "sweep": self.sweep.to_dict()}

    def to_csv(self) -> str:
        rows = [e.to_dict() for e in self.entries]
        return csv_text(list(rows[0]) if rows else ["param"], rows)

    def plot(self, path: str | Path) -> None:
        from tpusim.sweep.plot import plot_tornado

        plot_tornado(self, Path(path))

    def save(self, directory: str | Path) -> list[Path]:
        """Write SENSITIVITY_FILES into `directory`: all of them or, on error, none."""
        directory = Path(directory)
        with staged_directory(directory) as tmp:
            (tmp / "sensitivity.csv").write_text(self.to_csv(), encoding="utf-8")
            (tmp / "sensitivity.json").write_text(
                dumps_json({**self.to_dict(), "sweep": self.sweep.to_file_dict()}),
                encoding="utf-8")
            if self.entries:
                self.plot(tmp / "tornado.png")
                self.plot(tmp / "tornado.svg")
            written = sorted(p.name for p in tmp.iterdir())
        return [directory / name for name in written]


def moved(base: Chip, name: str, factor: float) -> float | int:
    """`name`'s value times `factor`: integers rounded, fractions (efficiencies, the chip
    timing's shares) capped at 1."""
    value = getattr(base, name) * factor
    limit = at_most(name)
    if limit is not None:
        value = min(value, limit)
    return round(value) if isinstance(getattr(base, name), int) else round(value, 9)


def sensitivity(model: str | Graph, params: Sequence[str] | None = None, delta: float = 0.2, *,
                chip: Chip | str = "bm1684x", precision: str = "f16", opt: str = "after",
                batch: int | None = None, recompile: bool = False,
                executor: ExecutorSpec = None, workers: int | None = None,
                progress: ProgressSpec = None, unknown_ops: str = "error",
                max_commands: int = MAX_COMMANDS,
                timing: str = DEFAULT_TIMING) -> SensitivityResult:
    """Move each parameter (chip fields, DEFAULT_PARAMS if none given) by -delta and +delta
    of its value, one at a time, and rank the parameters by how much the total time moves.
    The points run as a sweep (see `sweep` for the other arguments)."""
    base = chip if isinstance(chip, Chip) else load_chip(chip)
    if not 0 < delta < 1:
        raise SweepError(f"delta must be between 0 and 1 (a fraction), got {delta}")
    names = list(DEFAULT_PARAMS if params is None else params)
    if not names:
        raise SweepError("sensitivity needs at least one parameter")
    settings: list[dict[str, Any]] = [{}]
    for name in names:
        check_name(name)
        if name in COMPILER_SETTINGS or isinstance(getattr(base, name), str):
            raise SweepError(f"sensitivity moves numeric chip fields; {name!r} is not one")
        low, high = moved(base, name, 1 - delta), moved(base, name, 1 + delta)
        if low == high:
            raise SweepError(f"{name}: {getattr(base, name)} moved by ±{delta:.0%} does not "
                             "change; choose another parameter or a larger delta")
        settings += [{name: low}, {name: high}]
    result = run_points(model, settings, chip=base, precision=precision, opt=opt, batch=batch,
                        recompile=recompile, executor=executor, workers=workers,
                        progress=progress, unknown_ops=unknown_ops, max_commands=max_commands,
                        timing=timing)
    ms = {row["point"]: row["total_ms"] for row in result.rows}
    entries = []
    for i, name in enumerate(names):
        lo, hi = 1 + 2 * i, 2 + 2 * i
        if 0 in ms and lo in ms and hi in ms:  # all three finished (not interrupted)
            entries.append(Effect(name, getattr(base, name), settings[lo][name],
                                  settings[hi][name], ms[0], ms[lo], ms[hi]))
    entries.sort(key=lambda e: (-e.swing, e.param))
    setting = f"{precision}, opt {opt}, {result.fixed['timing']} timing"
    return SensitivityResult(result.model, base.name, setting, delta, ms.get(0, float("nan")),
                             entries, result)
