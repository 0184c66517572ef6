"""Fit the chip profile's DMA parameters to the vendor's per-command model.

    tpusim fit --data ../shared/tpu-mlir [--chip bm1684x]

reads tpu-mlir/micro/commands.csv and prints the fitted values with the spread of the
commands they come from, as TOML lines for profiles/bm1684x.toml. The vendor's GDMA cost is
bytes over a rate once rows are long (>= 256 B, one DDR access or more): the rate of each
(direction, mode) is the median of bytes / cycles over such commands, which the vendor model
reproduces exactly (no start-up, no per-row cost). The TIU formulas are checked, not fitted,
by `tpusim validate`: they reproduce the vendor's cycles exactly for whole classes.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from tpusim.calibration.micro import read_table, table_rows
from tpusim.errors import ModelError
from tpusim.hw.chip import Chip
from tpusim.profile.vendor_records import VENDOR_MHZ

# Commands moving at least this much in one go are long-row transfers in the micro set (their
# rows are >= 256 bytes); smaller ones mix in short-row and one-row rules.
_LONG_BYTES = 65536


@dataclass(frozen=True)
class Fit:
    field: str
    value: float
    commands: int
    spread: float  # relative half-range of the middle 80 % of the samples

    def toml(self) -> str:
        return (f"{self.field} = {self.value:.5f}  # fitted to {self.commands} vendor commands, "
                f"spread {100 * self.spread:.2f} %")


def _rates(rows: list[dict], direction: str, kind: str) -> list[float]:
    """bytes / cycles of long transfers; F32 MatMul operands are left out (MM reads them in
    64-byte segments, so their rows are short)."""
    return [int(r["bytes"]) / int(r["cycles"]) for r in rows
            if r["engine"] == "GDMA" and r["direction"] == direction and r["cmd_type"] == kind
            and r["bytes"] and int(r["bytes"]) >= _LONG_BYTES and r["io"] == "stripped"
            and int(r["cycles"]) > 0 and not (r["mode"] == "F32" and
                                               r["op_opcode"] == "tpu.MatMul")]


def _fit(field: str, samples: list[float], scale: float) -> Fit:
    if not samples:
        raise ModelError(f"no vendor commands to fit {field}")
    ordered = sorted(samples)
    lo, hi = ordered[len(ordered) // 10], ordered[-1 - len(ordered) // 10]
    mid = statistics.median(ordered)
    return Fit(field, mid / scale, len(samples), (hi - lo) / 2 / mid)


def fit_dma(folder: Path, chip: Chip) -> list[Fit]:
    """The DMA efficiencies of the chip profile, from the vendor's micro commands: fractions
    of the chip's DDR bandwidth, in bytes per vendor cycle."""
    ddr_bytes_per_cycle = chip.ddr_bytes_per_ns * 1000.0 / VENDOR_MHZ
    path = Path(folder) / "micro" / "commands.csv"
    rows = read_table(path)
    with table_rows(path):
        reads = _rates(rows, "S2L", "GDMA_MATRIX")
        writes = _rates(rows, "L2S", "GDMA_MATRIX")
        tensor_loads = _rates(rows, "S2L", "GDMA_TENSOR")
        copies = [int(r["bytes"]) / int(r["cycles"]) for r in rows
                  if r["engine"] == "GDMA" and r["direction"] == "S2S" and r["bytes"]
                  and int(r["cycles"]) > 0]
    read = _fit("ddr_read_efficiency", reads, ddr_bytes_per_cycle)
    write = _fit("ddr_write_efficiency", writes, ddr_bytes_per_cycle)
    tensor = _fit("gdma_tensor_efficiency", tensor_loads, read.value * ddr_bytes_per_cycle)
    copy = _fit("ddr_copy_efficiency", copies, ddr_bytes_per_cycle)
    return [read, write, tensor, copy]
