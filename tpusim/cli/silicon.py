"""`tpusim fit --silicon` and `tpusim validate --silicon`: the chip timing model against
published chip times."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from tpusim.calibration.silicon import (
    SILICON_FILES,
    Case,
    Report,
    cross_validate,
    fit,
    load_cases,
    parse_free,
    predict,
)
from tpusim.cli.text import format_table
from tpusim.hw.chip import Chip, load_chip, profile_path, write_chip_timing
from tpusim.outputs import dumps_json
from tpusim.progress import report


def _cases(args: argparse.Namespace, chip: Chip) -> list[Case]:
    folder = Path(args.silicon)
    models = Path(args.models) if getattr(args, "models", None) else \
        folder.parent / "tpu-mlir" / "models"
    return load_cases(folder, chip, models if (models / "summary.csv").is_file() else None)


def validate(args: argparse.Namespace) -> int:
    """The committed profile's predictions of every row."""
    chip = load_chip(args.chip)
    cases = _cases(args, chip)
    report = Report(chip.name, cases, predict(cases, chip))
    if args.out:
        report.save(Path(args.out))
    if args.json:
        sys.stdout.write(dumps_json(report.to_dict()))
        return 0
    sys.stdout.write(f"published chip times against tpusim's chip timing ({chip.name}, as "
                     "committed)\n" + format_report(report))
    if args.out:
        sys.stdout.write(f"wrote {Path(args.out)}/ ({', '.join(SILICON_FILES)})\n")
    return 0


def fit_silicon(args: argparse.Namespace) -> int:
    """Fit the [chip_timing] fields, cross-validate, and write the values to the profile."""
    chip = load_chip(args.chip)
    free = parse_free(args.fields) if args.fields else None
    cases = _cases(args, chip)
    kept = [c for c in cases if c.excluded is None]
    report("fitting every row the rule keeps")
    fitted = fit(kept, chip, free)
    cross = {"reproducible": cross_validate(cases, chip, free, lambda c: c.excluded is None),
             "all": cross_validate(cases, chip, free)}
    result = Report(chip.name, cases, predict(cases, fitted.chip), cross, fitted)
    if args.out:
        result.save(Path(args.out))
    written = None
    if not args.dry_run:
        written = profile_path(args.chip)
        stats = result.stats()["cv_reproducible"]
        write_chip_timing(written, fitted.values, (
            f"Fitted by `tpusim fit --silicon` ({date.today().isoformat()}) to {fitted.rows} "
            f"rows of silicon/chip_times.csv (published chip times); leave-one-network-out "
            f"cross-validated |error| median {100 * stats['median']:.1f} %, p90 "
            f"{100 * stats['p90']:.1f} %."))
    if args.json:
        data = result.to_dict()
        data["written"] = str(written) if written else None
        sys.stdout.write(dumps_json(data))
        return 0
    out = sys.stdout
    out.write(f"fitted to {fitted.rows} of {len(cases)} rows ({fitted.iterations} iterations, "
              f"rms log error {fitted.rms_log:.3f}):\n")
    for name, value in fitted.values.items():
        sigma = fitted.sigma[name]
        note = "  (at its bound)" if name in fitted.at_bound else \
            (f" ± {sigma:.3g}" if sigma == sigma else "")
        out.write(f"  {name:<28} {value:10.4g}{note}\n")
    out.write("\n" + format_report(result))
    if written:
        out.write(f"\nwrote the fitted values to {written}\n")
    if args.out:
        out.write(f"wrote {Path(args.out)}/ ({', '.join(SILICON_FILES)})\n")
    return 0


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.1f}"


_NAMES = {"reproducible": "rule", "all": "all"}


def format_report(report: Report) -> str:
    """The per-row table, then median / p90 / worst |error| of each model, over every row,
    over the rows the exclusion rule keeps, and over the rows tpu-mlir has an estimate for."""
    cross = report.cross
    header = ["row", "measured ms", "chip ms", "err %"]
    header += [f"CV {_NAMES[k]} %" for k in cross] + ["vendor %", "tpu-mlir %", "left out"]
    rows = []
    for i, case in enumerate(report.cases):
        m = case.row.measured_ms
        line = [case.row.label, f"{m:.3f}", f"{report.fitted[i].chip_ms:.3f}",
                _pct(report.fitted[i].error)]
        line += [_pct(cross[k][i].error) for k in cross]
        line += [_pct(case.vendor_timing_ms / m - 1),
                 _pct(case.vendor_ms / m - 1 if case.vendor_ms else None), case.excluded or ""]
        rows.append(line)
    stats = report.stats()
    n = {suffix: stats["vendor_timing" + suffix].get("n", 0)
         for suffix in ("", "_reproducible", "_where_tpu_mlir")}
    columns = [f"all {n['']} rows", f"{n['_reproducible']} the rule keeps",
               f"{n['_where_tpu_mlir']} with a tpu-mlir estimate"]
    models = [("chip", "chip timing" + (", fitted (in sample)" if cross else ""))]
    models += [(f"cv_{k}", f"chip timing, cross-validated ({_NAMES[k]} rows fitted)")
               for k in cross]
    models += [("vendor_timing", "vendor timing")]
    lines = [[label, *(_stats(stats[key + suffix]) for suffix in
                       ("", "_reproducible", "_where_tpu_mlir"))] for key, label in models]
    lines.append(["tpu-mlir's estimate", "-", "-", _stats(stats["tpu_mlir"])])
    return (format_table(header, rows) + "\n|error| %, median / p90 / worst\n"
            + format_table(["model", *columns], lines))


def _stats(s: dict[str, float]) -> str:
    if not s.get("n"):
        return "-"
    return f"{100 * s['median']:.1f} / {100 * s['p90']:.1f} / {100 * s['worst']:.0f}"
