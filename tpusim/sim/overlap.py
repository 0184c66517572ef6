"""How much of each command runs while the other engine is busy, in the vendor schedule.

The chip timing model charges contention between the engines (both use local memory) in
proportion to this overlap. It is measured once per program on the schedule the vendor model
gives (sim.fast's list replay of the two queues), so it depends on the program and the chip's
vendor fields, never on the fitted [chip_timing] values: the chip model stays a fixed scaling
of each command, and a fit can differentiate it exactly. Waits that can never be met are
reported here as the simulation reports them.
"""

from __future__ import annotations

from tpusim.hw.chip import Chip
from tpusim.lower.commands import Program
from tpusim.sim.fast import schedule


def _fractions(starts: list[float], ends: list[float], other_starts: list[float],
               other_ends: list[float]) -> list[float]:
    """Per interval [start, end), the share of it the other intervals cover (both lists of
    disjoint intervals in order: one sweep)."""
    out = []
    k, n = 0, len(other_starts)
    for s, e in zip(starts, ends):
        if e <= s:
            out.append(0.0)
            continue
        while k < n and other_ends[k] <= s:
            k += 1
        busy, j = 0.0, k
        while j < n and other_starts[j] < e:
            busy += min(e, other_ends[j]) - max(s, other_starts[j])
            j += 1
        out.append(busy / (e - s))
    return out


def overlap_fractions(program: Program, chip: Chip) -> tuple[list[float], list[float]]:
    """For every TIU command, then every GDMA command: the fraction of its vendor-model time
    during which the other engine is busy (0 for a command of no duration)."""
    ts, te, gs, ge = schedule(program.tiu, program.gdma, chip)
    return _fractions(ts, te, gs, ge), _fractions(gs, ge, ts, te)


__all__ = ["overlap_fractions"]
