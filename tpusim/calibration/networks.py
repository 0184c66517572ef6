"""Whole networks: tpusim's own compile of each ONNX file against tpu-mlir's estimate of its
compile of the same file (tpu-mlir/models/summary.csv), at every precision tpu-mlir compiled.

Both sides are the vendor's cost model: tpu-mlir's total is its profile of its own program;
tpusim's is its simulation of what its own compiler made, with the per-command costs that
reproduce that model. The difference is how tpusim's compiler drifts from tpu-mlir's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tpusim.calibration.micro import read_table, table_rows
from tpusim.calibration.validate import error_stats
from tpusim.errors import ModelError
from tpusim.hw.chip import Chip
from tpusim.lower.commands import Program
from tpusim.progress import report


@dataclass(frozen=True)
class NetworkRow:
    network: str
    precision: str
    tpusim_ms: float
    vendor_ms: float
    groups: tuple[int, int]  # tpusim, tpu-mlir
    tiu_commands: tuple[int, int]
    gdma_commands: tuple[int, int]

    @property
    def error(self) -> float:
        return self.tpusim_ms / self.vendor_ms - 1

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network, "precision": self.precision,
                "tpusim_ms": round(self.tpusim_ms, 6), "tpu_mlir_ms": self.vendor_ms,
                "error": round(self.error, 6), "groups": list(self.groups),
                "tiu_commands": list(self.tiu_commands),
                "gdma_commands": list(self.gdma_commands)}


def summary_rows(models: Path) -> list[dict[str, str]]:
    """tpu-mlir's compiles that succeeded, as models/summary.csv lists them."""
    path = Path(models) / "summary.csv"
    if not path.is_file():
        raise ModelError(f"{models}: no summary.csv (tpu-mlir's compiles of whole networks)")
    with table_rows(path):
        return [r for r in read_table(path) if r.get("status") == "ok"]


def network_rows(models: Path, onnx_dir: Path, chip: Chip,
                 each: Callable[[str, str, Program], None] | None = None) -> list[NetworkRow]:
    """Compile and simulate every (network, precision) tpu-mlir compiled; each ONNX file is
    read once. Operators tpusim does not know are an error, not a fallback. `each` sees every
    (network, precision, program) as it is compiled."""
    from tpusim.api import compile, simulate
    from tpusim.frontend.load import load_model

    rows: list[NetworkRow] = []
    graphs: dict[str, Any] = {}
    for r in summary_rows(models):
        name, mode = r["model"], r["mode"]
        path = Path(onnx_dir) / f"{name}.onnx"
        if not path.is_file():
            raise ModelError(f"{onnx_dir}: no {name}.onnx for tpu-mlir's compile of {name}")
        report(f"whole networks: {name} {mode}")
        if name not in graphs:
            graphs[name] = load_model(str(path))
        program = compile(graphs[name], chip, mode.lower())
        if each is not None:
            each(name, mode.lower(), program)
        result = simulate(program, chip, "vendor")  # beside the vendor's estimate
        rows.append(NetworkRow(name, mode.lower(), result.total_ms, float(r["runtime_ms"]),
                               (len(program.groups), int(r["layer_groups"])),
                               (len(program.tiu), int(r["tiu_cmds"])),
                               (len(program.gdma), int(r["gdma_cmds"]))))
    return rows


def network_summary(rows: list[NetworkRow]) -> dict[str, float]:
    """Median, 90th percentile and worst absolute error over the rows."""
    return error_stats(row.error for row in rows)


__all__ = ["NetworkRow", "network_rows", "network_summary", "summary_rows"]
