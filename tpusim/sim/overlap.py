"""How much of each command runs while the other engine is busy, in the vendor schedule.

The chip timing model charges contention between the engines (both use local memory) in
proportion to this overlap. It is measured once per program on the schedule the vendor model
gives (sim.fast's list replay of the two queues), so it depends on the program and the chip's
vendor fields, never on the fitted [chip_timing] values: the chip model stays a fixed scaling
of each command, and a fit can differentiate it exactly. Waits that can never be met are
reported here as the simulation reports them.
"""

from __future__ import annotations

import numpy as np

from tpusim.hw.chip import Chip
from tpusim.lower.commands import Program
from tpusim.sim.fast import schedule


def _busy_within(starts: np.ndarray, ends: np.ndarray, lo: np.ndarray, hi: np.ndarray
                 ) -> np.ndarray:
    """Time the (disjoint, ordered) intervals [starts, ends) cover within each [lo, hi)."""
    if not len(starts):
        return np.zeros(len(lo))
    before = np.concatenate([[0.0], np.cumsum(ends - starts)])  # busy before interval k

    def covered(t: np.ndarray) -> np.ndarray:  # busy time in [0, t)
        k = np.searchsorted(starts, t, side="right")  # intervals starting before t
        last = np.maximum(k - 1, 0)
        partial = np.clip(t - starts[last], 0.0, ends[last] - starts[last])
        return np.where(k > 0, before[last] + partial, 0.0)

    return covered(hi) - covered(lo)


def overlap_fractions(program: Program, chip: Chip) -> tuple[np.ndarray, np.ndarray]:
    """For every TIU command, then every GDMA command: the fraction of its vendor-model time
    during which the other engine is busy (0 for a command of no duration)."""
    ts, te, gs, ge = (np.array(x) for x in schedule(program.tiu, program.gdma, chip))

    def fraction(s: np.ndarray, e: np.ndarray, os: np.ndarray, oe: np.ndarray) -> np.ndarray:
        d = e - s
        busy = _busy_within(os, oe, s, e)
        return np.divide(busy, d, out=np.zeros_like(d), where=d > 0)

    return fraction(ts, te, gs, ge), fraction(gs, ge, ts, te)


__all__ = ["overlap_fractions"]
