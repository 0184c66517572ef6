"""Graph passes: named pure functions Graph -> Graph."""

from tpusim.passes.precision import PRECISIONS, assign_precision, parse_precision

__all__ = ["PRECISIONS", "assign_precision", "parse_precision"]
