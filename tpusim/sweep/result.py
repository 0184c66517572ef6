"""`SweepResult`: a sweep's rows, as a text table, CSV, JSON, a pandas DataFrame and a plot."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tpusim.errors import OutputError
from tpusim.outputs import csv_text, dumps_json, staged_directory
from tpusim.profile.tables import format_table
from tpusim.sweep.work import METRICS

# How a study ran rather than what it found: left out of the files `save` writes, so that the
# same study gives the same bytes however (and how fast) it ran (`to_dict` keeps them).
RUN_FIELDS = ("wall_s", "executor", "compiles", "reused")

# What `save` writes, with what each file is for.
SWEEP_FILES = {
    "sweep.csv": "one row per point: the parameters, the program it ran, the numbers",
    "sweep.json": "the same rows with the study's settings",
    "sweep.png": "total time against the parameters (heatmap and lines for two numeric ones)",
}


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class SweepResult:
    """Rows of a sweep, one per finished point, in point order (the same whatever ran them)."""

    model: str
    chip: str
    params: list[str]  # the swept parameters, in order
    axes: dict[str, list[Any]]  # each parameter's values, in order of first appearance
    fixed: dict[str, Any]  # precision, opt, batch (where not swept), recompile, timing
    rows: list[dict[str, Any]]  # "point", the parameters, "program", then METRICS
    points: int  # planned
    programs: int  # distinct programs planned
    compiles: int  # programs compiled (fewer when interrupted or kept from an earlier study)
    interrupted: bool = False
    wall_s: float = 0.0
    executor: str = "serial"
    notes: list[str] = field(default_factory=list)
    reused: int = 0  # programs kept from an earlier study in the same process

    @property
    def complete(self) -> bool:
        return len(self.rows) == self.points

    @property
    def columns(self) -> list[str]:
        return ["point", *self.params, "program", *METRICS]

    def column(self, name: str) -> list[Any]:
        return [row[name] for row in self.rows]

    def numeric_params(self) -> list[str]:
        """Swept parameters with several values, all numbers."""
        return [p for p in self.params
                if len(self.axes[p]) > 1 and all(is_number(v) for v in self.axes[p])]

    def table(self, metrics: tuple[str, ...] = ("total_ms", "tiu_busy_ms", "gdma_busy_ms",
                                                "ddr_bytes", "bound")) -> str:
        """The rows as text: the parameters, the chosen numbers and the program each ran."""
        header = [*self.params, *metrics, "program"]
        body = [[_value(row[p]) for p in self.params] + [_cell(row[m]) for m in metrics]
                + [str(row["program"])] for row in self.rows]
        return format_table(header, body)

    def grid(self, metric: str = "total_ms") -> tuple[str, str, list[list[Any]]] | None:
        """For a sweep of exactly two numeric parameters (and nothing else varying): the metric
        with the first parameter down and the second across (None for missing points)."""
        varying = [p for p in self.params if len(self.axes[p]) > 1]
        numeric = self.numeric_params()
        if len(numeric) != 2 or varying != numeric:
            return None
        down, across = numeric
        cells = {(row[down], row[across]): row[metric] for row in self.rows}
        return down, across, [[cells.get((a, b)) for b in self.axes[across]]
                              for a in self.axes[down]]

    def grid_table(self, metric: str = "total_ms") -> str:
        """The two-parameter grid as text ('' when the sweep is not one)."""
        grid = self.grid(metric)
        if grid is None:
            return ""
        down, across, cells = grid
        header = [f"{down} \\ {across}", *(_value(v) for v in self.axes[across])]
        body = [[_value(a), *("-" if c is None else _cell(c) for c in row)]
                for a, row in zip(self.axes[down], cells)]
        return f"{metric}\n" + format_table(header, body)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "chip": self.chip, "params": self.params,
                "axes": self.axes, "fixed": self.fixed, "rows": self.rows,
                "points": self.points, "finished": len(self.rows), "programs": self.programs,
                "compiles": self.compiles, "reused": self.reused, "interrupted": self.interrupted,
                "wall_s": round(self.wall_s, 3), "executor": self.executor, "notes": self.notes}

    def to_file_dict(self) -> dict[str, Any]:
        """`to_dict` without RUN_FIELDS: what sweep.json holds."""
        return {k: v for k, v in self.to_dict().items() if k not in RUN_FIELDS}

    def to_csv(self) -> str:
        return csv_text(self.columns, self.rows)

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame (pandas is optional: install it to use this)."""
        try:
            import pandas as pd
        except ImportError:
            raise OutputError("to_dataframe needs pandas: pip install pandas") from None
        return pd.DataFrame(self.rows, columns=self.columns)

    def plot(self, path: str | Path, metric: str = "total_ms") -> None:
        """Draw the metric against the parameters (PNG or SVG by the path's suffix)."""
        from tpusim.sweep.plot import plot_sweep

        plot_sweep(self, Path(path), metric)

    def save(self, directory: str | Path, plot: bool = True) -> list[Path]:
        """Write SWEEP_FILES into `directory`: all of them or, on error, none."""
        directory = Path(directory)
        with staged_directory(directory) as tmp:
            (tmp / "sweep.csv").write_text(self.to_csv(), encoding="utf-8")
            (tmp / "sweep.json").write_text(dumps_json(self.to_file_dict()), encoding="utf-8")
            if plot and self.rows:
                self.plot(tmp / "sweep.png")
            written = sorted(p.name for p in tmp.iterdir())
        return [directory / name for name in written]

    @classmethod
    def load(cls, path: str | Path) -> SweepResult:
        """Read a sweep saved by `save` (its directory or its sweep.json)."""
        path = Path(path)
        path = path / "sweep.json" if path.is_dir() else path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["model"], data["chip"], data["params"], data["axes"],
                       data["fixed"], data["rows"], data["points"], data["programs"],
                       data.get("compiles", 0), data["interrupted"], data.get("wall_s", 0.0),
                       data.get("executor", ""), data.get("notes", []),
                       data.get("reused", 0))
        except OSError as exc:
            raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from None
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise OutputError(f"{path} is not a saved sweep: {exc}") from None


def _value(value: Any) -> str:
    """A parameter's value: as short as it can be written exactly."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"
    return str(value)
