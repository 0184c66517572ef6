"""Writing outputs whole or not at all: files go to a temporary name and are renamed."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tpusim.errors import OutputError


def dumps_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, two-space indent, a final newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


@contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """Yield a scratch directory; on success its files replace those in `target` one by one
    (each rename is atomic). On failure nothing in `target` changes."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"cannot write to {target}: {exc.strerror or exc}") from None
    try:
        yield scratch
        target.mkdir(exist_ok=True)
        for item in sorted(scratch.rglob("*")):
            if item.is_file():
                dest = target / item.relative_to(scratch)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(item, dest)
    except OSError as exc:
        raise OutputError(f"cannot write to {target}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` then rename tmp to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
