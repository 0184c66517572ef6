"""A global layer: one op, DDR in and DDR out, tiled and pipelined as a backend kernel does.

The kernel holds its weights, then cuts the work into as few tiles as fit local memory (two
buffers per tile when there is more than one, so that the next tile loads while this one
computes). The GDMA queue runs  load 0, load 1, store 0, load 2, store 1, ..., store T-1  and the
TIU computes tile i once its loads are in (bm1684x.md 2.3, "Load0 | Load1 | Store0,Load2 | ...").
"""

from __future__ import annotations

import math
from itertools import product

from tpusim.errors import CompileError
from tpusim.hw.chip import Chip
from tpusim.ir.graph import Op
from tpusim.limits import MAX_COMMANDS
from tpusim.lower.commands import Engine
from tpusim.lower.ddr_copies import Move
from tpusim.lower.kernels import KernelPlan, Tile
from tpusim.lower.stream import Streams


def _split(size: int, parts: int) -> list[tuple[int, int]]:
    """`size` cut into at most `parts` equal pieces: [(piece size, how many)], last smaller."""
    step = math.ceil(size / parts)
    pieces = [(step, size // step)]
    return [*pieces, (size % step, 1)] if size % step else pieces


def choose_tiles(plan: KernelPlan, chip: Chip, op: Op,
                 max_tiles: int = MAX_COMMANDS) -> list[list[int]]:
    """The fewest tiles (split outermost dims first, or in the plan's `split_order`) whose
    buffers fit local memory, as the sizes of the pieces along each dim (tiles are their
    product, the last dim varying fastest); a CompileError if they are more than `max_tiles`
    (each is a command at least), before the list of them is built."""
    budget = chip.lmem_bytes_per_npu - plan.held_bytes
    if budget <= 0:
        raise CompileError(f"op {op.name!r}: its weights need {plan.held_bytes} bytes per lane, "
                           f"more than the {chip.lmem_bytes_per_npu} of local memory")
    cache: dict[tuple[int, ...], Tile] = {}

    def fits(parts: list[int]) -> bool:
        splits = [_split(s, p) for s, p in zip(plan.dims, parts)]
        count = math.prod(sum(n for _, n in split) for split in splits)
        need = 0
        for combo in product(*([size for size, _ in split] for split in splits)):
            tile = cache.get(combo) or cache.setdefault(combo, plan.make_tile(combo))
            need = max(need, tile.lmem_bytes)
        return need * (1 if count == 1 else plan.buffer_sets) <= budget

    parts = [1] * len(plan.dims)
    parts[0] = min(plan.dims[0], plan.min_tiles)
    if plan.max_tile:  # the kernel never makes a tile longer than this along the first dim
        parts[0] = max(parts[0], -(-plan.dims[0] // plan.max_tile))
    order = list(plan.split_order or range(len(plan.dims)))
    floor = list(parts)

    def least(axis: int) -> None:
        """Cut `axis` into the fewest pieces that fit, the other dims as they are."""
        lo, hi = floor[axis], plan.dims[axis]
        while lo < hi:
            mid = (lo + hi) // 2
            parts[axis] = mid
            lo, hi = (lo, mid) if fits(parts) else (mid + 1, hi)
        parts[axis] = lo

    for done, axis in enumerate(order):
        parts[axis] = plan.dims[axis]
        if not fits(parts):
            continue
        least(axis)
        for earlier in order[:done]:  # cut to single rows before this one fitted: undo that
            least(earlier)
        count = math.prod(sum(n for _, n in _split(s, p)) for s, p in zip(plan.dims, parts))
        if count > max_tiles:
            raise CompileError(f"op {op.name!r}: {count:,} tiles, more than the bound of "
                               f"{max_tiles:,} commands (max_commands)")
        return [[size for size, n in _split(s, p) for _ in range(n)]
                for s, p in zip(plan.dims, parts)]
    raise CompileError(f"op {op.name!r}: does not fit local memory even split to single rows")


def emit_global(streams: Streams, layer: int, op: Op, plan: KernelPlan,
                chip: Chip) -> tuple[int, int]:
    """Queue one op's commands; returns (tiles, peak local memory per lane)."""
    per_axis = choose_tiles(plan, chip, op, streams.max_commands)
    sizes = list(product(*per_axis))
    cache: dict[tuple[int, ...], Tile] = {}
    tiles = [cache.get(s) or cache.setdefault(s, plan.make_tile(s)) for s in sizes]
    buffers = min(plan.buffer_sets, len(tiles))
    lmem = plan.held_bytes + max(t.lmem_bytes for t in tiles) * buffers
    for tensor, dma in plan.held:
        streams.emit(Engine.GDMA, dma, 0, layer, tensor=tensor)
    # the prologue rearranges the held weights: it waits for their loads
    dep = streams.last(Engine.GDMA) if plan.held else 0
    for work in plan.prologue:
        streams.emit(Engine.TIU, work, dep, layer)
        dep = 0
    loaded: dict[int, int] = {}
    computed: dict[int, int] = {}

    def gdma(moves: tuple[Move, ...], dep: int, index: int) -> None:
        for tensor, dma in moves:
            streams.emit(Engine.GDMA, dma, dep, layer, slice_=index, tensor=tensor)
            dep = 0

    def load(i: int) -> None:
        # double buffers: tile i reuses tile i-2's; a serial kernel has one buffer set
        gdma(tiles[i].loads, computed.get(i - plan.buffer_sets, 0), i)
        loaded[i] = streams.last(Engine.GDMA)

    # a reduction's tiles come in runs along its last dim, each run ending with one result
    run = len(per_axis[-1]) if plan.reduction else 1
    load(0)
    for i, tile in enumerate(tiles):
        dep = loaded[i]
        last = (i + 1) % run == 0
        for work in tile.works + (tile.finish if last else ()):
            streams.emit(Engine.TIU, work, dep, layer, slice_=i)
            dep = 0
        computed[i] = streams.last(Engine.TIU)
        stores = tile.stores if last else ()
        if plan.serial:
            gdma(stores, computed[i], i)
            if i + 1 < len(tiles):
                load(i + 1)
            continue
        if i + 1 < len(tiles):
            load(i + 1)
        gdma(stores, computed[i], i)
    return len(tiles), lmem


def emit_copies(streams: Streams, layer: int, moves: list[Move]) -> None:
    """A data-movement op in DDR: transfers only. Its input was stored by an earlier GDMA
    command, so the in-order GDMA queue already orders it; it waits for nothing else."""
    for tensor, dma in moves:
        streams.emit(Engine.GDMA, dma, 0, layer, tensor=tensor)
