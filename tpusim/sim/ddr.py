"""`DdrBus`: DDR bandwidth shared by every DMA engine that uses it at the same time.

Each transfer needs some DDR time (`ddr_ns`, what it would take with the bus to itself) and
cannot go faster than its engine allows (`engine_ns`). Concurrent transfers get max-min fair
shares of the bus, each capped by its engine; shares are recomputed whenever a transfer starts
or ends. DDR turns around between reading and writing: a transfer that starts the other way
from the bus's last access first costs `turnaround_ns` of DDR time (what it moves last sets
the bus's direction: a DDR-to-DDR copy reads, then writes).
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

_DONE_NS = 1e-6  # remaining DDR time below this is rounding, not work


READ, WRITE, BOTH = "R", "W", "RW"  # what a transfer does to DDR


def turns(last: str, access: str) -> bool:
    """Does an access (READ, WRITE or BOTH) after the bus's `last` direction turn it around?"""
    return bool(last) and bool(access) and access[0] != last


class DdrBus:
    def __init__(self, env: simpy.Environment, turnaround_ns: float = 0.0) -> None:
        self.env = env
        self.turnaround_ns = turnaround_ns
        self.direction = ""  # of the last access: READ or WRITE
        self.turnarounds = 0
        self._active: dict[simpy.Event, list[float]] = {}  # done-event -> [remaining, cap, share]
        self._since = env.now
        self._generation = 0

    def transfer(self, ddr_ns: float, engine_ns: float, access: str = ""
                 ) -> Generator[simpy.Event, None, None]:
        """Process body: returns when the transfer is done."""
        if access:
            if turns(self.direction, access):
                ddr_ns += self.turnaround_ns
                self.turnarounds += 1
            self.direction = access[-1]
        if ddr_ns <= 0:
            yield self.env.timeout(engine_ns)
            return
        cap = min(1.0, ddr_ns / engine_ns) if engine_ns > 0 else 1.0
        done = self.env.event()
        self._advance()
        self._active[done] = [ddr_ns, cap, 0.0]
        self._reschedule()
        yield done

    def _advance(self) -> None:
        elapsed = self.env.now - self._since
        self._since = self.env.now
        if elapsed > 0:
            for entry in self._active.values():
                entry[0] -= elapsed * entry[2]

    def _reschedule(self) -> None:
        left, remaining = len(self._active), 1.0
        for entry in sorted(self._active.values(), key=lambda e: e[1]):
            entry[2] = min(entry[1], remaining / left)
            remaining -= entry[2]
            left -= 1
        self._generation += 1
        if self._active:
            wait = min(e[0] / e[2] for e in self._active.values())
            self.env.process(self._wake(max(0.0, wait), self._generation))

    def _wake(self, wait: float, generation: int) -> Generator[simpy.Event, None, None]:
        yield self.env.timeout(wait)
        if generation != self._generation:
            return  # a newer schedule replaced this one
        self._advance()
        now = self.env.now
        for done, entry in list(self._active.items()):
            # done: what is left is rounding, or too little for the clock to advance by at
            # all this late in a long run (waiting for it again would wake at `now` forever)
            if entry[0] <= _DONE_NS or now + entry[0] / entry[2] == now:
                del self._active[done]
                done.succeed()
        self._reschedule()
