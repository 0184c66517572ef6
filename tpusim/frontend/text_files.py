"""Reading a text input (a final.mlir, a vendor profile), gzipped or not, as one string.

Every way the bytes can be unreadable - a missing file, a damaged or truncated gzip stream,
text that is not UTF-8, more than MAX_TEXT_BYTES once decompressed (a small .gz can expand to
gigabytes) - is a ModelError naming the file.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from tpusim.errors import ModelError

MAX_TEXT_BYTES = 1 << 30  # Swin-T's final.mlir is 0.4 MB


def read_text(path: str | Path, what: str, limit: int | None = None) -> str:
    """The file's text; `what` names the kind of file in errors ("MLIR file", "profile");
    `limit` is MAX_TEXT_BYTES unless given."""
    path = Path(path)
    limit = MAX_TEXT_BYTES if limit is None else limit
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = _gunzip(raw, limit)
        if len(raw) > limit:
            raise ValueError(f"more than {limit:,} bytes")
        return raw.decode("utf-8")
    except (OSError, EOFError, ValueError, zlib.error) as exc:  # UnicodeDecodeError included
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise ModelError(f"{path}: cannot read this {what} ({reason})") from None


def _gunzip(raw: bytes, limit: int) -> bytes:
    """Every gzip member of `raw`, stopping once more than `limit` bytes came out."""
    out, left = bytearray(), raw
    while left:
        stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += stream.decompress(left, limit + 1 - len(out))
        if len(out) > limit:
            raise ValueError(f"more than {limit:,} bytes once decompressed")
        if not stream.eof:
            raise EOFError("the compressed stream ends early (a truncated file?)")
        left = stream.unused_data
    return bytes(out)
