"""User-facing errors. The command line prints one line for these and exits with code 2.

Anything else that escapes is an internal error (exit code 1).
"""

from __future__ import annotations


class TpusimError(Exception):
    """Base of every error caused by the user's input rather than by a bug in tpusim.

    Its message is one line: a name read from a damaged file may hold a newline or other
    control characters, which show escaped ("\\n", "\\x11")."""

    def __str__(self) -> str:
        text = super().__str__()
        if text.isprintable():
            return text
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ChipProfileError(TpusimError):
    """A chip profile is missing, malformed, or holds an impossible value."""


class ModelError(TpusimError):
    """A model name is unknown, or a model file cannot be read or makes no sense."""


class UnsupportedOperatorError(ModelError):
    """A model uses an operator tpusim cannot cost."""


class GraphError(TpusimError):
    """A graph breaks an IR rule (shapes, dtypes, dangling tensors)."""


class CompileError(TpusimError):
    """A graph cannot be compiled for the chip (bad option, does not fit memory)."""


class SimulationError(TpusimError):
    """A command stream cannot run to completion (a dependency that can never be met)."""


class OutputError(TpusimError):
    """An output cannot be written where the user asked."""
