"""Read tpu-mlir's compile-time profile (`compiler_profile_0.txt`; `net_stat.sim` has the same
lines): the vendor cost model's timeline of every TIU and GDMA command, and its totals.

The file has two columns padded with spaces, TIU ("ENGINE_BD") on the left and GDMA on the
right, one command per cell:

    Cast_16|AR|s:22293|b:1|g:1|e:22880|t:588
    Load_15|GDMA_TENSOR|s:22293|b:0|g:2|e:37154|t:14862|dr:0|sz:301056|bw:18.87

s/e: first and last cycle (inclusive, so e = s + t - 1), t: cycles, b/g: the TIU (bd) and GDMA
command ids. A TIU command's own id is b and it waits for GDMA command g; a GDMA command's own
id is g and it waits for TIU command b. dr: direction, sz: bytes, bw: GB/s. Cells are split on
whitespace, not at fixed columns (the column width differs between files); a line that starts
with a space has no TIU cell. After a dashed line come the totals (`API_END total_cycle:...`,
`GDMA SUMMARY : |dr[0] S2L:...`, ..., a line of '#') and an optional `flops: ..., runtime: ...`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tpusim.errors import ModelError
from tpusim.frontend.text_files import read_text

__all__ = ["DIRECTIONS", "VendorCommand", "VendorProfile", "parse_vendor_profile",
           "read_vendor_profile"]

DIRECTIONS = ("S2L", "L2S", "S2S", "L2L")
"""GDMA directions by `dr` code: DDR to LMEM, LMEM to DDR, DDR to DDR, LMEM to LMEM."""

_INT = r"(-?\d+)"
_TIU_CELL = re.compile(rf"([^|\s]+)\|([^|\s]+)\|s:{_INT}\|b:{_INT}\|g:{_INT}\|e:{_INT}\|t:{_INT}")
_GDMA_CELL = re.compile(_TIU_CELL.pattern + r"\|dr:(\d+)\|sz:(\d+)\|bw:(\d+(?:\.\d*)?)")
_API_END = re.compile(r"API_END total_cycle:(\d+)\|b:(\d+)\|g:(\d+)")
_SUMMARY = re.compile(r"GDMA SUMMARY : " + "".join(
    rf"\|dr\[{i}\] {name}:(\d+)" for i, name in enumerate(DIRECTIONS)))
_RUNTIME = re.compile(r"flops: (\d+), runtime: (\d+(?:\.\d*)?)ms")
_DASHES = re.compile(r"-{10,}")
_LAYER_ID = re.compile(r"(.*)_(\d+)")

_Fail = Callable[[int, str], ModelError]  # (0-based line index, what was expected) -> error

_TIU_FORMAT = "LAYER|TYPE|s:START|b:BD|g:GDMA|e:END|t:CYCLES"
_GDMA_FORMAT = _TIU_FORMAT + "|dr:DIR|sz:BYTES|bw:GBPS"


@dataclass(frozen=True)
class VendorCommand:
    """One command as the vendor's cost model scheduled it (times in cycles, 1 cycle = 1 ns)."""

    engine: str  # "TIU" or "GDMA" (tpusim's Engine values)
    layer: str  # "Load_14", "Cast_16", "LAYER_5"
    kind: str  # "AR", "MM2", "CONV", "GDMA_TENSOR", ...
    start: int
    end: int  # last busy cycle, inclusive
    cycles: int
    bd_id: int
    gdma_id: int
    direction: str | None  # GDMA only: one of DIRECTIONS
    nbytes: int | None  # GDMA only
    bandwidth_gbps: float | None  # GDMA only
    line: int

    @property
    def cmd_id(self) -> int:
        """The command's id on its own engine."""
        return self.bd_id if self.engine == "TIU" else self.gdma_id

    @property
    def dep(self) -> int:
        """The id of the command on the other engine it waits for (0: none)."""
        return self.gdma_id if self.engine == "TIU" else self.bd_id

    @property
    def layer_type(self) -> str:
        """ "Load" for "Load_14"."""
        match = _LAYER_ID.fullmatch(self.layer)
        return match[1] if match else self.layer

    @property
    def layer_id(self) -> int | None:
        """14 for "Load_14" (tpu-mlir numbers layers in the order of the MLIR text)."""
        match = _LAYER_ID.fullmatch(self.layer)
        return int(match[2]) if match else None


@dataclass(frozen=True)
class VendorProfile:
    source: str
    commands: tuple[VendorCommand, ...]  # file order (rows top to bottom, TIU cell first)
    total_cycles: int
    gdma_bytes: dict[str, int]  # the GDMA SUMMARY: bytes by direction (keys: DIRECTIONS)
    flops: int | None
    runtime_ms: float | None

    @property
    def tiu(self) -> tuple[VendorCommand, ...]:
        return tuple(c for c in self.commands if c.engine == "TIU")

    @property
    def gdma(self) -> tuple[VendorCommand, ...]:
        return tuple(c for c in self.commands if c.engine == "GDMA")

    def by_layer(self) -> dict[str, list[VendorCommand]]:
        """Commands grouped by layer name, layers in order of first appearance."""
        layers: dict[str, list[VendorCommand]] = {}
        for command in self.commands:
            layers.setdefault(command.layer, []).append(command)
        return layers


def read_vendor_profile(path: str | Path) -> VendorProfile:
    """Read a `compiler_profile_0.txt` or `net_stat.sim` file (gzipped or not)."""
    return parse_vendor_profile(read_text(path, "profile"), str(path))


def parse_vendor_profile(text: str, source: str = "<text>") -> VendorProfile:
    """Parse the text of a vendor profile. `source` names it in error messages."""
    lines = text.splitlines()

    def fail(index: int, what: str) -> ModelError:
        found = repr(lines[index].strip()[:60]) if index < len(lines) else "the end of the file"
        return ModelError(f"{source}:{index + 1}: expected {what}, found {found}")

    header = next((i for i, line in enumerate(lines) if line.startswith("ENGINE_BD")), None)
    if header is None:
        raise fail(len(lines), "the 'ENGINE_BD ... ENGINE_GDMA' header line")
    commands: list[VendorCommand] = []
    index = header + 1
    while index < len(lines) and not _DASHES.fullmatch(lines[index].strip()):
        line = lines[index]
        cells = line.split()
        has_tiu = bool(line) and not line[0].isspace()
        if len(cells) > 1 + has_tiu:
            raise fail(index, "at most one TIU and one GDMA command per line")
        for position, cell in enumerate(cells):
            engine = "TIU" if has_tiu and position == 0 else "GDMA"
            commands.append(_command(cell, engine, index, fail))
        index += 1
    totals = _totals(lines, index + 1, fail)
    for engine, last in (("TIU", totals.last_bd), ("GDMA", totals.last_gdma)):
        count = sum(1 for c in commands if c.engine == engine)
        if count != last:
            raise ModelError(f"{source}:{totals.api_end_line}: expected {last} {engine} "
                             f"commands as API_END says, found {count}")
    return VendorProfile(source, tuple(commands), totals.total_cycles, totals.gdma_bytes,
                         totals.flops, totals.runtime_ms)


def _command(cell: str, engine: str, index: int, fail: _Fail) -> VendorCommand:
    pattern, form = (_TIU_CELL, _TIU_FORMAT) if engine == "TIU" else (_GDMA_CELL, _GDMA_FORMAT)
    match = pattern.fullmatch(cell)
    if match is None:
        raise fail(index, f"a {engine} command '{form}'")
    layer, kind = match[1], match[2]
    start, bd_id, gdma_id, end, cycles = map(int, match.group(3, 4, 5, 6, 7))
    direction = nbytes = bandwidth = None
    if engine == "GDMA":
        code = int(match[8])
        if code >= len(DIRECTIONS):
            raise fail(index, f"a GDMA direction 0..{len(DIRECTIONS) - 1}")
        direction, nbytes, bandwidth = DIRECTIONS[code], int(match[9]), float(match[10])
    if end - start + 1 != cycles or cycles < 0:
        raise fail(index, f"t = e - s + 1 in '{cell}'")
    return VendorCommand(engine, layer, kind, start, end, cycles, bd_id, gdma_id, direction,
                         nbytes, bandwidth, index + 1)


class _Totals(NamedTuple):
    api_end_line: int
    total_cycles: int
    last_bd: int
    last_gdma: int
    gdma_bytes: dict[str, int]
    flops: int | None
    runtime_ms: float | None


def _totals(lines: list[str], index: int, fail: _Fail) -> _Totals:
    """API_END, the GDMA SUMMARY and the closing '#' line, then the optional runtime line."""
    if index > len(lines):
        raise fail(len(lines), "a dashed line closing the command list")
    api_end = _API_END.fullmatch(lines[index].strip()) if index < len(lines) else None
    if api_end is None:
        raise fail(index, "'API_END total_cycle:N|b:N|g:N'")
    summary_at = next((i for i in range(index + 1, len(lines))
                       if lines[i].startswith("GDMA SUMMARY")), len(lines))
    summary = _SUMMARY.fullmatch(lines[summary_at].strip()) if summary_at < len(lines) else None
    if summary is None:
        raise fail(summary_at, "'GDMA SUMMARY : |dr[0] S2L:N|dr[1] L2S:N|dr[2] S2S:N|dr[3] L2L:N'")
    closing = next((i for i in range(summary_at + 1, len(lines))
                    if lines[i].startswith("#")), None)
    if closing is None:
        raise fail(len(lines), "a line of '#' closing the totals")
    flops = runtime_ms = None
    for i in range(closing + 1, len(lines)):
        if lines[i].strip():
            runtime = _RUNTIME.match(lines[i].strip())
            if runtime is None:
                raise fail(i, "'flops: N, runtime: Xms, ...' or nothing")
            flops, runtime_ms = int(runtime[1]), float(runtime[2])
    gdma_bytes = {name: int(summary[i + 1]) for i, name in enumerate(DIRECTIONS)}
    return _Totals(index + 1, int(api_end[1]), int(api_end[2]), int(api_end[3]), gdma_bytes, flops,
                   runtime_ms)
