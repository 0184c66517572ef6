"""`tpusim sweep` and `tpusim sensitivity`: what-if studies from the command line.

Ctrl-C stops a study: the points that finished are printed and written, and the exit code is
130.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tpusim.errors import TpusimError
from tpusim.frontend.onnx_import import UnknownOperatorWarning
from tpusim.hw.chip import load_chip
from tpusim.outputs import dumps_json
from tpusim.sweep import SensitivityResult, SweepResult, parse_set
from tpusim.sweep import sensitivity as run_sensitivity
from tpusim.sweep import sweep as run_sweep
from tpusim.sweep.result import SWEEP_FILES
from tpusim.sweep.sensitivity import SENSITIVITY_FILES

T = TypeVar("T")


def _warning_lines(call: Callable[[], T]) -> T:
    """Run `call`; unknown-operator warnings become one line each on stderr, as in `run`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownOperatorWarning)
        value = call()
    for message in dict.fromkeys(str(w.message) for w in caught
                                 if issubclass(w.category, UnknownOperatorWarning)):
        sys.stderr.write(f"tpusim: warning: {message}\n")
    return value


def _common(args: argparse.Namespace) -> dict:
    return {"chip": load_chip(args.chip), "precision": args.precision, "opt": args.opt,
            "batch": args.batch, "recompile": args.recompile, "executor": args.executor,
            "workers": args.workers, "progress": args.progress, "unknown_ops": args.unknown_ops,
            "max_commands": args.max_commands}


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
    result = _warning_lines(lambda: run_sweep(args.model, grid, **common))
    if args.out:
        result.save(Path(args.out))
    if args.json:
        sys.stdout.write(dumps_json(result.to_dict()))
    else:
        sys.stdout.write(format_sweep(result))
        if args.out:
            sys.stdout.write(f"wrote {Path(args.out)}/ ({', '.join(SWEEP_FILES)})\n")
    return _finish(result, f" (written to {args.out}/)" if args.out else "")


def format_sweep(result: SweepResult) -> str:
    fixed = ", ".join(f"{k} {v}" for k, v in result.fixed.items()
                      if k != "recompile" and v is not None)
    head = (f"{result.model} on {result.chip}{', ' + fixed if fixed else ''}: "
            f"{len(result.rows)} of {result.points} points, {_programs(result)}, "
            f"{result.executor}, {result.wall_s:.1f} s\n")
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
    report = _warning_lines(lambda: run_sensitivity(args.model, params, args.delta,
                                                    **_common(args)))
    if args.out:
        report.save(Path(args.out))
    if args.json:
        sys.stdout.write(dumps_json(report.to_dict()))
    else:
        sys.stdout.write(format_sensitivity(report))
        if args.out:
            sys.stdout.write(f"wrote {Path(args.out)}/ ({', '.join(SENSITIVITY_FILES)})\n")
    return _finish(report.sweep, f" (written to {args.out}/)" if args.out else "")


def format_sensitivity(report: SensitivityResult) -> str:
    s = report.sweep
    head = (f"{report.model} on {report.chip}, {report.setting}: total {report.base_ms:.4f} ms; "
            f"each parameter moved by -{report.delta:.0%} and +{report.delta:.0%}, largest "
            f"effect first ({len(s.rows)} points, {_programs(s)}, {s.executor}, "
            f"{s.wall_s:.1f} s)\n")
    return head + report.table() + "".join(f"note: {n}\n" for n in s.notes)
