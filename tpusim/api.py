"""The Python API: load a chip, compile a graph, simulate a program."""

from __future__ import annotations

import time
from pathlib import Path

from tpusim.cache import cached_compile
from tpusim.cost.timing import DEFAULT_TIMING, parse_timing
from tpusim.errors import ModelError
from tpusim.hw.chip import Chip, load_chip
from tpusim.ir.graph import Graph
from tpusim.limits import MAX_COMMANDS, check_bound
from tpusim.lower.commands import Program
from tpusim.options import Options, parse_options
from tpusim.passes.precision import parse_precision
from tpusim.progress import report
from tpusim.sim.engine import Simulation
from tpusim.sim.result import Result

__all__ = ["Result", "compile", "load_program", "simulate"]


def compile(graph: Graph, chip: Chip | str = "bm1684x", precision: str = "f16",
            opt: str | Options | None = None, io: str = "f32",
            max_commands: int = MAX_COMMANDS, cache: bool | None = None) -> Program:
    """Compile a graph for a chip at a precision into TIU and GDMA command queues.

    `opt` is "after" (default: every optimisation), "before" (none), a comma list of
    optimisation names, or an `Options`. `io` is the dtype of the model's inputs and outputs:
    "f32" (tpu-mlir's deploy default) or "native" (the precision's own dtype). Lowering stops
    with a CompileError once the program would hold more than `max_commands` commands.
    Programs are kept in the compile cache (tpusim.cache) unless `cache` is False or, when it
    is None, the environment turns the cache off (TPUSIM_NO_CACHE)."""
    check_bound("max_commands", max_commands)
    chip = chip if isinstance(chip, Chip) else load_chip(chip)
    precision = parse_precision(precision)
    options = parse_options(opt)
    return cached_compile(graph, chip, precision, options, io, max_commands, cache)


def load_program(path: str | Path, chip: Chip | str = "bm1684x",
                 max_commands: int = MAX_COMMANDS) -> Program:
    """A program tpu-mlir already compiled (`*_final.mlir`, or gzipped), ready to simulate as
    compiled: its global layers, groups, slices and dtypes are the file's; no pass and no
    grouping runs. The file must be compiled for the chip profile's chip."""
    from tpusim.frontend.mlir_text import read_final_mlir
    from tpusim.frontend.tpu_mlir import import_final_mlir
    from tpusim.lower.imported import lower_imported

    chip = chip if isinstance(chip, Chip) else load_chip(chip)
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    module = read_final_mlir(path)
    if (module.chip or "").lower() != chip.name.lower():
        raise ModelError(f"{path}: compiled for chip {module.chip or '(not named)'}, but the "
                         f"chip profile is {chip.name}")
    check_bound("max_commands", max_commands)
    return lower_imported(import_final_mlir(module, str(path), max_commands), chip, max_commands)


def simulate(program: Program, chip: Chip | str = "bm1684x",
             timing: str = DEFAULT_TIMING) -> Result:
    """Run a program through the engine model, timed as the chip runs it (`timing="chip"`,
    the default) or as tpu-mlir's own per-command model says (`"vendor"`)."""
    chip = chip if isinstance(chip, Chip) else load_chip(chip)
    timing = parse_timing(timing)
    report(f"simulating {program.name} ({program.commands:,} commands)")
    start = time.perf_counter()
    timeline = Simulation(program, chip, timing).execute()
    return Result(program, chip, timeline, time.perf_counter() - start, {"timing": timing})
