"""The invariants every simulated program satisfies, as a checkable function: each engine
runs its commands once each and in order; no command starts before the one it waits for ends;
the makespan is at least each engine's busy time and the roofline bound; no layer or group uses
more local memory than a lane has; GDMA moves the bytes the plan says. And of a compiled
program (`program_problems`): no two live buffers of a group overlap in local memory, and every
command waits for what writes what it reads."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from tpusim.cost.roofline import roofline_ns
from tpusim.group.lmem import overlaps
from tpusim.hw.chip import Chip
from tpusim.lower.commands import Program
from tpusim.lower.hazards import unmet_reads

if TYPE_CHECKING:
    from tpusim.sim.result import Result

_TOL = 1e-6  # ns of floating-point slack


def program_problems(program: Program, chip: Chip, limit: int = 20) -> list[str]:
    """What is wrong with a compiled program before it runs: buffers of a group that overlap
    in local memory while both are alive, or lie beyond it, and commands whose waits do not
    cover what they read (lower/hazards.py)."""
    problems = []
    for plan in program.groups:
        if plan.lmem is None:
            continue
        for a, b in overlaps(plan.lmem)[:limit]:
            problems.append(f"group {plan.index}: {a.tensor!r} [{a.addr}, {a.end}) and "
                            f"{b.tensor!r} [{b.addr}, {b.end}) overlap while both are alive")
        beyond = [b for b in plan.lmem.buffers if b.addr < 0 or b.end > chip.lmem_bytes_per_npu]
        problems += [f"group {plan.index}: {b.tensor!r} ends at {b.end}, beyond the "
                     f"{chip.lmem_bytes_per_npu} bytes of a lane" for b in beyond[:limit]]
    return (problems + unmet_reads(program, limit))[:limit]


def violations(result: Result) -> list[str]:
    """Every broken invariant, described; empty when the run is sound."""
    problems: list[str] = []
    program, records = result.program, result.records
    by_engine: dict[str, list] = {"TIU": [], "GDMA": []}
    for r in records:
        by_engine[r.engine].append(r)
    inferences = 1 + max((r.inference for r in records), default=0)  # of a stream
    ends = {}
    for engine, rs in by_engine.items():
        rs.sort(key=lambda r: r.cmd_id)
        expected = inferences * len(program.tiu if engine == "TIU" else program.gdma)
        if [r.cmd_id for r in rs] != list(range(1, expected + 1)):
            problems.append(f"{engine}: records do not cover commands 1..{expected} once each")
        for prev, cur in itertools.pairwise(rs):
            if cur.start_ns < prev.end_ns - _TOL:
                problems.append(f"{engine}: command {cur.cmd_id} starts before "
                                f"{prev.cmd_id} ends")
        ends[engine] = {r.cmd_id: r.end_ns for r in rs}
    for r in records:
        other = "GDMA" if r.engine == "TIU" else "TIU"
        if r.dep and r.start_ns < ends[other].get(r.dep, float("inf")) - _TOL:
            problems.append(f"{r.engine} command {r.cmd_id} starts before {other} command "
                            f"{r.dep} it waits for ends")
    total = result.total_ns
    for engine in by_engine:
        if result.busy_ns(engine) > total + _TOL:
            problems.append(f"makespan {total} ns is below {engine} busy time")
    bound = roofline_ns(program, result.chip, result.info.get("timing", "vendor"))
    if total < bound - _TOL:
        problems.append(f"makespan {total} ns is below the roofline bound {bound} ns")
    capacity = result.chip.lmem_bytes_per_npu
    for layer in program.layers:
        if layer.lmem_bytes > capacity:
            problems.append(f"layer {layer.name!r} uses {layer.lmem_bytes} bytes of local memory "
                            f"per lane, more than the {capacity} a lane has")
    for group in program.groups:
        if group.lmem_bytes > capacity:
            problems.append(f"group {group.index} uses {group.lmem_bytes} bytes per lane")
    planned = inferences * sum(c.work.bytes for c in program.gdma)
    moved = sum(r.bytes for r in records if r.engine == "GDMA")
    if planned != moved:
        problems.append(f"GDMA moved {moved} bytes, the plan says {planned}")
    problems += program_problems(program, result.chip)
    return problems
