"""The timestep table of a group, its 3-stage software pipeline, its load balancing and the
lifetimes of its buffers (bm1684x.md 3.4).

tpu-mlir first lays out K+2 timesteps for ops op0..op(K-1): ts0 loads op0's inputs, ts(i+1)
computes op_i while loading op(i+1)'s inputs and storing op(i-1)'s outputs, ts(K+1) stores
op(K-1)'s outputs. The software pipeline then gives the first row's loads stage 0 (they run for
the next slice) and the last row's stores stage 2 (for the previous slice), and folds those two
rows into the last and first compute rows. What remains is one row per op: row i computes op_i
(stage 1) beside its transfers.

Then tpu-mlir moves transfers out of rows whose GDMA work exceeds their TIU work, into rows
with TIU time to spare (`memory_aware_timestep_assignment`): loads earlier, stores later, each
to the nearest row that takes it without becoming GDMA-bound itself (or, failing that, to the
one where it costs least). A load moved earlier holds its buffer longer: local memory is
checked after the moves.
"""

from __future__ import annotations

from collections.abc import Callable

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


def balance_rows(rows: list[Row], tiu_ns: list[float], cost: Callable[[Transfer], float],
                 reads: dict[str, list[int]]) -> None:
    """Move transfers between rows, in place, as tpu-mlir's memory-aware assignment does.
    `tiu_ns[i]` is row i's TIU time, `cost` a transfer's GDMA time and `reads[t]` the rows
    whose op reads tensor t. A load moves earlier, no further than the row after the last
    earlier reader of its tensor (none for loads for this slice; for loads for the next slice,
    the current slice's readers); a store moves later, never into a row that reads its tensor,
    and a store for the previous slice stays before the row that makes the next one."""
    count = len(rows)
    if count < 2:
        return
    slack = [tiu_ns[i] - sum(cost(tr) for tr in rows[i].transfers) for i in range(count)]
    for cur in range(count):
        while slack[cur] < 0:
            best: tuple[float, int, int, Transfer] | None = None  # profit, -distance, dest, tr
            for tr in rows[cur].transfers:
                ns = cost(tr)
                if ns <= 0:
                    continue
                gain = min(0.0, slack[cur] + ns) - slack[cur]
                for dest in _destinations(tr, cur, count, reads):
                    profit = gain + min(0.0, slack[dest] - ns)
                    key = (profit, -abs(dest - cur), dest, tr)
                    if profit > 0 and (best is None or key[:2] > best[:2]):
                        best = key
                    if slack[dest] >= ns:
                        break  # the nearest row that takes it whole: nothing better further
            if best is None:
                break
            _, _, dest, tr = best
            rows[cur].transfers.remove(tr)
            rows[dest].transfers.append(tr)
            ns = cost(tr)
            slack[cur] += ns
            slack[dest] -= ns


def _destinations(tr: Transfer, cur: int, count: int, reads: dict[str, list[int]]
                  ) -> range | list[int]:
    readers = reads.get(tr.tensor, [])
    if not tr.store:
        earlier = [r for r in readers if r < cur]
        if tr.stage == 0:  # for the next slice: after this slice's last read of it
            earlier = readers
        low = max(earlier, default=-1) + 1
        return range(cur - 1, low - 1, -1)
    end = count - 2 if tr.stage == 2 else count - 1  # the producer runs in the last row
    return [r for r in range(cur + 1, end + 1) if r not in readers]


def lifetimes(rows: list[Row], reads: dict[str, list[int]], producers: dict[str, int],
              held: set[str]) -> list[tuple[str, int, int]]:
    """The buffers of a group's tensors as (tensor, first row, last row), one entry per copy
    and span.

    A buffer lives from the row that loads or computes it to the last row that reads or
    stores it. Pipelined transfers wrap around: a load for the next slice starts a second copy
    while the current one may still be read, and a result stored for the previous slice keeps
    its copy into the next iteration. Held weights live in every row."""
    count = len(rows)
    spans: list[tuple[str, int, int]] = []
    last_read = {t: max(rs) for t, rs in reads.items() if rs}
    stored: dict[str, tuple[int, int]] = {}
    for r, row in enumerate(rows):
        for tr in row.transfers:
            t = tr.tensor
            if tr.store:
                stored[t] = (r, tr.stage)
            elif t in held:
                spans.append((t, 0, count - 1))
            elif tr.stage == 0:  # this slice's copy from row 0, the next one's from r
                spans += [(t, 0, last_read.get(t, 0)), (t, r, count - 1)]
            else:
                spans.append((t, r, max(last_read.get(t, r), r)))
    for t, p in producers.items():
        end = max(last_read.get(t, p), p)
        if t in stored:
            row, stage = stored[t]
            if stage == 2:  # kept into the next iteration, stored in its row `row`
                spans += [(t, p, count - 1), (t, 0, row)]
                continue
            end = max(end, row)
        spans.append((t, p, end))
    return spans
