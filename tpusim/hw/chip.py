"""`Chip`: every number tpusim uses about a chip, loaded and checked from a TOML profile.

A profile names each field with its unit (`ddr_gbps`, `lmem_bytes_per_npu`, ...). A profile may
say `inherits = "other"` and override only what differs. Values are checked on load; the error
names the file and the field.

The fields describe the chip as tpu-mlir's cost model sees it (the `vendor` timing), except the
`[chip_timing]` section: the `chip_*` fields, each written `{ value = v, min = a, max = b }`,
are the physical parameters of the `chip` timing model (how the chip departs from the vendor's
model), with the bounds a fit keeps them in.
"""

from __future__ import annotations

import dataclasses
import math
import re
import textwrap
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tpusim.errors import ChipProfileError
from tpusim.inputs import read_toml
from tpusim.ir.dtypes import DType
from tpusim.outputs import write_atomic


@dataclass(frozen=True)
class Chip:
    """A chip profile. Field names carry their units; see profiles/bm1684x.toml for sources."""

    name: str
    description: str
    npu_count: int
    eu_bytes: int
    lmem_bytes_per_npu: int
    lmem_banks: int
    ddr_tensor_align_bytes: int
    tiu_mhz: float
    cube_int8_macs_per_cycle: int
    cube_f16_macs_per_cycle: int
    cube_bf16_macs_per_cycle: int
    cube_f32_macs_per_cycle: int
    cube_int8_columns: int
    cube_f16_columns: int
    cube_bf16_columns: int
    cube_f32_columns: int
    sfu_exp_f32_passes: float
    sfu_exp_f16_passes: float
    sfu_rsqrt_passes: float
    ar_divide_passes: float
    pool_max_passes: float
    flat_tile_unit_elems: int
    lut_elems_per_cycle_per_npu: float
    tiu_startup_cycles: float
    gdma_mhz: float
    ddr_gbps: float
    ddr_read_efficiency: float
    ddr_write_efficiency: float
    gdma_tensor_efficiency: float
    ddr_copy_efficiency: float
    ddr_min_access_bytes: int
    ddr_short_row_bytes: int
    ddr_store_merge_bytes: int
    gdma_accesses_in_flight: int
    gdma_bytes_per_cycle: float
    gdma_startup_cycles: float
    sync_latency_cycles: float
    cores: int  # TPU cores, each with its own TIU and GDMA, sharing one DDR
    host_gbps: float  # the host link a stream's inputs and outputs cross (PCIe)
    # The chip timing model ([chip_timing]; cost/timing.py says how each applies).
    chip_conv_kernel_efficiency: float
    chip_short_row_cost: float
    chip_contention: float
    chip_lmem_bank_conflict: float
    chip_ddr_turnaround_ns: float
    # (field, min, max) of every chip_* field, as its profile states them
    chip_bounds: tuple[tuple[str, float, float], ...] = field(default=(), compare=False,
                                                              repr=False)

    def __post_init__(self) -> None:
        problem = _check(self)
        if problem:
            raise ChipProfileError(f"chip profile {self.name!r}: {problem}")

    # Derived quantities: computed here so that no number about the chip lives elsewhere.
    def eu_num(self, dtype: DType) -> int:
        """Elements one lane processes per cycle (tpu-mlir Arch::eu_num)."""
        return max(1, self.eu_bytes // dtype.bytes)

    def _cube(self, dtype: DType, what: str) -> int:
        """The cube field `cube_<dtype>_<what>` for a dtype (uint8 as int8, others as f32)."""
        key = {DType.INT8: "int8", DType.UINT8: "int8", DType.F16: "f16", DType.BF16: "bf16"}
        return getattr(self, f"cube_{key.get(dtype, 'f32')}_{what}")

    def cube_columns(self, dtype: DType) -> int:
        """Output columns (conv pixels, matmul columns) one lane finishes per cube step."""
        return self._cube(dtype, "columns")

    def ic_num(self, dtype: DType) -> int:
        """Input channels the cube reduces per lane per step (tpu-mlir BM168x::ic_num)."""
        return max(1, self.cube_macs_per_cycle(dtype) // (self.npu_count
                                                          * self.cube_columns(dtype)))

    def cube_macs_per_cycle(self, dtype: DType) -> int:
        """Peak multiply-accumulates per TIU cycle for convolutions and matmuls."""
        return self._cube(dtype, "macs_per_cycle")

    @property
    def lmem_bytes(self) -> int:
        return self.lmem_bytes_per_npu * self.npu_count

    @property
    def lmem_bank_bytes(self) -> int:
        return self.lmem_bytes_per_npu // self.lmem_banks

    @property
    def ddr_bytes_per_ns(self) -> float:
        return self.ddr_gbps  # 1 GB/s is 1 byte per ns

    def peak_tops(self, dtype: DType) -> float:
        """Peak dense compute in tera-operations per second (2 ops per MAC)."""
        return 2 * self.cube_macs_per_cycle(dtype) * self.tiu_mhz * 1e6 / 1e12

    def replace(self, **changes: Any) -> Chip:
        """A copy with some fields changed, checked like a loaded profile."""
        unknown = sorted(set(changes) - set(field_names()))
        if unknown:
            raise ChipProfileError(f"unknown chip field {unknown[0]!r}")
        values = {k: _coerce(self.name, k, v) for k, v in changes.items()}
        return dataclasses.replace(self, **values)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values.pop("chip_bounds")
        return values

    def bounds(self, name: str) -> tuple[float, float]:
        """The (min, max) a chip timing field's profile allows."""
        return next((lo, hi) for n, lo, hi in self.chip_bounds if n == name)


def field_names() -> list[str]:
    """Every number of a profile, in declaration order."""
    return [f.name for f in dataclasses.fields(Chip) if f.name != "chip_bounds"]


def at_most(name: str) -> float | None:
    """The largest value a field may take, where the field is a fraction (else None)."""
    return 1.0 if name in _FRACTIONS or name in _SHARES else None


def timing_fields() -> list[str]:
    """The chip timing model's fields (the [chip_timing] section)."""
    return [n for n in field_names() if n.startswith("chip_")]


_INT_FIELDS = {f.name for f in dataclasses.fields(Chip) if f.type == "int"}
_STR_FIELDS = {f.name for f in dataclasses.fields(Chip) if f.type == "str"}
_FRACTIONS = {"ddr_read_efficiency", "ddr_write_efficiency", "gdma_tensor_efficiency",
              "ddr_copy_efficiency", "chip_conv_kernel_efficiency"}
_SHARES = {"chip_short_row_cost", "chip_contention", "chip_lmem_bank_conflict"}  # may be 0
_MAY_BE_ZERO = {"tiu_startup_cycles", "gdma_startup_cycles", "sync_latency_cycles",
                "chip_ddr_turnaround_ns", *_SHARES}
# Beyond these a value describes no chip, and simulated times would lose all precision (or
# overflow): clocks of 1e-300 MHz, bandwidths of 1e300 GB/s.
_SMALLEST, _LARGEST = 1e-6, 1e15


def _check(chip: Chip) -> str | None:
    """The first impossible value of a chip, described, or None."""
    for name in field_names():
        value = getattr(chip, name)
        if name in _STR_FIELDS:
            continue
        if not math.isfinite(value):
            return f"field {name!r} must be a finite number, got {value!r}"
        if name in _FRACTIONS and not 0 < value <= 1:
            return f"field {name!r} must be in (0, 1], got {value!r}"
        if name in _SHARES and not 0 <= value <= 1:
            return f"field {name!r} must be in [0, 1], got {value!r}"
        if name in _MAY_BE_ZERO and value < 0:
            return f"field {name!r} must be >= 0, got {value!r}"
        if name not in _MAY_BE_ZERO and value <= 0:
            return f"field {name!r} must be > 0, got {value!r}"
        if value > _LARGEST or (name not in _MAY_BE_ZERO and value < _SMALLEST):
            low = 0 if name in _MAY_BE_ZERO else _SMALLEST
            return f"field {name!r} must be between {low:g} and {_LARGEST:g}, got {value!r}"
    for name, low, high in chip.chip_bounds:
        if not low <= getattr(chip, name) <= high:
            return f"field {name!r} must be within its bounds [{low:g}, {high:g}], got " \
                   f"{getattr(chip, name)!r}"
    if chip.lmem_bytes_per_npu % chip.lmem_banks:
        return "lmem_bytes_per_npu must be a multiple of lmem_banks"
    if chip.eu_bytes < 4:
        return "eu_bytes must hold at least one f32 element (>= 4)"
    return None


def _coerce(source: str, name: str, value: Any) -> Any:
    """Check one raw value's type; ints are accepted for float fields."""
    if name in _STR_FIELDS:
        if not isinstance(value, str):
            raise ChipProfileError(f"{source}: field {name!r} must be a string")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ChipProfileError(f"{source}: field {name!r} must be a number, got {value!r}")
    if isinstance(value, int) and abs(value) > _LARGEST:  # before float() can overflow
        low = 0 if name in _MAY_BE_ZERO else _SMALLEST
        shown = f"{value}" if abs(value) < 10**18 else f"a number of {len(str(abs(value)))} digits"
        raise ChipProfileError(f"{source}: field {name!r} must be between {low:g} and "
                               f"{_LARGEST:g}, got {shown}")
    if name in _INT_FIELDS:
        if isinstance(value, float):
            if not value.is_integer():
                raise ChipProfileError(f"{source}: field {name!r} must be an integer, got {value}")
            value = int(value)
        return value
    return float(value)


def _builtin_dir() -> Path:
    """profiles/ of a source checkout, else the copy a wheel installs as tpusim/profiles."""
    checkout = Path(__file__).resolve().parents[2] / "profiles"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("tpusim") / "profiles"))


def list_chips() -> list[str]:
    """Names of the built-in chip profiles."""
    return sorted(p.stem for p in _builtin_dir().glob("*.toml"))


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text)
        if not path.is_file():
            raise ChipProfileError(f"chip profile file not found: {text}")
        return path
    path = _builtin_dir() / f"{text}.toml"
    if not path.is_file():
        known = ", ".join(list_chips())
        raise ChipProfileError(f"unknown chip {text!r} (built-in chips: {known})")
    return path


def _read_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The profile's key/values with its ancestors' values filled in."""
    if path.resolve() in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise ChipProfileError(f"chip profile inheritance cycle: {chain}")
    raw = read_toml(path, "chip profile", ChipProfileError)
    timing = raw.pop(_TIMING, {})
    if not isinstance(timing, dict):
        raise ChipProfileError(f"{path}: [{_TIMING}] must be a table")
    parent = raw.pop("inherits", None)
    if parent is None:
        return {**raw, _TIMING: timing}
    if not isinstance(parent, str):
        raise ChipProfileError(f"{path}: 'inherits' must be a chip name or path")
    merged = _read_raw(_parent_profile(parent, path), (*seen, path.resolve()))
    merged.update(raw)
    merged[_TIMING] = {**merged[_TIMING], **timing}  # a variant overrides field by field
    return merged


_TIMING = "chip_timing"


def _timing_values(path: Path, table: dict[str, Any]) -> tuple[dict[str, Any], tuple]:
    """The [chip_timing] fields' values, and their (field, min, max) bounds."""
    values: dict[str, Any] = {}
    bounds = []
    for name, entry in table.items():
        if not isinstance(entry, dict) or set(entry) != {"value", "min", "max"}:
            raise ChipProfileError(f"{path}: [{_TIMING}] {name} must be written "
                                   "{ value = ..., min = ..., max = ... }")
        low, high = (_coerce(str(path), name, entry[k]) for k in ("min", "max"))
        if low > high:
            raise ChipProfileError(f"{path}: [{_TIMING}] {name}: min {low:g} is above max "
                                   f"{high:g}")
        values[name] = entry["value"]
        bounds.append((name, float(low), float(high)))
    return values, tuple(bounds)


def _parent_profile(parent: str, child: Path) -> Path:
    """A relative path is taken from the child's folder; a bare name is a sibling file of
    that name, else a built-in chip."""
    if parent.endswith(".toml") or "/" in parent or "\\" in parent:
        path = Path(parent)
        return _resolve(path if path.is_absolute() else child.parent / path)
    sibling = child.parent / f"{parent}.toml"
    return sibling if sibling.is_file() else _resolve(parent)


def load_chip(name_or_path: str | Path = "bm1684x") -> Chip:
    """Load a built-in chip by name (`"bm1684x"`) or a profile file by path, and check it."""
    path = _resolve(name_or_path)
    raw = _read_raw(path)
    timing = raw.pop(_TIMING)
    names = field_names()
    misplaced = sorted(n for n in raw if n.startswith("chip_"))
    if misplaced:
        raise ChipProfileError(f"{path}: {misplaced[0]!r} belongs in the [{_TIMING}] section")
    wrong = sorted(n for n in timing if not n.startswith("chip_"))
    if wrong:
        raise ChipProfileError(f"{path}: [{_TIMING}] holds only chip_* fields, not {wrong[0]!r}")
    timed, bounds = _timing_values(path, timing)
    raw.update(timed)
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ChipProfileError(f"{path}: unknown field {unknown[0]!r}")
    missing = [n for n in names if n not in raw]
    if missing:
        raise ChipProfileError(f"{path}: missing field {missing[0]!r}")
    values = {n: _coerce(str(path), n, raw[n]) for n in names}
    try:
        return Chip(**values, chip_bounds=bounds)
    except ChipProfileError as exc:
        raise ChipProfileError(f"{path}: {str(exc).split(': ', 1)[1]}") from None


def profile_path(name_or_path: str | Path) -> Path:
    """The file a chip name or profile path stands for."""
    return _resolve(name_or_path)


_FITTED, _MORE = "# Fitted by ", "#   "  # the note's first and following lines


def _number(value: float) -> str:
    """Six significant digits, always a TOML float."""
    text = f"{value:.6g}"
    return text if any(c in text for c in ".en") else text + ".0"


def write_chip_timing(path: Path, values: dict[str, float], note: str) -> None:
    """Set [chip_timing] values in the profile at `path`, keeping its comments and bounds,
    and put `note` (one comment line, replacing an earlier one) under the section's header.
    A profile without the section, or without one of the fields, gets it with the bounds the
    chip it describes has."""
    chip = load_chip(path)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ChipProfileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if f"[{_TIMING}]" not in (line.strip() for line in lines):
        lines += ["", f"[{_TIMING}]"]
    header = next(i for i, line in enumerate(lines) if line.strip() == f"[{_TIMING}]")
    end = next((i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")),
               len(lines))
    for name, value in values.items():
        entry = re.compile(rf"^(\s*{name}\s*=\s*\{{\s*value\s*=\s*)([^,}}]+)(.*)$")
        found = [i for i in range(header + 1, end) if entry.match(lines[i])]
        if found:
            m = entry.match(lines[found[0]])
            lines[found[0]] = f"{m[1]}{_number(value)}{m[3]}"
        else:
            low, high = chip.bounds(name)
            lines.insert(end, f"{name} = {{ value = {_number(value)}, min = {low:g}, "
                              f"max = {high:g} }}")
            end += 1
    if header + 1 < len(lines) and lines[header + 1].startswith(_FITTED):
        del lines[header + 1]
        while header + 1 < len(lines) and lines[header + 1].startswith(_MORE):
            del lines[header + 1]
    wrapped = textwrap.wrap(note, 96, initial_indent="# ", subsequent_indent=_MORE)
    lines[header + 1:header + 1] = wrapped
    text = "\n".join(lines) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    load_chip(path)  # still a valid profile
