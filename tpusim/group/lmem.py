"""Local-memory allocation of a layer group: an address and a bank range for every buffer.

Every lane holds the same layout, so an address is a byte offset inside one lane's local
memory. A buffer is one tensor's slice (or a whole held weight, or an op's scratch), alive over
a set of timestep rows (`timestep.lifetimes`; a pipelined buffer wraps from the end of one
iteration into the next). Two buffers alive in a common row must not overlap.

As tpu-mlir's LmemAllocator does, buffers are placed largest first at the lowest free address
(EU-aligned), and the allocator keeps apart in different banks the buffers used in the same row
- an op's operands and result, and the tensors the GDMA moves beside it - because a bank serves
one access at a time. Where no free address keeps a buffer out of its companions' banks, it
takes the lowest free one and the allocation records the conflict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tpusim.group.plan import GroupPlan
from tpusim.group.slicing import weight_bytes
from tpusim.group.timestep import lifetimes
from tpusim.hw.chip import Chip
from tpusim.ir.graph import Graph
from tpusim.lower.local import scratch_bytes, slice_bytes


@dataclass(frozen=True)
class Buffer:
    """`size` bytes per lane at `addr` holding `tensor` (or an op's scratch) in `rows`."""

    tensor: str
    addr: int
    size: int
    rows: frozenset[int]

    @property
    def end(self) -> int:
        return self.addr + self.size

    def banks(self, bank_bytes: int) -> int:
        """The banks it touches, as a bit mask."""
        return _banks(self.addr, self.size, bank_bytes) if self.size > 0 else 0


@dataclass
class Allocation:
    """A group's buffers; `conflicts` are the pairs (tensor, tensor) used in one row that the
    allocator had to leave sharing a bank."""

    buffers: list[Buffer]
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    _masks: dict[tuple[str, int], int] = field(default_factory=dict, repr=False)

    def bank_mask(self, tensor: str, bank_bytes: int) -> int:
        """Banks of `bank_bytes` holding any buffer of `tensor` (0: none)."""
        mask = self._masks.get((tensor, bank_bytes))
        if mask is None:
            mask = 0
            for b in self.buffers:
                if b.tensor == tensor:
                    mask |= b.banks(bank_bytes)
            self._masks[(tensor, bank_bytes)] = mask
        return mask

    @property
    def peak_bytes(self) -> int:
        return max((b.end for b in self.buffers), default=0)


def scratch_name(op_name: str) -> str:
    return f"{op_name}.scratch"


def _shapes(plan: GroupPlan) -> Iterable[dict[str, tuple[int, ...]]]:
    """Each different set of slice shapes (a SliceGrid knows them; a list is read whole)."""
    distinct = getattr(plan.slices, "distinct", None)
    return distinct() if distinct is not None else plan.slices


def plan_lifetimes(plan: GroupPlan) -> list[tuple[str, int, int]]:
    """`timestep.lifetimes` of a plan's tensors, its ops placed by the rows that compute
    them."""
    op_row = {c.op: r for r, row in enumerate(plan.rows) for c in row.computes}
    reads: dict[str, list[int]] = {}
    producers: dict[str, int] = {}
    for i, op in enumerate(plan.ops):
        row = op_row.get(i)
        if row is None:
            continue
        for t in op.inputs:
            reads.setdefault(t, []).append(row)
        for t in op.outputs:
            producers[t] = row
    held = set(plan.held) if len(plan.slices) > 1 else set()
    return lifetimes(plan.rows, reads, producers, held)


def _live_buffers(plan: GroupPlan, g: Graph, chip: Chip, spans: list[tuple[str, int, int]]
                  ) -> list[tuple[str, int, frozenset[int]]]:
    """(tensor or scratch name, bytes per lane, rows alive) of every buffer the group needs."""
    op_row = {c.op: r for r, row in enumerate(plan.rows) for c in row.computes}
    shapes = list(_shapes(plan))
    alive: dict[str, list[set[int]]] = {}
    for t, first, last in spans:
        span = set(range(first, last + 1))
        copies = alive.setdefault(t, [])
        # one buffer per tensor; a span overlapping the rows of the first copy needs another
        into = next((c for c in copies if not c & span), None)
        if into is None:
            copies.append(span)
        else:
            into |= span
    whole = set(plan.held)
    out = []
    for t, copies in alive.items():
        if t in whole:
            size = weight_bytes(t, g, chip)
        else:
            size = max(slice_bytes(s.get(t, g.tensors[t].shape), g.tensors[t].dtype, chip)
                       for s in shapes)
        out += [(t, size, frozenset(c)) for c in copies]
    for i, op in enumerate(plan.ops):
        row = op_row.get(i)
        out_t = op.outputs[0]
        if row is None:
            continue
        size = max(scratch_bytes(op, g, s.get(out_t, g.tensors[out_t].shape), chip)
                   for s in shapes)
        if size:
            out.append((scratch_name(op.name), size, frozenset({row})))
    return out


def touched(plan: GroupPlan) -> list[set[str]]:
    """Per row, the tensors its TIU and GDMA work access (an op's scratch by its name)."""
    out = []
    for row in plan.rows:
        names = {tr.tensor for tr in row.transfers}
        for c in row.computes:
            op = plan.ops[c.op]
            names.update(op.inputs)
            names.update(op.outputs)
            names.add(scratch_name(op.name))
        out.append(names)
    return out


# Orders tried in turn until one fits: long-lived buffers first (they constrain the most
# rows), then largest first, then in order of first use (a linear scan).
_ORDERS = (
    lambda b: (-len(b[2]), -b[1], min(b[2]), b[0]),
    lambda b: (-b[1], min(b[2]), b[0]),
    lambda b: (min(b[2]), -b[1], b[0]),
)


def allocate(plan: GroupPlan, g: Graph, chip: Chip,
             spans: list[tuple[str, int, int]] | None = None) -> Allocation | None:
    """Addresses for every buffer of `plan`, or None if they do not fit one lane's memory.
    `spans` are its tensors' lifetimes, if already known (`plan_lifetimes`)."""
    wanted = _live_buffers(plan, g, chip, plan_lifetimes(plan) if spans is None else spans)
    by_row = touched(plan)
    for avoid_conflicts in (True, False):
        for best_fit in (False, True):
            for order in _ORDERS:
                placed = _place(sorted(wanted, key=order), by_row, chip, avoid_conflicts,
                                best_fit)
                if placed is not None:
                    return placed
    return None


def _free_starts(busy: list[tuple[int, int]], size: int, capacity: int, align: int,
                 bank: int) -> list[tuple[int, int]]:
    """(address, size of its free gap) of every place `size` bytes fit between the `busy`
    ranges: each gap's lowest aligned address and the bank starts inside it."""
    out = []
    lo = 0
    for start, end in [*sorted(busy), (capacity, capacity)]:
        first = -(-lo // align) * align
        if first + size <= start:
            gap = start - lo
            out.append((first, gap))
            b = (first // bank + 1) * bank
            while b + size <= start:
                out.append((b, gap))
                b += bank
        lo = max(lo, end)
    return out


def _banks(addr: int, size: int, bank: int) -> int:
    first, last = addr // bank, (addr + size - 1) // bank
    return ((1 << (last + 1)) - 1) ^ ((1 << first) - 1)


def _place(wanted: list[tuple[str, int, frozenset[int]]], by_row: list[set[str]],
           chip: Chip, avoid_conflicts: bool, best_fit: bool) -> Allocation | None:
    """First fit in the given order: the lowest EU-aligned free address (with `best_fit`, the
    one in the tightest gap), out of the banks of the buffers used beside it where there is
    such an address."""
    align, capacity, bank = chip.eu_bytes, chip.lmem_bytes_per_npu, chip.lmem_bank_bytes
    used_in: dict[str, set[int]] = {}  # tensor -> rows that access it
    for r, names in enumerate(by_row):
        for t in names:
            used_in.setdefault(t, set()).add(r)
    placed: list[Buffer] = []
    conflicts: list[tuple[str, str]] = []
    for tensor, size, rows in wanted:
        size = -(-size // align) * align
        alive = [b for b in placed if b.rows & rows]
        starts = _free_starts([(b.addr, b.end) for b in alive], size, capacity, align, bank)
        if not starts:
            return None
        if best_fit:
            starts.sort(key=lambda s: (s[1], s[0]))
        mine = used_in.get(tensor, set()) & rows
        companions = [b for b in alive if mine & b.rows & used_in.get(b.tensor, set())]
        avoid = 0
        for b in companions if avoid_conflicts else ():
            avoid |= b.banks(bank)
        addr = next((a for a, _ in starts if not _banks(a, size, bank) & avoid), None)
        buf = Buffer(tensor, starts[0][0] if addr is None else addr, size, rows)
        mask = buf.banks(bank)
        conflicts += [(b.tensor, tensor) for b in companions if b.banks(bank) & mask]
        placed.append(buf)
    placed.sort(key=lambda b: (b.addr, min(b.rows)))
    return Allocation(placed, conflicts)


def overlaps(allocation: Allocation) -> list[tuple[Buffer, Buffer]]:
    """Pairs of buffers alive in a common row whose addresses overlap (none, if it is right)."""
    bufs = allocation.buffers
    return [(a, b) for i, a in enumerate(bufs) for b in bufs[i + 1:]
            if a.rows & b.rows and a.addr < b.end and b.addr < a.end]


__all__ = ["Allocation", "Buffer", "allocate", "overlaps", "plan_lifetimes",
           "scratch_name", "touched"]
