"""The timestep table of a group and its 3-stage software pipeline (bm1684x.md 3.4).

tpu-mlir first lays out K+2 timesteps for ops op0..op(K-1): ts0 loads op0's inputs, ts(i+1)
computes op_i while loading op(i+1)'s inputs and storing op(i-1)'s outputs, ts(K+1) stores
op(K-1)'s outputs. The software pipeline then gives the first row's loads stage 0 (they run for
the next slice) and the last row's stores stage 2 (for the previous slice), and folds those two
rows into the last and first compute rows. What remains is one row per op: row i computes op_i
(stage 1) beside its transfers.
"""

from __future__ import annotations

from tpusim.group.plan import Compute, Row, Transfer


def build_rows(count: int, loads: dict[int, list[str]], stores: dict[int, list[str]],
               held: set[str]) -> list[Row]:
    """Rows for `count` ops; `loads[j]` are op j's inputs first needed there, `stores[p]` the
    group outputs op p produces."""
    rows = [Row([Compute(i)]) for i in range(count)]
    last = count - 1
    for j, tensors in sorted(loads.items()):
        stage, row = (0, last) if j == 0 else (1, j - 1)
        rows[row].transfers += [Transfer(t, False, stage, j, t in held) for t in tensors]
    for p, tensors in sorted(stores.items()):
        stage, row = (2, 0) if p == last else (1, p + 1)
        rows[row].transfers += [Transfer(t, True, stage, p) for t in tensors]
    return rows


def live_ranges(count: int, loads: dict[int, list[str]], stores: dict[int, list[str]],
                producers: dict[str, int], last_use: dict[str, int]
                ) -> tuple[dict[str, tuple[int, int]], set[str]]:
    """Rows over which each tensor's buffer lives within one iteration, and the tensors that
    need a second buffer because the pipeline holds two slices of them at once (op0's inputs,
    loaded for the next slice; the last op's outputs, stored for the previous one)."""
    live: dict[str, tuple[int, int]] = {}
    doubled: set[str] = set()
    for j, tensors in loads.items():
        for t in tensors:
            live[t] = (0 if j == 0 else j - 1, last_use.get(t, j))
            if j == 0 and count > 1:
                doubled.add(t)
    stored = {t: p for p, ts in stores.items() for t in ts}
    for t, p in producers.items():
        end = last_use.get(t, p)
        if t in stored:
            if p == count - 1:
                doubled.add(t)
            else:
                end = max(end, p + 1)
        live[t] = (p, end)
    return live, doubled
