"""The unit of work of a sweep: compile one program, simulate it on several chips.

A `Task` is what travels to a worker process or a Dask worker, so it holds only small picklable
things (the model's name or path, chip fields as dicts, the options); what comes back is one
row of numbers per point, never a program or a result.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from tpusim.api import Result, compile, simulate
from tpusim.cost.timing import DEFAULT_TIMING
from tpusim.frontend.load import load_model
from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph
from tpusim.limits import MAX_COMMANDS
from tpusim.lower.commands import Program
from tpusim.options import Options

# What each point reports, in column order; "bound" is the busier engine (TIU or GDMA).
METRICS: tuple[str, ...] = ("total_ms", "tiu_busy_ms", "gdma_busy_ms", "ddr_bytes",
                            "tiu_commands", "gdma_commands", "groups", "global_layers", "bound")


@dataclass
class Task:
    """Compile `model` once for `compile_chip`, then simulate it on each variant chip."""

    program: int  # index of this program in the study
    model: str | Graph  # a built-in name or file path (loaded where the task runs), or a graph
    batch: int | None
    unknown_ops: str
    precision: str
    options: Options
    compile_chip: dict[str, Any]  # Chip fields
    variants: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (point, fields)
    max_commands: int = MAX_COMMANDS  # the compiler's bound (tpusim.limits)
    timing: str = DEFAULT_TIMING  # the timing model the variants are simulated with


@dataclass
class TaskOutput:
    program: int
    rows: list[dict[str, Any]]  # one per variant: "point" and METRICS
    compiled: bool = True  # False: the program came from this process's cache


class _Recent:
    """The most recent few values by key (thread-safe: a Dask worker may run tasks in threads)."""

    def __init__(self, keep: int) -> None:
        self.keep, self.items, self.lock = keep, OrderedDict(), threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.keep:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


# Graphs and programs made in this process. Tasks that land on the same worker share a load,
# and a later study at the same compiler-relevant setting (a sweep, then a sensitivity report
# of the same model) reuses the program instead of compiling it again.
_graphs = _Recent(keep=4)
_programs = _Recent(keep=4)


def clear_caches() -> None:
    """Forget the graphs and programs this process keeps."""
    _graphs.clear()
    _programs.clear()


def _file_stamp(model: str) -> tuple[int, int] | None:
    """A model file's modification time and size: an edited file is loaded again."""
    try:
        stat = os.stat(model)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def load_graph(model: str | Graph, batch: int | None, unknown_ops: str) -> Graph:
    """The model's graph, loaded at most once per process (while its file is unchanged)."""
    if isinstance(model, Graph):
        return model
    key = (model, _file_stamp(model), batch, unknown_ops)
    graph = _graphs.get(key)
    if graph is None:
        graph = load_model(model, batch, unknown_ops)
        _graphs.put(key, graph)
    return graph


def _program(task: Task) -> tuple[Program, bool]:
    """The task's program, and whether it was compiled now (rather than kept from before)."""
    with warnings.catch_warnings():  # the caller loaded the model first and showed them
        warnings.simplefilter("ignore")
        graph = load_graph(task.model, task.batch, task.unknown_ops)
    # Keyed by the graph object itself (held in the entry, so its id cannot be reused).
    key = (id(graph), task.precision, task.options, tuple(sorted(task.compile_chip.items())),
           task.max_commands)
    kept = _programs.get(key)
    if kept is not None and kept[0] is graph:
        return kept[1], False
    program = compile(graph, Chip(**task.compile_chip), task.precision, task.options,
                      max_commands=task.max_commands)
    _programs.put(key, (graph, program))
    return program, True


def metrics(result: Result) -> dict[str, Any]:
    summary = result.summary()
    summary["bound"] = "TIU" if summary["tiu_busy_ms"] >= summary["gdma_busy_ms"] else "GDMA"
    return {name: summary[name] for name in METRICS}


def run_task(task: Task, on_row: Callable[[dict[str, Any]], None] | None = None) -> TaskOutput:
    """Compile once, simulate every variant; `on_row` sees each row as soon as it exists."""
    program, fresh = _program(task)
    rows = []
    for point, fields in task.variants:
        row = {"point": point, **metrics(simulate(program, Chip(**fields), task.timing))}
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return TaskOutput(task.program, rows, fresh)
