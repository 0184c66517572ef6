"""`tpusim sweep` and `tpusim sensitivity`: what-if studies from the command line.

Ctrl-C stops a study: the points that finished are printed and written, and the exit code is
130.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tpusim.cli.text import print_report, warning_lines
from tpusim.errors import TpusimError
from tpusim.hw.chip import load_chip
from tpusim.sweep import SensitivityResult, SweepResult, parse_set
from tpusim.sweep import sensitivity as run_sensitivity
from tpusim.sweep import sweep as run_sweep
from tpusim.sweep.result import SWEEP_FILES
from tpusim.sweep.sensitivity import SENSITIVITY_FILES


def _common(args: argparse.Namespace) -> dict:
    return {"chip": load_chip(args.chip), "precision": args.precision, "opt": args.opt,
            "batch": args.batch, "recompile": args.recompile, "executor": args.executor,
            "workers": args.workers, "progress": False if args.quiet else args.progress,
            "unknown_ops": args.unknown_ops,
            "max_commands": args.max_commands, "timing": args.timing}


def _finish(result: SweepResult, written: str) -> int:
    """The exit code, after saying on stderr what an interrupt left."""
    if not result.interrupted:
        return 0
    sys.stderr.write(f"tpusim: interrupted: {len(result.rows)} of {result.points} points "
                     f"finished{written}\n")
    return 130


def sweep(args: argparse.Namespace) -> int:
    common = _common(args)
    grid: dict = {}
    for text in args.set:
        name, values = parse_set(text, common["chip"])
        if name in grid:
            raise TpusimError(f"--set {name} is given twice")
        grid[name] = values
    result = warning_lines(lambda: run_sweep(args.model, grid, **common))
    if args.out:
        result.save(Path(args.out))
    print_report(args, result.to_dict, lambda: format_sweep(result),
                 f" ({', '.join(SWEEP_FILES)})")
    return _finish(result, f" (written to {args.out}/)" if args.out else "")


def format_sweep(result: SweepResult) -> str:
    fixed = ", ".join(f"{k} {v}" for k, v in result.fixed.items()
                      if k not in ("recompile", "timing") and v is not None)
    head = (f"{result.model} on {result.chip}{', ' + fixed if fixed else ''}: "
            f"{len(result.rows)} of {result.points} points, {_programs(result)}, "
            f"{result.fixed.get('timing', 'chip')} timing, {result.executor}, "
            f"{result.wall_s:.1f} s\n")
    grid = result.grid_table()
    notes = "".join(f"note: {n}\n" for n in result.notes)
    return head + result.table() + (f"\n{grid}" if grid else "") + notes


def _programs(result: SweepResult) -> str:
    """'4 programs (4 compiled)'; programs kept from an earlier study are counted apart."""
    plural = "s" if result.programs != 1 else ""
    kept = f", {result.reused} kept from before" if result.reused else ""
    return f"{result.programs} program{plural} ({result.compiles} compiled{kept})"


def sensitivity(args: argparse.Namespace) -> int:
    params = None
    if args.params is not None:
        params = [p.strip() for p in args.params.split(",") if p.strip()]
    report = warning_lines(lambda: run_sensitivity(args.model, params, args.delta,
                                                    **_common(args)))
    if args.out:
        report.save(Path(args.out))
    print_report(args, report.to_dict, lambda: format_sensitivity(report),
                 f" ({', '.join(SENSITIVITY_FILES)})")
    return _finish(report.sweep, f" (written to {args.out}/)" if args.out else "")


def format_sensitivity(report: SensitivityResult) -> str:
    s = report.sweep
    head = (f"{report.model} on {report.chip}, {report.setting}: total {report.base_ms:.4f} ms; "
            f"each parameter moved by -{report.delta:.0%} and +{report.delta:.0%}, largest "
            f"effect first ({len(s.rows)} points, {_programs(s)}, {s.executor}, "
            f"{s.wall_s:.1f} s)\n")
    return head + report.table() + "".join(f"note: {n}\n" for n in s.notes)
