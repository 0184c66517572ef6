"""tpu-mlir's compile-time profile as a tpusim run, so tpusim's profiler can show it.

`vendor_result` turns a `VendorProfile` into a `Result` with one `Record` per command, on the
layers of the program tpusim imported from the same final.mlir: "Load_14" in the profile is the
layer the program numbers 14 (`ImportedProgram.vendor_layers`). A command of a layer the program
does not know gets a layer of its own, after the program's. The vendor's cost model runs at
1000 MHz, so one of its cycles is one nanosecond; its end cycle is inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tpusim.errors import ModelError
from tpusim.hw.chip import Chip
from tpusim.lower.commands import Command, Direction, Dma, Engine, Layer, Program
from tpusim.profile.vendor import VendorCommand, VendorProfile, read_vendor_profile
from tpusim.sim.result import Result
from tpusim.sim.timeline import Record

VENDOR_MHZ = 1000.0  # the clock of tpu-mlir's cost model: a cycle is a nanosecond


@dataclass(frozen=True)
class VendorTiuWork:
    """A TIU command as the vendor's profile gives it: its type and cost, no operands (so no
    uArch rate: the profiler draws it at full height)."""

    kind: str
    cycles: int


def _ns(cycles: int) -> float:
    return cycles * 1000.0 / VENDOR_MHZ


def vendor_result(profile: VendorProfile, program: Program, chip: Chip) -> Result:
    """The profile's commands as records on `program`'s layers (see the module note)."""
    numbers = getattr(program, "vendor_layers", {})
    layers: list[Layer] = list(program.layers)
    extra: dict[str, int] = {}

    def layer_of(command: VendorCommand) -> int:
        index = numbers.get(command.layer_id) if command.layer_id is not None else None
        if index is not None:
            return index
        if command.layer not in extra:
            extra[command.layer] = len(layers)
            layers.append(Layer(command.layer, command.layer_type, -1))
        return extra[command.layer]

    vendor = Program(program.name, program.chip, program.precision, layers=layers,
                     groups=program.groups, graph=program.graph)
    records = []
    for command in profile.commands:
        engine = Engine(command.engine)
        index = layer_of(command)
        group = layers[index].group
        if engine is Engine.TIU:
            work: VendorTiuWork | Dma = VendorTiuWork(command.kind, command.cycles)
        else:
            work = Dma(Direction(command.direction), 1, max(1, command.nbytes or 0), command.kind)
        vendor.queue(engine).append(Command(engine, command.cmd_id, command.dep, work, index,
                                            group))  # type: ignore[arg-type]
        records.append(Record(engine.value, command.cmd_id, command.dep, command.kind, index,
                              group, -1, _ns(command.start), _ns(command.end + 1),
                              command.nbytes or 0, command.direction or "", ""))
    for engine in Engine:
        ids = [c.id for c in vendor.queue(engine)]
        if ids != list(range(1, len(ids) + 1)):
            raise ModelError(f"{profile.source}: {engine.value} command ids are not 1, 2, ... "
                             "in file order")
    records.sort(key=lambda r: (r.start_ns, r.engine, r.cmd_id))
    info = {"source": "tpu-mlir compile-time profile", "profile": profile.source}
    return Result(vendor, chip, records, 0.0, info)


def read_vendor_result(path: str | Path, program: Program, chip: Chip) -> Result:
    """`vendor_result` of a profile file (compiler_profile_0.txt or net_stat.sim, gzipped
    or not)."""
    return vendor_result(read_vendor_profile(path), program, chip)


__all__ = ["VENDOR_MHZ", "VendorTiuWork", "read_vendor_result", "vendor_result"]
