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
from tpusim.calibration.micro import Case, case_graph, read_cases, read_table, table_rows
from tpusim.errors import ModelError, TpusimError
from tpusim.hw.chip import Chip
from tpusim.progress import report


@dataclass
class CaseResult:
    case: Case
    total_ns: float
    tiu_ns: float
    gdma_ns: float
    n_tiu: int
    n_gdma: int
    # (engine, kind) -> ns of each command (= cycles at 1000 MHz)
    kinds: dict[tuple[str, str], list[float]]

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
    result = simulate(program, chip, "vendor")  # against the vendor's own model
    kinds: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in sorted(result.records, key=lambda r: (r.engine, r.cmd_id)):
        kinds[r.engine, _kind(r.kind)].append(r.duration_ns)
    return CaseResult(case, result.total_ns, result.busy_ns("TIU"), result.busy_ns("GDMA"),
                      len(program.tiu), len(program.gdma), dict(kinds))


def _kind(kind: str) -> str:
    """Command classes as the vendor's profiles name them (RQDQ and AR count apart)."""
    return "GDMA" if kind.startswith("GDMA") else kind


def run_cases(folder: Path, chip: Chip) -> list[CaseResult]:
    results = []
    cases = read_cases(Path(folder) / "micro")
    for i, case in enumerate(cases):
        report(f"single-operator cases: {i + 1} of {len(cases)}")
        try:
            results.append(run_case(case, chip))
        except TpusimError as exc:
            raise ModelError(f"{Path(folder) / 'micro' / 'cases.csv'}: case {case.name!r} "
                             f"({case.mode}): {exc}") from None
    return results


def vendor_commands(folder: Path) -> dict[tuple, dict[tuple[str, str], list[float]]]:
    """The vendor's command cycles by case and (engine, class), in issue order."""
    found: dict[tuple, dict[tuple[str, str], list[float]]] = defaultdict(
        lambda: defaultdict(list))
    path = Path(folder) / "micro" / "commands.csv"
    with table_rows(path):
        for r in read_table(path):
            found[r["case"], r["mode"], r["io"]][r["engine"], _kind(r["cmd_type"])].append(
                float(r["cycles"]))
    return found


def command_errors(results: list[CaseResult], vendor: dict) -> dict[str, dict[str, float]]:
    """Per-command errors by class and precision, where tpusim issues as many commands of the
    class as the vendor in a case (commands paired in issue order), and the share of cases
    where the counts agree."""
    errors: dict[str, list[float]] = defaultdict(list)
    matched: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        theirs = vendor.get(r.case.key, {})
        for key in set(theirs) | set(r.kinds):
            label = f"{key[1]} {r.case.mode}"
            ours, ref = r.kinds.get(key, []), theirs.get(key, [])
            matched[label].append(len(ours) == len(ref))
            if ours and len(ours) == len(ref):
                errors[label] += [o / v - 1 for o, v in zip(ours, ref) if v > 0]
    table = {}
    for label in sorted(matched):
        stats = error_stats(errors[label])
        stats["count_match"] = sum(matched[label]) / len(matched[label])
        table[label] = stats
    return table


def error_stats(errors: Iterable[float]) -> dict[str, float]:
    """Median, 90th percentile and worst of absolute relative errors."""
    values = sorted(abs(e) for e in errors)
    if not values:
        return {"n": 0}
    p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
    return {"n": len(values), "median": statistics.median(values), "p90": p90,
            "worst": values[-1]}


def article_rows(chip: Chip, timing: str = "chip") -> list[dict[str, Any]]:
    """The article's table: each cell and the speed-ups, simulated beside measured."""
    from tpusim.frontend.models import build_model
    from tpusim.study import before_after

    return [row.to_dict() for row in before_after(build_model("swin-t"), chip,
                                                  ["f32", "f16", "int8"], "swin-t", 1,
                                                  timing=timing)]


def summarise(results: list[CaseResult]) -> dict[str, Any]:
    by_class: dict[str, list[float]] = defaultdict(list)
    by_mode: dict[str, list[float]] = defaultdict(list)
    for r in results:
        by_class[r.op_class].append(r.error)
        by_mode[r.case.mode].append(r.error)
    return {"all": error_stats(r.error for r in results),
            "by_class": {k: error_stats(v) for k, v in sorted(by_class.items())},
            "by_mode": {k: error_stats(v) for k, v in sorted(by_mode.items())}}
