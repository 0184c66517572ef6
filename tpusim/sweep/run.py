"""`sweep` and `run_points`: plan a study's programs, run them, gather the rows."""

from __future__ import annotations

import itertools
import math
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tpusim.cost.timing import DEFAULT_TIMING, parse_timing
from tpusim.frontend.load import model_label
from tpusim.hw.chip import Chip, load_chip, timing_fields
from tpusim.ir.graph import Graph
from tpusim.limits import MAX_COMMANDS, MAX_SWEEP_POINTS, check_bound
from tpusim.progress import reporting
from tpusim.sweep.execute import ExecutorSpec, ProgressLine, ProgressSpec, run_tasks
from tpusim.sweep.params import (
    COMPILER_SETTINGS,
    STRUCTURAL_FIELDS,
    Point,
    Setting,
    SweepError,
    check_name,
    check_values,
    coerce,
    make_points,
)
from tpusim.sweep.result import SweepResult
from tpusim.sweep.work import Task, load_graph


def sweep(model: str | Graph, grid: Mapping[str, Sequence[Any]], *,
          chip: Chip | str = "bm1684x", precision: str = "f16", opt: str = "after",
          batch: int | None = None, recompile: bool = False, executor: ExecutorSpec = None,
          workers: int | None = None, progress: ProgressSpec = None,
          unknown_ops: str = "error", max_commands: int = MAX_COMMANDS,
          timing: str = DEFAULT_TIMING) -> SweepResult:
    """Simulate `model` at every point of the cross product of `grid`'s values (the first
    parameter outermost), e.g. `{"ddr_gbps": [32, 64, 128], "tiu_mhz": [500, 1000]}`.

    Parameters are chip fields (any, by name) and the compiler settings `precision`, `opt` and
    `batch`; `precision`, `opt` and `batch` given here hold where they are not swept. A program
    is compiled once per distinct compiler-relevant setting (see tpusim.sweep.params) unless
    `recompile`. `executor`: "process" (default: every local core), "serial",
    "dask://HOST:PORT" or any concurrent.futures-style executor. `progress`: True for a line on
    stderr, or a callable taking `Progress`; None shows the line when stderr is a terminal.
    Ctrl-C stops the sweep and returns the finished points with `interrupted` set.
    `max_commands` bounds each compiled program (tpusim.limits); `timing` is the timing model
    every point is simulated with ("chip" or "vendor")."""
    base = chip if isinstance(chip, Chip) else load_chip(chip)
    if base.cores > 1:
        raise SweepError(f"chip {base.name!r} has {base.cores} cores: a sweep runs one core "
                         "(tpusim run shares a batch between cores)")
    params = [check_name(name) for name in grid]
    axes = {name: check_values(name, list(grid[name]), base) for name in params}
    points = math.prod(len(values) for values in axes.values())
    if points > MAX_SWEEP_POINTS:  # before the cross product is listed
        raise SweepError(f"the sweep has {points:,} points, more than the bound of "
                         f"{MAX_SWEEP_POINTS:,}")
    settings = [dict(zip(params, combo)) for combo in itertools.product(*axes.values())]
    return _run(model, base, params, axes, settings, Setting(precision, opt, batch), recompile,
                executor, workers, progress, unknown_ops, max_commands, timing)


def run_points(model: str | Graph, settings: Sequence[Mapping[str, Any]], *,
               chip: Chip | str = "bm1684x", precision: str = "f16", opt: str = "after",
               batch: int | None = None, recompile: bool = False,
               executor: ExecutorSpec = None, workers: int | None = None,
               progress: ProgressSpec = None, unknown_ops: str = "error",
               max_commands: int = MAX_COMMANDS, timing: str = DEFAULT_TIMING) -> SweepResult:
    """Like `sweep`, for any list of points: each a mapping of parameter -> value, where a
    parameter a point leaves out keeps the base chip's value or the fixed setting."""
    base = chip if isinstance(chip, Chip) else load_chip(chip)
    params: list[str] = []
    typed = []
    for setting in settings:
        for name in setting:
            if check_name(name) not in params:
                params.append(name)
        typed.append({name: coerce(name, value, base) for name, value in setting.items()})
    if not typed:
        raise SweepError("a sweep needs at least one point")
    return _run(model, base, params, None, typed, Setting(precision, opt, batch), recompile,
                executor, workers, progress, unknown_ops, max_commands, timing)


def plan(model: str | Graph, points: list[Point], base: Chip, recompile: bool,
         unknown_ops: str, max_commands: int = MAX_COMMANDS, timing: str = DEFAULT_TIMING
         ) -> tuple[list[Task], dict[int, int]]:
    """One task per distinct compiler-relevant setting, in order of first use, and the task
    (program) each point runs on."""
    tasks: dict[tuple, Task] = {}
    program_of = {}
    for point in points:
        key = point.compile_key(recompile)
        if key not in tasks:
            compile_chip = base.replace(**dict(point.compile_changes(recompile)))
            tasks[key] = Task(len(tasks), model, point.batch, unknown_ops, point.precision,
                              point.options, compile_chip.to_dict(), max_commands=max_commands,
                              timing=timing)
        task = tasks[key]
        task.variants.append((point.index, base.replace(**dict(point.chip_changes)).to_dict()))
        program_of[point.index] = task.program
    return list(tasks.values()), program_of


def _run(model: str | Graph, base: Chip, params: list[str], axes: dict[str, list] | None,
         settings: list[dict[str, Any]], fixed: Setting, recompile: bool,
         executor: ExecutorSpec, workers: int | None, progress: ProgressSpec,
         unknown_ops: str, max_commands: int = MAX_COMMANDS,
         timing: str = DEFAULT_TIMING) -> SweepResult:
    start = time.perf_counter()
    check_bound("max_commands", max_commands)
    timing = parse_timing(timing)
    points = make_points(settings, params, base, fixed)
    if isinstance(model, Graph) and any(p.batch is not None for p in points):
        raise SweepError("batch can be set only for a model given by name or file")
    for batch in sorted({p.batch or 0 for p in points}):  # load errors surface before any work
        if not isinstance(model, Graph):
            load_graph(model, batch or None, unknown_ops)
    tasks, program_of = plan(model, points, base, recompile, unknown_ops, max_commands,
                              timing)
    label = model_label(model)
    line = ProgressLine(f"sweep {label}") if _show(progress) else None
    report = line if line is not None else (progress if callable(progress) else None)
    try:
        with reporting(None):  # the sweep's own line, not its compiles', says how far it is
            outcome = run_tasks(tasks, executor, workers, report)
    finally:
        if line is not None:
            line.close()
    rows = [{"point": p.index, **dict(p.values), "program": program_of[p.index],
             **{k: v for k, v in outcome.rows[p.index].items() if k != "point"}}
            for p in points if p.index in outcome.rows]
    if axes is None:
        axes = {name: list(dict.fromkeys(dict(p.values)[name] for p in points))
                for name in params}
    kept = {"precision": fixed.precision, "opt": fixed.opt, "batch": fixed.batch}
    return SweepResult(
        label, base.name, params, axes,
        {**{k: v for k, v in kept.items() if k not in params}, "recompile": recompile,
         "timing": timing},
        rows, len(points), len(tasks), outcome.compiles, outcome.interrupted,
        time.perf_counter() - start, outcome.executor, _notes(params, recompile),
        outcome.reused)


def _show(progress: ProgressSpec) -> bool:
    if progress is None:
        return sys.stderr.isatty()
    return progress is True


def _notes(params: list[str], recompile: bool) -> list[str]:
    # (the chip timing model's fields never reach the compiler: it prices with the vendor's)
    timing = [p for p in params if p not in STRUCTURAL_FIELDS and p not in COMPILER_SETTINGS
              and p not in timing_fields()]
    if timing and not recompile:
        return [f"programs compiled for the base chip's {', '.join(timing)} and simulated on "
                "each variant (recompile to let the compiler re-plan for each point)"]
    return []
