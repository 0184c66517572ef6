"""Published chip times (silicon/chip_times.csv) and tpu-mlir's estimate beside each.

Every row is one network at one precision and batch, timed on a BM1684X by the vendor's
benchmark tools (tpu_perf or bmrt_test), which time a whole launch: the TPU's work plus the
host's and firmware's. A row is `per` image (sophon-demo's tables divide by the batch) or per
batch (one run). `measured_ms` is the time of one launch, whichever the row published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tpusim.calibration.micro import read_table, table_rows
from tpusim.errors import ModelError, TpusimError
from tpusim.options import parse_options
from tpusim.passes.precision import parse_precision

_COLUMNS = ("onnx", "precision", "batch", "opt", "time_ms", "per", "what", "toolchain",
            "source")


@dataclass(frozen=True)
class ChipTime:
    onnx: Path
    precision: str
    batch: int
    opt: str
    time_ms: float  # as published
    per: str  # "image" or "batch"
    what: str
    toolchain: str
    source: str

    @property
    def measured_ms(self) -> float:
        """One launch of the whole batch."""
        return self.time_ms * self.batch if self.per == "image" else self.time_ms

    @property
    def model(self) -> str:
        """The file's name: tpu-mlir/models/ names its compiles so."""
        return self.onnx.stem

    @property
    def network(self) -> str:
        """The network, whatever the batch it was exported at (`yolov8s_b4` is `yolov8s`):
        cross-validation leaves out every row of a network together."""
        return re.sub(r"_b\d+$", "", self.model) if self.batch > 1 else self.model

    @property
    def tool(self) -> str:
        return "bmrt_test" if "bmrt_test" in self.what else "tpu_perf"

    @property
    def label(self) -> str:
        opt = "" if self.opt == "after" else f" {self.opt}"
        return f"{self.model} {self.precision}{opt} ({self.tool})"


def read_chip_times(folder: str | Path) -> list[ChipTime]:
    """The rows of FOLDER/chip_times.csv, each file resolved from FOLDER and checked."""
    folder = Path(folder)
    path = folder / "chip_times.csv"
    if not path.is_file():
        raise ModelError(f"{folder}: no chip_times.csv (published chip times)")
    rows = []
    with table_rows(path):
        for i, r in enumerate(read_table(path), start=2):
            missing = [c for c in _COLUMNS if not r.get(c)]
            if missing:
                raise ModelError(f"{path}: line {i}: no {missing[0]!r}")
            where = f"{path}: line {i}"
            try:
                batch, time_ms = int(r["batch"]), float(r["time_ms"])
                parse_precision(r["precision"])
                parse_options(r["opt"])
            except (ValueError, TpusimError) as exc:
                raise ModelError(f"{where}: {exc}") from None
            if batch < 1 or not time_ms > 0 or r["per"] not in ("image", "batch"):
                raise ModelError(f"{where}: needs batch >= 1, time_ms > 0 and per image or "
                                 "batch")
            onnx = (folder / r["onnx"]).resolve()
            if not onnx.is_file():
                raise ModelError(f"{where}: no file {r['onnx']}")
            rows.append(ChipTime(onnx, r["precision"].lower(), batch, r["opt"], time_ms,
                                 r["per"], r["what"], r["toolchain"], r["source"]))
    if not rows:
        raise ModelError(f"{path}: no rows")
    return rows


def vendor_estimates(models: str | Path) -> dict[tuple[str, str], float]:
    """tpu-mlir's estimate of one launch, ms, by (model, precision), from models/summary.csv
    (empty when there is no such table)."""
    path = Path(models) / "summary.csv"
    if not path.is_file():
        return {}
    with table_rows(path):
        return {(r["model"], r["mode"].lower()): float(r["runtime_ms"])
                for r in read_table(path) if r.get("status") == "ok"}


__all__ = ["ChipTime", "read_chip_times", "vendor_estimates"]
