"""The compile cache: programs tpusim compiled, kept on disk for the next run.

As tpu-mlir keeps its layer groups, tpusim keeps whole programs, each under a key made of what
the compile depends on: the graph (its ops, attributes, tensors), the precision, the io, the
options, the command bound, the chip fields the compiler reads (every field but the name, the
description and the [chip_timing] ones, which the compiler never sees) and tpusim's own code
(its version and a digest of its sources, so an edited tpusim never reads an old program).

Where: $TPUSIM_CACHE_DIR, else $XDG_CACHE_HOME/tpusim, else ~/.cache/tpusim. Off: the
environment variable TPUSIM_NO_CACHE=1 (what `--no-cache` sets), or `compile(..., cache=False)`.
Entries are written whole (a temporary file renamed into place), so processes writing at once
leave one good entry; an entry that cannot be read is reported in one line, removed and rebuilt.
The cache stays under MAX_BYTES, the oldest entries leaving first; `tpusim cache info|clear`.
Entries are Python pickles: the cache directory must be the user's own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
from dataclasses import dataclass
from functools import cache as once
from pathlib import Path

from tpusim.errors import OutputError
from tpusim.hw.chip import Chip, timing_fields
from tpusim.ir.graph import Graph
from tpusim.lower.commands import Program
from tpusim.options import Options
from tpusim.outputs import write_atomic

MAX_BYTES = 2 << 30  # the cache keeps itself under 2 GiB
_SUFFIX = ".program"
_NOT_COMPILER = {"name", "description", *timing_fields()}  # chip fields the compiler never reads


def directory() -> Path:
    """Where the cache lives."""
    if os.environ.get("TPUSIM_CACHE_DIR"):
        return Path(os.environ["TPUSIM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tpusim"


def enabled() -> bool:
    return os.environ.get("TPUSIM_NO_CACHE", "").strip().lower() in ("", "0", "false", "no")


@once
def code_digest() -> str:
    """tpusim's version and a digest of its sources."""
    from tpusim import __version__

    root = Path(__file__).resolve().parent
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def graph_text(graph: Graph) -> str:
    """Every op and tensor of a graph, in a canonical text."""
    parts = [graph.name, repr(graph.inputs), repr(graph.outputs)]
    for name in sorted(graph.tensors):
        t = graph.tensors[name]
        parts.append(f"{name}:{t.shape}:{t.dtype.value}:{t.kind.value}")
    for op in graph.ops:
        attrs = sorted((k, repr(v)) for k, v in op.attrs.items())
        parts.append(f"{op.kind.value}:{op.name}:{op.inputs}:{op.outputs}:{attrs}")
    return "\n".join(parts)


def key(graph: Graph, chip: Chip, precision: str, options: Options, io: str,
        max_commands: int) -> str:
    chip_fields = sorted((k, repr(v)) for k, v in chip.to_dict().items()
                         if k not in _NOT_COMPILER)
    text = "\n".join([code_digest(), precision, io, repr(options), str(max_commands),
                      repr(chip_fields), graph_text(graph)])
    return hashlib.sha256(text.encode()).hexdigest()


def cached_compile(graph: Graph, chip: Chip, precision: str, options: Options, io: str,
                   max_commands: int, use: bool | None = None) -> Program:
    """The program for these arguments: from the cache where it holds one, else compiled (and
    kept)."""
    from tpusim.compiler import compile_graph

    if not (enabled() if use is None else use):
        return compile_graph(graph, chip, precision, options, io, max_commands)
    path = directory() / f"{key(graph, chip, precision, options, io, max_commands)}{_SUFFIX}"
    program = _read(path)
    if program is None:
        program = compile_graph(graph, chip, precision, options, io, max_commands)
        _write(path, program)
    return program


def _read(path: Path) -> Program | None:
    try:
        with path.open("rb") as f:
            program = pickle.load(f)
        if not isinstance(program, Program):
            raise TypeError(f"holds a {type(program).__name__}, not a program")
        os.utime(path)  # recently used: the last to leave
        return program
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        _warn(f"cannot read the compile cache in {path.parent} ({exc.strerror or exc})")
        return None
    except Exception as exc:  # a damaged or foreign file: say so, drop it, compile again
        _warn(f"ignoring the damaged compile cache entry {path.name} ({type(exc).__name__}: "
              f"{exc}); compiling again")
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        return None


def _write(path: Path, program: Program) -> None:
    data = pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        write_atomic(path, lambda tmp: tmp.write_bytes(data))  # whole, or not at all
        _trim(path.parent)
    except (OutputError, OSError) as exc:  # a read-only or full disk: run on without it
        _warn(f"cannot write the compile cache in {path.parent} ({exc})")


_warned: set[str] = set()


def _warn(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        sys.stderr.write(f"tpusim: warning: {message}\n")


@dataclass(frozen=True)
class Info:
    directory: Path
    enabled: bool
    entries: int
    bytes: int


def _entries(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.suffix == _SUFFIX and p.is_file()]
    except OSError:
        return []


def _trim(folder: Path) -> None:
    """Remove the least recently used entries while the cache holds more than MAX_BYTES."""
    entries = [(p.stat().st_mtime, p.stat().st_size, p) for p in _entries(folder)]
    total = sum(size for _, size, _ in entries)
    for _, size, p in sorted(entries):
        if total <= MAX_BYTES:
            break
        p.unlink(missing_ok=True)
        total -= size


def info() -> Info:
    entries = _entries(directory())
    return Info(directory(), enabled(), len(entries), sum(p.stat().st_size for p in entries))


def clear() -> int:
    """Remove every entry; how many there were."""
    entries = _entries(directory())
    for p in entries:
        p.unlink(missing_ok=True)
    return len(entries)


__all__ = ["MAX_BYTES", "Info", "cached_compile", "clear", "directory", "enabled", "info",
           "key"]
