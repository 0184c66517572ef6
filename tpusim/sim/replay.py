"""A bare simpy replay of two command queues: the least a simpy model of them can do.

Durations are given; no cost model, no DDR bus, no records. The speed benchmark runs it beside
the real simulation on the same queues, so the ratio shows what tpusim's modelling costs.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy


def bare_replay(tiu: list[tuple[float, int]], gdma: list[tuple[float, int]]) -> float:
    """Makespan of two in-order queues of (duration, id waited for on the other queue)."""
    env = simpy.Environment()
    done = {"tiu": [env.event() for _ in range(len(tiu) + 1)],
            "gdma": [env.event() for _ in range(len(gdma) + 1)]}
    done["tiu"][0].succeed()
    done["gdma"][0].succeed()

    def engine(queue: list[tuple[float, int]], mine: str, other: str
               ) -> Generator[simpy.Event, None, None]:
        for i, (duration, dep) in enumerate(queue, start=1):
            if dep:
                yield done[other][dep]
            yield env.timeout(duration)
            done[mine][i].succeed()

    env.process(engine(tiu, "tiu", "gdma"))
    env.process(engine(gdma, "gdma", "tiu"))
    env.run()
    return env.now
