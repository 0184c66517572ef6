"""Reads before writes: every command waits, directly or through its queue, for the commands
that write what it reads.

Each engine runs in order, so TIU command i has waited for every GDMA command up to the
largest `dep` among TIU commands 1..i (and likewise the other way). A TIU command reads the
local-memory buffers the GDMA loaded for its slice (a group's op: the loads of its inputs; a
global layer's tile: the tile's loads and the layer's held weights); a store reads what the TIU
computed for its slice. `unmet_reads` lists each command that could start before the data it
reads is there - the simulation would otherwise trust such a program blindly.
"""

from __future__ import annotations

from tpusim.lower.commands import Command, Direction, Dma, Program


def unmet_reads(program: Program, limit: int = 20) -> list[str]:
    """Up to `limit` descriptions of commands whose waits do not cover what they read."""
    layers = program.layers
    groups = {plan.index: plan for plan in program.groups}
    local = program.local_ops()  # layer -> the op it runs in its group
    producer = {(layers[index].group, t): index for index, op in local.items() for t in op.outputs}

    loads: dict[tuple, int] = {}  # (group or layer, slice, tensor or "") -> last GDMA id
    for cmd in program.gdma:
        work = cmd.work
        if isinstance(work, Dma) and work.direction is Direction.S2L:
            if cmd.group >= 0:
                loads[(cmd.group, cmd.slice, cmd.tensor)] = cmd.id
            else:
                loads[("layer", cmd.layer, cmd.slice)] = cmd.id
    computed: dict[tuple[int, int], int] = {}  # (layer, slice) -> last TIU id
    for cmd in program.tiu:
        computed[(cmd.layer, cmd.slice)] = cmd.id

    problems: list[str] = []

    def need(cmd: Command, seen: int, wanted: int, what: str) -> None:
        if wanted > seen and len(problems) < limit:
            other = "GDMA" if cmd.engine.value == "TIU" else "TIU"
            problems.append(f"{cmd.engine.value} command {cmd.id} (layer "
                            f"{layers[cmd.layer].name!r}, slice {cmd.slice}) reads {what} "
                            f"written by {other} command {wanted} but has waited only for "
                            f"{other} commands up to {seen}")

    seen = 0
    for cmd in program.tiu:
        seen = max(seen, cmd.dep)
        if cmd.group >= 0:
            plan = groups.get(cmd.group)
            held = set(plan.held) if plan is not None else set()
            for t in (local[cmd.layer].inputs if cmd.layer in local else ()):
                index = 0 if t in held else cmd.slice
                wanted = loads.get((cmd.group, index, t), 0)
                need(cmd, seen, wanted, f"{t!r}")
        else:
            wanted = max(loads.get(("layer", cmd.layer, -1), 0),
                         loads.get(("layer", cmd.layer, cmd.slice), 0) if cmd.slice >= 0 else 0)
            need(cmd, seen, wanted, "its tile's loads")

    seen = 0
    for cmd in program.gdma:
        seen = max(seen, cmd.dep)
        work = cmd.work
        if not isinstance(work, Dma) or work.direction is not Direction.L2S:
            continue
        layer = producer.get((cmd.group, cmd.tensor), cmd.layer) if cmd.group >= 0 else cmd.layer
        need(cmd, seen, computed.get((layer, cmd.slice), 0), f"{cmd.tensor or 'its result'!r}")
    return problems


__all__ = ["unmet_reads"]
