"""Reading the TOML and JSON files tpusim takes (chip profiles, benchmark suites, baselines):
every way a file can fail to parse - missing, not UTF-8, not valid, nested thousands deep - is
one error of the caller's type naming the file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tpusim.errors import ModelError, TpusimError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_toml(path: Path, what: str, error: type[TpusimError] = ModelError) -> dict[str, Any]:
    """The file's table; `what` names the kind of file in errors ("benchmark suite")."""
    return _read(path, what, error, "TOML", tomllib.loads, tomllib.TOMLDecodeError)


def read_json(path: Path, what: str, error: type[TpusimError] = ModelError) -> Any:
    return _read(path, what, error, "JSON", json.loads, ValueError)


def _read(path: Path, what: str, error: type[TpusimError], fmt: str, loads: Any,
          invalid: type[Exception]) -> Any:
    try:
        return loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise error(f"cannot read {what} {path}: {reason}") from None
    except invalid as exc:
        raise error(f"{what} {path} is not valid {fmt}: {exc}") from None
    except RecursionError:  # arrays or tables nested thousands deep
        raise error(f"{what} {path}: values nested too deeply") from None
