"""How far tpusim is from its references: the vendor's per-command model (single operators)
and the chip's measured Swin-T times (the article)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tpusim.api import compile, simulate
from tpusim.calibration.micro import Case, case_graph, read_cases
from tpusim.hw.chip import Chip


@dataclass
class CaseResult:
    case: Case
    total_ns: float
    tiu_ns: float
    gdma_ns: float
    n_tiu: int
    n_gdma: int

    @property
    def error(self) -> float:
        """Relative error of the total against the vendor's (1 cycle = 1 ns at 1000 MHz)."""
        return self.total_ns / self.case.total_cycles - 1

    @property
    def op_class(self) -> str:
        return self.case.op.split("(")[0]


def run_case(case: Case, chip: Chip) -> CaseResult:
    io = "native" if case.io == "stripped" else "f32"
    program = compile(case_graph(case), chip, case.precision, "after", io)
    result = simulate(program, chip)
    return CaseResult(case, result.total_ns, result.busy_ns("TIU"), result.busy_ns("GDMA"),
                      len(program.tiu), len(program.gdma))


def run_cases(folder: Path, chip: Chip) -> list[CaseResult]:
    return [run_case(c, chip) for c in read_cases(folder)]


def error_stats(errors: Iterable[float]) -> dict[str, float]:
    """Median, 90th percentile and worst of absolute relative errors."""
    values = sorted(abs(e) for e in errors)
    if not values:
        return {"n": 0}
    p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
    return {"n": len(values), "median": statistics.median(values), "p90": p90,
            "worst": values[-1]}


def summarise(results: list[CaseResult]) -> dict[str, Any]:
    by_class: dict[str, list[float]] = defaultdict(list)
    by_mode: dict[str, list[float]] = defaultdict(list)
    for r in results:
        by_class[r.op_class].append(r.error)
        by_mode[r.case.mode].append(r.error)
    return {"all": error_stats(r.error for r in results),
            "by_class": {k: error_stats(v) for k, v in sorted(by_class.items())},
            "by_mode": {k: error_stats(v) for k, v in sorted(by_mode.items())}}
