"""The Python API: load a chip, compile a graph, simulate a program."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tpusim.cache import cached_compile
from tpusim.cost.timing import DEFAULT_TIMING, parse_timing
from tpusim.errors import ModelError, TpusimError
from tpusim.hw.chip import Chip, load_chip
from tpusim.ir.graph import Graph
from tpusim.limits import MAX_COMMANDS, check_bound
from tpusim.lower.commands import Program
from tpusim.options import Options, parse_options
from tpusim.passes.precision import parse_precision
from tpusim.progress import report
from tpusim.sim.engine import Simulation
from tpusim.sim.result import Result

__all__ = ["Result", "compile", "core_batches", "load_program", "run_on_cores", "simulate"]


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
             timing: str = DEFAULT_TIMING, stream: int = 0,
             cores: Sequence[Program] = ()) -> Result:
    """Run a program through the engine model, timed as the chip runs it (`timing="chip"`,
    the default) or as tpu-mlir's own per-command model says (`"vendor"`).

    `stream` > 0 runs that many inferences back to back, the host uploading each one's inputs
    and downloading its outputs while the TPU computes (the summary gains latency and
    throughput). `cores`: the programs the chip's other cores run at the same time, sharing
    DDR (`run_on_cores` makes them from a graph)."""
    chip = chip if isinstance(chip, Chip) else load_chip(chip)
    timing = parse_timing(timing)
    if isinstance(stream, bool) or not isinstance(stream, int) or stream < 0:
        raise TpusimError(f"stream must be a number of inferences (>= 0), got {stream!r}")
    if stream * program.commands > MAX_COMMANDS:  # records for every inference
        raise TpusimError(f"a stream of {stream:,} inferences of {program.commands:,} "
                          f"commands is more than {MAX_COMMANDS:,} commands to simulate")
    report(f"simulating {program.name} ({program.commands:,} commands"
           f"{f' x {stream} inferences' if stream > 1 else ''})")
    start = time.perf_counter()
    graph = program.graph if stream else None  # what a stream copies in and out
    upload = sum(graph.tensors[t].nbytes for t in graph.inputs) if graph else 0
    download = sum(graph.tensors[t].nbytes for t in graph.outputs) if graph else 0
    timeline = Simulation(program, chip, timing, stream=stream, cores=cores,
                          upload_bytes=upload, download_bytes=download).execute()
    info: dict[str, Any] = {"timing": timing}
    if cores:
        info["cores"] = 1 + len(cores)
    return Result(program, chip, timeline, time.perf_counter() - start, info)


def core_batches(batch: int, cores: int) -> list[int]:
    """A batch shared between cores as evenly as it goes (a core without an image idles)."""
    share, extra = divmod(batch, cores)
    return [share + (i < extra) for i in range(cores) if share + (i < extra)]


def run_on_cores(graph: Graph, chip: Chip, precision: str, opt: str | Options | None,
                 max_commands: int = MAX_COMMANDS, timing: str = DEFAULT_TIMING,
                 stream: int = 0) -> Result:
    """Compile and simulate `graph` on every core of `chip` (`cores` in its profile), each on
    its share of the batch; one core simply runs the graph. The result's program, counts and
    records are the first core's; its total is the last core's end."""
    from tpusim.passes.rebatch import rebatch

    batches = core_batches(graph.batch, chip.cores)
    if stream and len(batches) > 1:
        raise ModelError("a stream of inferences runs on one core: use a one-core chip "
                         "profile with --stream")
    programs = {b: compile(graph if b == graph.batch else rebatch(graph, b), chip, precision,
                           opt, max_commands=max_commands) for b in dict.fromkeys(batches)}
    result = simulate(programs[batches[0]], chip, timing, stream,
                      [programs[b] for b in batches[1:]])
    if len(batches) > 1:
        result.info["core_batches"] = batches
    return result
