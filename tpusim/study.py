"""Before/after studies: a model at several precisions with the article's optimisations off and
on, beside measured references where they exist, and an ablation of each optimisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tpusim.api import Result, run_on_cores
from tpusim.cost.timing import DEFAULT_TIMING
from tpusim.hw.chip import Chip
from tpusim.inputs import read_toml
from tpusim.ir.graph import Graph
from tpusim.limits import MAX_COMMANDS
from tpusim.options import OPTIONS, STUDY_STEPS, Options, parse_options

_REFERENCES = Path(__file__).parent / "references"


def reference_ms(model: str, chip: str, batch: int) -> dict[str, dict[str, float]]:
    """Measured times by precision and 'before'/'after', for this model, chip and batch."""
    path = _REFERENCES / f"{model.lower()}.toml"
    if not path.is_file():
        return {}
    data = read_toml(path, "reference times")
    if data.get("chip") != chip or data.get("batch") != batch:
        return {}
    return data.get("ms", {})


@dataclass
class StudyRow:
    precision: str
    before: Result
    after: Result
    reference: dict[str, float] = field(default_factory=dict)

    @property
    def speedup(self) -> float | None:
        """before / after; None when the after program runs no command (0 ms)."""
        return self.before.total_ms / self.after.total_ms if self.after.total_ms else None

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"precision": self.precision,
                               "before_ms": round(self.before.total_ms, 6),
                               "after_ms": round(self.after.total_ms, 6),
                               "speedup": None if self.speedup is None
                               else round(self.speedup, 4)}
        ref = self.reference
        if ref:
            row["measured"] = dict(ref)
            errors = {}
            for key, sim in (("before", self.before.total_ms), ("after", self.after.total_ms)):
                if key in ref:
                    errors[key] = round(sim / ref[key] - 1, 4)
            if "before" in ref and "after" in ref and self.speedup is not None:
                measured = ref["before"] / ref["after"]
                row["measured"]["speedup"] = round(measured, 4)
                errors["speedup"] = round(self.speedup / measured - 1, 4)
            row["error"] = errors
        return row


def run_one(graph: Graph, chip: Chip, precision: str, opts: Options,
            max_commands: int = MAX_COMMANDS, timing: str = DEFAULT_TIMING,
            stream: int = 0) -> Result:
    result = run_on_cores(graph, chip, precision, opts, max_commands, timing, stream)
    result.info["opt"] = opts.label()
    return result


def before_after(graph: Graph, chip: Chip, precisions: list[str], model: str,
                 batch: int, max_commands: int = MAX_COMMANDS,
                 timing: str = DEFAULT_TIMING) -> list[StudyRow]:
    refs = reference_ms(model, chip.name, batch)
    before, after = parse_options("before"), parse_options("after")
    return [StudyRow(p, run_one(graph, chip, p, before, max_commands, timing),
                     run_one(graph, chip, p, after, max_commands, timing), refs.get(p, {}))
            for p in precisions]


def ablation(graph: Graph, chip: Chip, precisions: list[str],
             max_commands: int = MAX_COMMANDS,
             timing: str = DEFAULT_TIMING) -> list[dict[str, Any]]:
    """Time with everything on but one optimisation (or one of the article's steps) off."""
    after = parse_options("after")
    rows = []
    steps = [(name, members, True) for name, members in STUDY_STEPS.items()
             if members != (name,)]  # a step that is one option is listed once, as the option
    for name, members, is_step in [*steps, *((n, (n,), False) for n in OPTIONS)]:
        opts = after.switched(members, False)
        times = {p: round(run_one(graph, chip, p, opts, max_commands, timing).total_ms, 6)
                 for p in precisions}
        rows.append({"off": name, "options": list(members), "ms": times, "step": is_step})
    return rows
