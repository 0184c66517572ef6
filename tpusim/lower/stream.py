"""`Streams`: appends commands to the two queues, numbering them and recording waits."""

from __future__ import annotations

from tpusim.errors import CompileError
from tpusim.limits import MAX_COMMANDS
from tpusim.lower.commands import Command, Engine, Program, Work


class Streams:
    def __init__(self, program: Program, max_commands: int = MAX_COMMANDS) -> None:
        self.program = program
        self.max_commands = max_commands
        self._room = max_commands  # commands left before the bound
        self._works: dict[Work, Work] = {}  # equal work shared: less memory, faster pickles

    def emit(self, engine: Engine, work: Work, dep: int, layer: int, group: int = -1,
             slice_: int = -1, tensor: str = "") -> int:
        """Append a command; `dep` is the id on the other engine it waits for (0: none)."""
        self._room -= 1
        if self._room < 0:  # stop before the program outgrows memory
            raise self._too_many(layer)
        queue = self.program.queue(engine)
        cmd_id = len(queue) + 1
        work = self._works.setdefault(work, work)
        queue.append(Command(engine, cmd_id, dep, work, layer, group, slice_, tensor))
        return cmd_id

    def last(self, engine: Engine) -> int:
        """Id of the last command queued on `engine` (0 if none)."""
        return len(self.program.queue(engine))

    def _too_many(self, layer: int) -> CompileError:
        layers = self.program.layers
        where = f" at layer {layers[layer].name!r}" if 0 <= layer < len(layers) else ""
        return CompileError(
            f"{self.program.name}: more than {self.max_commands:,} commands{where} "
            f"(max_commands; raise it with --max-commands or compile(..., max_commands=N) "
            "if the machine has the memory)")
