"""Waits that can never be met, found without simulating: a wait on a command that does not
exist, and a cycle of waits.

Each engine runs its queue in order, so a command waits implicitly for the one before it on
its own engine, and explicitly for command `dep` of the other engine (0: nothing). That makes a
wait-for graph with one edge of each kind per command. Walking the two queues as far as the
waits allow (what the fast replay does, without the durations) either finishes both or stops
with TIU command i waiting for a GDMA command d not yet reached, and GDMA command j waiting for
a TIU command e not yet reached. Since d >= j and e >= i, that is the cycle

    TIU i -> GDMA d -> (queue order) -> GDMA j -> TIU e -> (queue order) -> TIU i

and the error names those commands. The walk is linear in the number of commands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tpusim.errors import SimulationError
from tpusim.lower.commands import Command

Describe = Callable[[Command], str]  # " (layer 'x')" or ""


def _nothing(cmd: Command) -> str:
    return ""


def check_waits(tiu: Sequence[Command], gdma: Sequence[Command],
                describe: Describe = _nothing) -> None:
    """Raise SimulationError naming the commands if the queues cannot run to the end."""
    i, j = walk(tiu, gdma)
    if i < len(tiu) or j < len(gdma):
        raise stall_error(tiu, gdma, i, j, describe)


def walk(tiu: Sequence[Command], gdma: Sequence[Command]) -> tuple[int, int]:
    """How many commands of each queue can run before the waits stop both (all: no problem)."""
    i = j = 0
    n_tiu, n_gdma = len(tiu), len(gdma)
    while True:
        start = (i, j)
        while i < n_tiu and 0 <= tiu[i].dep <= j:
            i += 1
        while j < n_gdma and 0 <= gdma[j].dep <= i:
            j += 1
        if (i, j) == start:
            return i, j


def stall_error(tiu: Sequence[Command], gdma: Sequence[Command], i: int, j: int,
                describe: Describe = _nothing) -> SimulationError:
    """Why neither queue can go on once TIU has run i commands and GDMA j (ids are 1-based)."""
    queues = {"TIU": tiu, "GDMA": gdma}
    for engine, other, n in (("TIU", "GDMA", i), ("GDMA", "TIU", j)):
        mine = queues[engine]
        if n < len(mine) and not 0 <= mine[n].dep <= len(queues[other]):
            cmd = mine[n]
            return SimulationError(
                f"{engine} command {cmd.id}{describe(cmd)} waits for {other} command {cmd.dep}, "
                f"which does not exist ({len(queues[other])} are queued)")
    t, g = tiu[i], gdma[j]
    return SimulationError(
        f"deadlock: TIU command {t.id}{describe(t)} waits for GDMA command "
        f"{_after(t.dep, g.id)}GDMA command {g.id}{describe(g)} waits for TIU command "
        f"{_after(g.dep, t.id)}a cycle of waits, so neither engine can go on")


def _after(waited: int, blocked: int) -> str:
    """The waited-for command, and that it comes after the blocked one in its queue."""
    if waited == blocked:
        return f"{waited}; "
    return f"{waited}, queued after {blocked}; "
