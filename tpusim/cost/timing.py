"""The two timing models over one command stream (DESIGN.md, "Two timing models").

- `vendor`: each command costs what tpu-mlir's own per-command model says (`tiu_ns`,
  `dma_cost`), and nothing else. It answers "what will tpu-mlir's profile say?" and does not
  move when the chip timing model is refitted.
- `chip`: the same commands, departing from the vendor model as the profile's `[chip_timing]`
  fields say, fitted to published chip times: convolutions with a spatial kernel run slower,
  short DDR rows cost less than the vendor's whole accesses, and the engines contend for local
  memory where their work overlaps. This is the default: users want to predict the chip.

Each is a function of a command's work, the chip, and (for contention) how much of the command
overlaps the other engine's work in the vendor schedule (sim.overlap).
"""

from __future__ import annotations

from dataclasses import dataclass

from tpusim.cost.gdma import DmaCost, dma_cost, stream_ns
from tpusim.cost.tiu import tiu_ns
from tpusim.errors import TpusimError
from tpusim.hw.chip import Chip
from tpusim.lower.commands import Conv, Dma, TiuWork

TIMINGS = ("chip", "vendor")
DEFAULT_TIMING = "chip"


def parse_timing(name: str) -> str:
    key = (name or "").strip().lower()
    if key not in TIMINGS:
        raise TpusimError(f"unknown timing model {name!r} (expected chip or vendor)")
    return key


def is_spatial_conv(work: TiuWork) -> bool:
    """A convolution whose kernel has more than one tap."""
    return isinstance(work, Conv) and work.kh * work.kw > 1


@dataclass(frozen=True)
class Timing:
    """Durations of commands under one timing model, on one chip."""

    chip: Chip
    name: str = DEFAULT_TIMING

    @property
    def is_chip(self) -> bool:
        return self.name == "chip"

    def tiu_ns(self, work: TiuWork, overlap: float = 0.0) -> float:
        """`overlap`: the fraction of the command's vendor-model time during which the GDMA
        runs too."""
        ns = tiu_ns(work, self.chip)
        if not self.is_chip:
            return ns
        if is_spatial_conv(work):
            ns /= self.chip.chip_conv_kernel_efficiency
        return ns * self.contention(overlap)

    def dma(self, work: Dma, overlap: float = 0.0) -> DmaCost:
        """`overlap`: the fraction of the transfer's vendor-model time during which the TIU
        runs too."""
        cost = dma_cost(work, self.chip)
        if not self.is_chip:
            return cost
        stream = stream_ns(work, self.chip)
        ddr = stream + self.chip.chip_short_row_cost * (cost.ddr_ns - stream)
        return DmaCost(cost.fixed_ns, ddr, cost.engine_ns).scaled(self.contention(overlap))

    def contention(self, overlap: float) -> float:
        """How much longer a command takes for overlapping the other engine's work."""
        return 1.0 + self.chip.chip_contention * overlap if self.is_chip else 1.0

    def sync_ns(self, to_tiu: bool) -> float:
        """Delay from a command ending to a command on the other engine that waits for it."""
        chip = self.chip
        return chip.sync_latency_cycles * 1000.0 / (chip.tiu_mhz if to_tiu else chip.gdma_mhz)


__all__ = ["DEFAULT_TIMING", "TIMINGS", "Timing", "is_spatial_conv", "parse_timing"]
