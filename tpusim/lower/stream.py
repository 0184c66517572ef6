"""`Streams`: appends commands to the two queues, numbering them and recording waits."""

from __future__ import annotations

from tpusim.lower.commands import Command, Engine, Program, Work


class Streams:
    def __init__(self, program: Program) -> None:
        self.program = program

    def emit(self, engine: Engine, work: Work, dep: int, layer: int, group: int = -1,
             slice_: int = -1, tensor: str = "") -> int:
        """Append a command; `dep` is the id on the other engine it waits for (0: none)."""
        queue = self.program.queue(engine)
        cmd_id = len(queue) + 1
        queue.append(Command(engine, cmd_id, dep, work, layer, group, slice_, tensor))
        return cmd_id

    def last(self, engine: Engine) -> int:
        """Id of the last command queued on `engine` (0 if none)."""
        return len(self.program.queue(engine))
