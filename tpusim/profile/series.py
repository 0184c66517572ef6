"""Quantities over time: local-memory occupancy, DDR bandwidth, and rows for overlapping spans."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tpusim.profile.summary import group_rows, layer_rows

if TYPE_CHECKING:
    from tpusim.sim.result import Result


def lmem_spans(result: Result) -> list[tuple[float, float, int]]:
    """(start_ns, end_ns, bytes per lane) of everything that holds local memory.

    A global layer holds its own `lmem_bytes` from its first command to its last. The layers of
    a group share the group's allocation (their `lmem_bytes` is the group's peak), so a group
    counts once, over the group's span, at the largest value among its layers.
    """
    spans = [(g.start_ns, g.end_ns, g.lmem_bytes)
             for g in group_rows(result.program, result.records)]
    spans += [(row.start_ns, row.end_ns, result.program.layers[row.index].lmem_bytes)
              for row in layer_rows(result.program, result.records) if row.group < 0]
    return [s for s in spans if s[2] > 0]


def lmem_series(result: Result) -> list[tuple[float, int]]:
    """Local memory in use per lane as a step function: (time_ns, bytes) points, each value
    holding until the next point; it starts at (0, 0) and ends at 0.

    Spans that overlap add up (two global layers in flight hold both their buffers)."""
    changes: dict[float, int] = {0.0: 0}
    for start, end, nbytes in lmem_spans(result):
        changes[start] = changes.get(start, 0) + nbytes
        changes[end] = changes.get(end, 0) - nbytes
    points: list[tuple[float, int]] = []
    level = 0
    for time in sorted(changes):
        level += changes[time]
        if not points or points[-1][1] != level:
            points.append((time, level))
    return points


def nice_bin_ns(total_ns: float, bins: int = 400) -> float:
    """A round bin width (1, 2 or 5 times a power of ten ns) giving about `bins` bins."""
    raw = max(total_ns / bins, 1.0)
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def ddr_bytes_per_bin(result: Result, bin_ns: float, start_ns: float = 0.0,
                      end_ns: float | None = None) -> np.ndarray:
    """DDR bytes moved in each bin [start + i * bin_ns, start + (i + 1) * bin_ns) up to
    `end_ns` (the end of the run by default), each transfer spread evenly over its duration."""
    if bin_ns <= 0:
        raise ValueError(f"bin_ns must be positive, got {bin_ns}")
    end_ns = result.total_ns if end_ns is None else end_ns
    nbins = max(1, math.ceil((end_ns - start_ns) / bin_ns))
    moves = [(r.start_ns, r.end_ns, r.bytes) for r in result.records
             if r.engine == "GDMA" and r.direction != "L2L" and r.bytes]
    out = np.zeros(nbins)
    if not moves:
        return out
    start, end, nbytes = (np.array(col, dtype=float) for col in zip(*moves))
    instant = end <= start
    # transfers with no duration land whole in their bin
    index = np.floor((start[instant] - start_ns) / bin_ns).astype(int)
    inside = (index >= 0) & (index < nbins)
    np.add.at(out, index[inside], nbytes[instant][inside])
    # the rest: bytes moved so far is piecewise linear in time, with kinks at starts and ends
    s, e, b = start[~instant], end[~instant], nbytes[~instant]
    if len(s):
        rate = b / (e - s)
        times = np.concatenate([s, e])
        slopes = np.concatenate([rate, -rate])
        order = np.argsort(times, kind="stable")
        times, slopes = times[order], np.cumsum(slopes[order])
        moved = np.concatenate([[0.0], np.cumsum(slopes[:-1] * np.diff(times))])
        edges = start_ns + np.arange(nbins + 1) * bin_ns
        out += np.diff(np.interp(edges, times, moved))
    return out


def ddr_series(result: Result, bin_ns: float | None = None) -> list[tuple[float, float]]:
    """Average DDR bandwidth per bin: (bin start ns, GB/s) points."""
    bin_ns = bin_ns or nice_bin_ns(result.total_ns)
    per_bin = ddr_bytes_per_bin(result, bin_ns)
    return [(i * bin_ns, float(v) / bin_ns) for i, v in enumerate(per_bin)]


def pack_rows(spans: Sequence[tuple[float, float]]) -> list[int]:
    """A row for each (start, end) span so that spans on one row never overlap (touching is
    fine): each span takes the lowest free row, in order of start time."""
    rows: list[int] = [0] * len(spans)
    row_ends: list[float] = []
    for i in sorted(range(len(spans)), key=lambda i: (spans[i][0], spans[i][1], i)):
        start, end = spans[i]
        row = next((k for k, busy_until in enumerate(row_ends) if busy_until <= start), None)
        if row is None:
            row = len(row_ends)
            row_ends.append(end)
        row_ends[row] = max(end, start)
        rows[i] = row
    return rows
