"""Sweep parameters: what each point of a what-if study changes, checked before any work runs.

A parameter is any chip-profile field, by name (`ddr_gbps`, `tiu_mhz`, `lmem_bytes_per_npu`, ...),
or one of the compiler settings `precision`, `opt` and `batch`.

Which settings the compiler sees. The compiler reads the chip twice: its structure (lanes, EU
width, local memory and its banks, the cube) decides how operators are tiled and which fit a
layer group, and its timing fields price the candidate groups. The contract:

- structural fields (`STRUCTURAL_FIELDS`) and the compiler settings always give a new program:
  the program itself changes with them;
- timing fields (clocks, DDR bandwidth and efficiencies, start-up latencies, ...) do not: a
  program is compiled once with the base chip (plus the point's structural changes) - the
  compiler's view of the chip - and simulated on every variant. This answers "what if the chip
  running this program had twice the DDR bandwidth?";
- `recompile=True` compiles every point for its own chip, so the group search also re-prices its
  choices with the variant's timing.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tpusim.errors import TpusimError
from tpusim.hw.chip import Chip, field_names
from tpusim.limits import MAX_SWEEP_POINTS
from tpusim.options import Options, parse_options
from tpusim.passes.precision import parse_precision

# Fields that change the program: tiling and grouping depend on them (lanes, EU width, LMEM and
# its banks, the cube's shape and MAC rates, the flat kernels' tile unit).
STRUCTURAL_FIELDS: frozenset[str] = frozenset({
    "npu_count", "eu_bytes", "lmem_bytes_per_npu", "lmem_banks",
    "cube_int8_macs_per_cycle", "cube_f16_macs_per_cycle", "cube_bf16_macs_per_cycle",
    "cube_f32_macs_per_cycle", "cube_int8_columns", "cube_f16_columns", "cube_bf16_columns",
    "cube_f32_columns", "flat_tile_unit_elems",
})

# Compiler settings that may be swept beside chip fields.
COMPILER_SETTINGS: tuple[str, ...] = ("precision", "opt", "batch")


class SweepError(TpusimError):
    """A sweep asks for something impossible: an unknown parameter, a bad value."""


def parameter_names() -> list[str]:
    """Everything a sweep can vary: the chip's fields, then the compiler settings."""
    return [*field_names(), *COMPILER_SETTINGS]


def check_name(name: str) -> str:
    if name == "cores":  # a batch shared between cores is several programs, not one
        raise SweepError("cores is not swept: run a profile with cores = N (tpusim run MODEL "
                         "--chip bm1684x-2core) for each count")
    if name in parameter_names():
        return name
    close = difflib.get_close_matches(name, parameter_names(), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else " (see `tpusim chips --show bm1684x`)"
    raise SweepError(f"unknown sweep parameter {name!r}: expected a chip field or one of "
                     f"{', '.join(COMPILER_SETTINGS)}{hint}")


def coerce(name: str, value: Any, base: Chip) -> Any:
    """One value of a parameter, typed and checked (a chip field through `Chip.replace`)."""
    if name == "precision":
        return parse_precision(str(value))
    if name == "opt":
        text = str(value).strip()
        parse_options(opt_spec(text))  # checked now, parsed again where it is compiled
        return text
    if name == "batch":
        number = _number(name, value)
        if number != int(number) or number < 1:
            raise SweepError(f"batch must be a whole number >= 1, got {value!r}")
        return int(number)
    kind = type(getattr(base, name))
    if kind is str:
        value = str(value)
    else:
        value = _number(name, value)
        if kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
    return getattr(base.replace(**{name: value}), name)  # raises ChipProfileError, one line


def opt_spec(text: str) -> str:
    """An `opt` value as `parse_options` reads it: names joined with '+' in a sweep (the comma
    already separates values), with ',' elsewhere."""
    return text.replace("+", ",")


def _number(name: str, value: Any) -> float | int:
    if isinstance(value, bool):
        raise SweepError(f"{name}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return value
    try:
        return int(str(value))
    except ValueError:
        pass
    try:
        return float(str(value))
    except ValueError:
        raise SweepError(f"{name}: expected a number, got {value!r}") from None


def parse_set(text: str, base: Chip) -> tuple[str, list[Any]]:
    """`FIELD=v1,v2,...` or `FIELD=lo:hi:n` (n values evenly spaced, ends included)."""
    name, sep, values = text.partition("=")
    name = check_name(name.strip())
    if not sep or not values.strip():
        raise SweepError(f"--set {text!r}: expected FIELD=v1,v2,... or FIELD=lo:hi:n")
    if values.count(":") == 2 and "," not in values:
        raw: list[Any] = _linspace(name, values)
    else:
        raw = [v.strip() for v in values.split(",")]
    return name, check_values(name, raw, base)


def _linspace(name: str, text: str) -> list[float]:
    lo, hi, n = (part.strip() for part in text.split(":"))
    count = _number(name, n)
    if count != int(count) or count < 2:
        raise SweepError(f"{name}={text}: the count after the second ':' must be >= 2")
    if count > MAX_SWEEP_POINTS:
        raise SweepError(f"{name}={text}: more than {MAX_SWEEP_POINTS:,} values")
    a, b = float(_number(name, lo)), float(_number(name, hi))
    return [round(a + (b - a) * i / (int(count) - 1), 9) for i in range(int(count))]


def check_values(name: str, values: Sequence[Any], base: Chip) -> list[Any]:
    if isinstance(values, (str, bytes)) or not values:
        raise SweepError(f"{name}: expected a non-empty list of values")
    if len(values) > MAX_SWEEP_POINTS:
        raise SweepError(f"{name}: more than {MAX_SWEEP_POINTS:,} values")
    typed = [coerce(name, v, base) for v in values]
    seen: set[Any] = set()
    for v in typed:
        if v in seen:
            raise SweepError(f"{name}: the value {v!r} appears twice")
        seen.add(v)
    return typed


@dataclass(frozen=True)
class Setting:
    """The fixed compiler settings of a study, overridden per point by swept ones."""

    precision: str = "f16"
    opt: str = "after"
    batch: int | None = None  # None: the model's own (1 for built-in models)


@dataclass(frozen=True)
class Point:
    """One point of a study: every parameter's value, and what it means for the compiler."""

    index: int
    values: tuple[tuple[str, Any], ...]  # parameter -> value, every parameter of the study
    chip_changes: tuple[tuple[str, Any], ...]  # chip fields that differ from the base chip
    precision: str
    options: Options
    batch: int | None

    def compile_changes(self, recompile: bool) -> tuple[tuple[str, Any], ...]:
        """The chip changes the compiler sees (see the module's docstring)."""
        if recompile:
            return self.chip_changes
        return tuple((k, v) for k, v in self.chip_changes if k in STRUCTURAL_FIELDS)

    def compile_key(self, recompile: bool) -> tuple:
        return (self.precision, self.options, self.batch, self.compile_changes(recompile))


def make_points(settings: Sequence[Mapping[str, Any]], params: Sequence[str], base: Chip,
                fixed: Setting) -> list[Point]:
    """Points from already-checked per-point values; every combination is checked as a chip
    (some fields constrain each other, e.g. LMEM size and banks)."""
    points = []
    for index, setting in enumerate(settings):
        changes = {k: v for k, v in setting.items() if k not in COMPILER_SETTINGS}
        chip = base.replace(**changes)
        precision = setting.get("precision", fixed.precision)
        opt = setting.get("opt", fixed.opt)
        batch = setting.get("batch", fixed.batch)
        values = {**{k: getattr(chip, k) for k in params if k not in COMPILER_SETTINGS},
                  "precision": precision, "opt": opt, "batch": batch}
        points.append(Point(index, tuple((k, values[k]) for k in params),
                            tuple(sorted((k, v) for k, v in changes.items()
                                         if v != getattr(base, k))),
                            parse_precision(precision), parse_options(opt_spec(opt)), batch))
    return points
