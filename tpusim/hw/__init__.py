"""The chip: a frozen description loaded from profiles/<chip>.toml."""

from tpusim.hw.chip import Chip, list_chips, load_chip

__all__ = ["Chip", "list_chips", "load_chip"]
