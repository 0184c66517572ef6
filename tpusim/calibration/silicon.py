"""The chip timing model against published chip times: predict, fit, cross-validate.

Each row of silicon/chip_times.csv is compiled once (tpusim's own compiler, as for any ONNX
file) and re-timed per trial (`Retimer`). The fit is bounded least squares on
log(simulated / measured) over the rows, on the [chip_timing] fields of the profile, within
the bounds the profile gives them. Leave-one-network-out cross-validation predicts every row
with parameters fitted without any row of its network.

Which rows the fit may use is decided by a rule written before fitting, never row by row
(`unreproducible`): a row whose published build tpusim cannot compile - INT8 with a
quantisation table given to the compiler (it keeps layers in another precision; the table is
not published), or asymmetric INT8 (tpusim compiles symmetric INT8, tpu-mlir's default) - is
left out of the fit. Cross-validation is reported both ways: with every row, and without them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tpusim.calibration.chip_times import ChipTime, read_chip_times, vendor_estimates
from tpusim.calibration.lsq import least_squares
from tpusim.calibration.retime import Retimer
from tpusim.calibration.validate import error_stats
from tpusim.errors import ModelError
from tpusim.hw.chip import Chip, timing_fields
from tpusim.outputs import csv_text, dumps_json, staged_directory
from tpusim.progress import report

_QTABLE = re.compile(r"--quantize_table")
_ASYMMETRIC = re.compile(r"INT8-asym|asymmetric", re.IGNORECASE)


def unreproducible(row: ChipTime) -> str | None:
    """Why tpusim cannot compile the build the row timed, or None."""
    if row.precision != "int8":
        return None
    if _QTABLE.search(row.what):
        return "INT8 with an unpublished quantisation table"
    if _ASYMMETRIC.search(row.what):
        return "asymmetric INT8"
    return None


@dataclass
class Case:
    """One row, with its program ready to re-time."""

    row: ChipTime
    retimer: Retimer
    vendor_ms: float | None  # tpu-mlir's estimate of one launch, where tpu-mlir/models has it
    excluded: str | None = None  # why the fit leaves it out (`unreproducible`)

    @property
    def network(self) -> str:
        return self.row.network

    def predict_ms(self, chip: Chip, timing: str = "chip") -> float:
        """One launch, ms, under `timing` ("vendor": tpu-mlir's model on tpusim's program)."""
        if timing == "vendor":
            return self.vendor_timing_ms
        if chip.chip_lmem_bank_conflict:  # re-timed only to first order: simulate
            from tpusim.sim.engine import Simulation

            return Simulation(self.retimer.program, chip).execute().total_ns / 1e6
        return self.retimer.run(chip, gradient=False).total_ns / 1e6

    @property
    def vendor_timing_ms(self) -> float:
        return self.retimer.vendor_total_ns / 1e6


def load_cases(folder: str | Path, chip: Chip, models: str | Path | None = None
               ) -> list[Case]:
    """Every row of FOLDER/chip_times.csv, each (file, precision, batch, opt) compiled once;
    `models`: tpu-mlir's compiles (tpu-mlir/models) for its estimate beside each row."""
    from tpusim.api import compile
    from tpusim.frontend.load import load_model

    rows = read_chip_times(folder)
    estimates = vendor_estimates(models) if models else {}
    graphs: dict[Path, Any] = {}
    retimers: dict[tuple, Retimer] = {}
    cases = []
    for i, row in enumerate(rows):
        key = (row.onnx, row.precision, row.batch, row.opt)
        if key not in retimers:
            report(f"chip times: row {i + 1} of {len(rows)}, {row.label}")
            if row.onnx not in graphs:
                graphs[row.onnx] = load_model(str(row.onnx))
            graph = graphs[row.onnx]
            if graph.batch != row.batch:
                raise ModelError(f"{row.onnx.name}: batch {graph.batch}, but chip_times.csv "
                                 f"says {row.batch}")
            retimers[key] = Retimer(compile(graph, chip, row.precision, row.opt), chip)
        estimate = estimates.get((row.model, row.precision))
        cases.append(Case(row, retimers[key], estimate, unreproducible(row)))
    return cases


def parse_free(text: str) -> list[str]:
    """The comma-separated [chip_timing] fields a fit moves."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = timing_fields()
    for name in names:
        if name not in known:
            raise ModelError(f"{name!r} is not a [chip_timing] field (expected one of "
                             f"{', '.join(known)})")
    return names


def _residuals(cases: Sequence[Case], chip: Chip, names: Sequence[str]
               ) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """x -> (log(simulated / measured) per case, its derivative by each of `names`)."""
    measured = np.log([c.row.measured_ms * 1e6 for c in cases])

    def fun(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        trial = chip.replace(**dict(zip(names, x.tolist())))
        r = np.empty(len(cases))
        jac = np.empty((len(cases), len(names)))
        for i, case in enumerate(cases):
            timed = case.retimer.run(trial)
            r[i] = math.log(timed.total_ns) - measured[i]
            jac[i] = [timed.gradient[n] / timed.total_ns for n in names]
        return r, jac

    return fun


@dataclass(frozen=True)
class Fit:
    """Fitted values of the free timing fields, each with one standard deviation."""

    chip: Chip  # the base chip with the fitted values
    values: dict[str, float]
    sigma: dict[str, float]  # nan where the value is held at a bound
    at_bound: tuple[str, ...]
    rows: int
    rms_log: float  # root-mean-square of log(simulated / measured) over the fitted rows
    iterations: int


# What a fit moves unless told otherwise: the fields cross-validation kept. The memory
# mechanisms' chip_lmem_bank_conflict and chip_ddr_turnaround_ns made it worse or changed
# nothing (README, "Memory in the simulation"); they stay at the profile's values.
FITTED_FIELDS = ("chip_conv_kernel_efficiency", "chip_short_row_cost", "chip_contention")


def fit(cases: Sequence[Case], chip: Chip, free: Sequence[str] | None = None) -> Fit:
    """Bounded least squares of the `free` fields (default: FITTED_FIELDS) over `cases`, each
    within the bounds its profile gives; the other fields keep `chip`'s values."""
    names = list(FITTED_FIELDS if free is None else free)
    if not cases:
        raise ModelError("no rows to fit")
    if not chip.chip_bounds:
        raise ModelError(f"chip {chip.name!r} has no [chip_timing] bounds (load it from a "
                         "profile)")
    lower, upper = np.array([chip.bounds(n) for n in names], dtype=float).T
    x0 = np.array([getattr(chip, n) for n in names], dtype=float)
    best = least_squares(_residuals(cases, chip, names), x0, lower, upper)
    values = dict(zip(names, best.x.tolist()))
    return Fit(chip.replace(**values), values, dict(zip(names, best.sigma.tolist())),
               tuple(n for n, b in zip(names, best.at_bound) if b), len(cases),
               math.sqrt(2 * best.cost / len(cases)), best.iterations)


@dataclass(frozen=True)
class Prediction:
    case: Case
    chip_ms: float  # the chip model's prediction of one launch

    @property
    def error(self) -> float:
        return self.chip_ms / self.case.row.measured_ms - 1


def predict(cases: Sequence[Case], chip: Chip) -> list[Prediction]:
    return [Prediction(c, c.predict_ms(chip)) for c in cases]


def cross_validate(cases: Sequence[Case], chip: Chip, free: Sequence[str] | None = None,
                   use: Callable[[Case], bool] = lambda c: True) -> list[Prediction]:
    """Every case predicted by a fit over the cases of the other networks that `use` allows
    (leave one network out), in the order given."""
    networks = list(dict.fromkeys(c.network for c in cases))
    predicted: dict[int, Prediction] = {}
    for k, network in enumerate(networks):
        report(f"cross-validating: {network} left out ({k + 1} of {len(networks)})")
        others = [c for c in cases if c.network != network and use(c)]
        fitted = fit(others, chip, free).chip
        for i, case in enumerate(cases):
            if case.network == network:
                predicted[i] = Prediction(case, case.predict_ms(fitted))
    return [predicted[i] for i in range(len(cases))]


def summary(errors: Sequence[float]) -> dict[str, float]:
    return error_stats(errors)


@dataclass
class Report:
    """What `tpusim fit --silicon` and `tpusim validate --silicon` print."""

    chip: str
    cases: list[Case]
    fitted: list[Prediction]  # with the profile's (or the fit's) values
    cross: dict[str, list[Prediction]] = field(default_factory=dict)  # "all", "reproducible"
    fit: Fit | None = None

    def stats(self) -> dict[str, dict[str, float]]:
        """Median / p90 / worst |error| of each column, over all rows and over the rows the
        exclusion rule keeps, each beside tpu-mlir's estimate on the same rows."""
        out: dict[str, dict[str, float]] = {}
        keep = [c.excluded is None for c in self.cases]
        columns = {"chip": [p.error for p in self.fitted],
                   "vendor_timing": [c.vendor_timing_ms / c.row.measured_ms - 1
                                     for c in self.cases]}
        for name, preds in self.cross.items():
            columns[f"cv_{name}"] = [p.error for p in preds]
        for name, errors in columns.items():
            out[name] = summary(errors)
            out[f"{name}_reproducible"] = summary([e for e, k in zip(errors, keep) if k])
        with_estimate = [i for i, c in enumerate(self.cases) if c.vendor_ms]
        out["tpu_mlir"] = summary([self.cases[i].vendor_ms / self.cases[i].row.measured_ms - 1
                                   for i in with_estimate])
        for name, errors in columns.items():
            out[f"{name}_where_tpu_mlir"] = summary([errors[i] for i in with_estimate])
        return out

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for i, case in enumerate(self.cases):
            row = case.row
            item: dict[str, Any] = {
                "network": case.network, "model": row.model, "precision": row.precision,
                "batch": row.batch, "opt": row.opt, "tool": row.tool,
                "measured_ms": round(row.measured_ms, 6),
                "chip_ms": round(self.fitted[i].chip_ms, 6),
                "vendor_timing_ms": round(case.vendor_timing_ms, 6),
                "tpu_mlir_ms": case.vendor_ms, "excluded": case.excluded}
            for name, preds in self.cross.items():
                item[f"cv_{name}_ms"] = round(preds[i].chip_ms, 6)
            rows.append(item)
        data: dict[str, Any] = {"chip": self.chip, "timing": "chip", "rows": rows,
                                "summary": self.stats()}
        if self.fit is not None:
            data["fit"] = {"values": self.fit.values, "sigma": self.fit.sigma,
                           "at_bound": list(self.fit.at_bound), "rows": self.fit.rows,
                           "rms_log": self.fit.rms_log, "iterations": self.fit.iterations}
        return data

    def to_csv(self) -> str:
        rows = self.to_dict()["rows"]
        return csv_text(list(rows[0]), rows)

    def plot(self, path: str | Path) -> None:
        from tpusim.calibration.silicon_plot import plot_report

        plot_report(self, Path(path))

    def save(self, directory: str | Path) -> list[Path]:
        """Write SILICON_FILES into `directory`: all of them or, on error, none."""
        directory = Path(directory)
        with staged_directory(directory) as tmp:
            (tmp / "silicon.csv").write_text(self.to_csv(), encoding="utf-8")
            (tmp / "silicon.json").write_text(dumps_json(self.to_dict()), encoding="utf-8")
            self.plot(tmp / "silicon.png")
            self.plot(tmp / "silicon.svg")
        return [directory / name for name in SILICON_FILES]


SILICON_FILES = ("silicon.csv", "silicon.json", "silicon.png", "silicon.svg")


__all__ = ["SILICON_FILES", "Case", "Fit", "Prediction", "Report", "cross_validate", "fit",
           "load_cases", "parse_free", "predict", "unreproducible"]
