"""Writing outputs whole or not at all: files go to a temporary name and are renamed.

Every file tpusim writes goes through `staged_directory` (a run's set of files) or
`write_atomic` (one file), so an interrupted or failed run leaves each file as it was or
complete, never half written; a run that fails before writing leaves nothing behind, not even
the directories `--out` named. `check_writable` lets the command line refuse an output
directory it could never write before it spends minutes simulating.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tpusim.errors import OutputError


def csv_text(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    """Rows of dicts as CSV text, a header of `columns` first."""
    out = io.StringIO()
    writer = csv.DictWriter(out, list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def dumps_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, two-space indent, a final newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _cannot(target: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write to {target}: {exc.strerror or exc}")


def _existing_ancestor(path: Path) -> Path:
    """The nearest directory above `path` that exists (scratch space goes there, so a failed
    run creates no directory the user named)."""
    path = path.absolute()
    return next(parent for parent in path.parents if parent.exists())  # the root exists


def check_writable(path: str | Path, is_file: bool = False) -> None:
    """An OutputError if the directory `path` (or with `is_file`, the file `path`) could not be
    created or written; checked before a run spends minutes on what it would write there."""
    target = Path(path)
    if target.exists() and not (target.is_file() if is_file else target.is_dir()):
        kind = "not a regular file" if is_file else "not a directory"
        raise OutputError(f"cannot write to {target}: it is {kind}")
    base = target if target.is_dir() else _existing_ancestor(target)
    if not base.is_dir():
        raise OutputError(f"cannot write to {target}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {target}: permission denied in {base}")
    try:  # os.access says yes to root everywhere, even on a read-only or virtual file system
        with tempfile.NamedTemporaryFile(dir=base, prefix=".tpusim-check."):
            pass
    except OSError as exc:
        raise _cannot(target, exc) from None


@contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """Yield a scratch directory; on success its files replace those in `target` one by one
    (each rename is atomic). On failure nothing in `target` changes."""
    target = Path(target)
    try:
        if target.exists() and not target.is_dir():
            raise NotADirectoryError(20, "it is not a directory")
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.",
                                        dir=_existing_ancestor(target)))
    except OSError as exc:
        raise _cannot(target, exc) from None
    try:
        yield scratch
        target.mkdir(parents=True, exist_ok=True)
        for item in sorted(scratch.rglob("*")):
            if item.is_file():
                dest = target / item.relative_to(scratch)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(item, dest)
    except OSError as exc:
        raise _cannot(target, exc) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _new_file_mode() -> int:
    """The mode `open()` would give a new file: mkstemp's files are private (0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` with a temporary path next to `path`, then rename it to `path`; on
    any failure `path` is left as it was and the temporary file removed."""
    path = Path(path)
    tmp = None
    try:
        if path.exists() and not path.is_file():  # a directory, a device: never replaced
            raise IsADirectoryError(21, "it is not a regular file")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        write(Path(tmp))
        os.chmod(tmp, _new_file_mode())
        os.replace(tmp, path)
    except OSError as exc:
        raise _cannot(path, exc) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def save_figure(fig: Any, path: str | Path | Sequence[str | Path], **options: Any) -> None:
    """`fig.savefig` through `write_atomic` to each path, in the format its suffix names,
    without timestamps (the same figure gives the same bytes). One figure drawn once can go
    to a PNG and an SVG."""
    for one in [path] if isinstance(path, (str, Path)) else path:
        one = Path(one)
        meta = {"Software": None} if one.suffix.lower() == ".png" else {"Date": None}
        write_atomic(one, lambda tmp, one=one, meta=meta: fig.savefig(
            tmp, format=one.suffix.lstrip(".").lower() or None, metadata=meta, **options))
