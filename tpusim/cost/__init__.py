"""The cost model: cycles per command as pure functions of (command, chip)."""

from tpusim.cost.gdma import DmaCost, dma_cost, gdma_cycles, gdma_ns
from tpusim.cost.tiu import tiu_cycles, tiu_ns, uarch_rate, useful_ops

__all__ = ["DmaCost", "dma_cost", "gdma_cycles", "gdma_ns", "tiu_cycles", "tiu_ns",
           "uarch_rate", "useful_ops"]
