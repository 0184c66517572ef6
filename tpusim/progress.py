"""Progress of long work, for whoever is watching: library code says what it is doing with
`report(message)`; nothing is shown unless a caller (the command line, on a terminal) installs
a reporter with `reporting(...)`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Reporter = Callable[[str], None]
_reporter: ContextVar[Reporter | None] = ContextVar("tpusim_progress", default=None)


def report(message: str) -> None:
    """Say what is being done now (a short phrase: "compiling swin-t f16: layer groups")."""
    reporter = _reporter.get()
    if reporter is not None:
        reporter(message)


@contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Send `report` messages to `reporter` within the block."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


__all__ = ["Reporter", "report", "reporting"]
