"""The Python API: load a chip, compile a graph, simulate a program."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tpusim.cost.timing import DEFAULT_TIMING, parse_timing
from tpusim.errors import ModelError
from tpusim.hw.chip import Chip, load_chip
from tpusim.ir.graph import Graph
from tpusim.ir.stats import macs
from tpusim.ir.verify import verify
from tpusim.limits import MAX_COMMANDS, check_bound
from tpusim.lower.commands import Program
from tpusim.lower.program import lower
from tpusim.options import Options, parse_options
from tpusim.passes.pipeline import run_passes
from tpusim.passes.precision import assign_precision, parse_precision
from tpusim.sim.engine import Record, Simulation


def compile(graph: Graph, chip: Chip | str = "bm1684x", precision: str = "f16",
            opt: str | Options | None = None, io: str = "f32",
            max_commands: int = MAX_COMMANDS) -> Program:
    """Compile a graph for a chip at a precision into TIU and GDMA command queues.

    `opt` is "after" (default: every optimisation), "before" (none), a comma list of
    optimisation names, or an `Options`. `io` is the dtype of the model's inputs and outputs:
    "f32" (tpu-mlir's deploy default) or "native" (the precision's own dtype). Lowering stops
    with a CompileError once the program would hold more than `max_commands` commands."""
    check_bound("max_commands", max_commands)
    chip = chip if isinstance(chip, Chip) else load_chip(chip)
    precision = parse_precision(precision)
    options = parse_options(opt)
    verify(graph)
    rewritten = run_passes(graph, options, precision)
    typed = verify(assign_precision(rewritten, precision, io))
    program = lower(typed, chip, precision, options, max_commands)
    program.options = options
    return program


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


@dataclass
class Result:
    """What a simulation produced: the records and the totals people ask for first."""

    program: Program
    chip: Chip
    records: list[Record]
    sim_wall_s: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def total_ns(self) -> float:
        return max((r.end_ns for r in self.records), default=0.0)

    @property
    def total_ms(self) -> float:
        return self.total_ns / 1e6

    def busy_ns(self, engine: str) -> float:
        return sum(r.end_ns - r.start_ns for r in self.records if r.engine == engine)

    def summary(self) -> dict[str, Any]:
        """The headline numbers (the fields `tpusim run --json` prints)."""
        p = self.program
        graph = getattr(p, "graph", None)
        return {
            "model": p.name,
            "chip": self.chip.name,
            "precision": p.precision,
            **self.info,
            "total_ms": round(self.total_ms, 6),
            "tiu_busy_ms": round(self.busy_ns("TIU") / 1e6, 6),
            "gdma_busy_ms": round(self.busy_ns("GDMA") / 1e6, 6),
            "ddr_bytes": sum(r.bytes for r in self.records if r.direction != "L2L"),
            "tiu_commands": len(p.tiu),
            "gdma_commands": len(p.gdma),
            "groups": len(p.groups),
            "global_layers": sum(1 for layer in p.layers if layer.group < 0),
            "gmacs": round(macs(graph) / 1e9, 6) if graph is not None else None,
            "sim_wall_s": round(self.sim_wall_s, 3),
        }

    def save(self, directory: str | Path) -> list[Path]:
        """Write the timeline and summaries into `directory` (whole files or none)."""
        from tpusim.profile.report import save_result

        return save_result(self, Path(directory))


def simulate(program: Program, chip: Chip | str = "bm1684x",
             timing: str = DEFAULT_TIMING) -> Result:
    """Run a program through the engine model, timed as the chip runs it (`timing="chip"`,
    the default) or as tpu-mlir's own per-command model says (`"vendor"`)."""
    chip = chip if isinstance(chip, Chip) else load_chip(chip)
    timing = parse_timing(timing)
    start = time.perf_counter()
    records = Simulation(program, chip, timing).run()
    return Result(program, chip, records, time.perf_counter() - start, {"timing": timing})
