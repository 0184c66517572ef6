"""Lowering: groups and global layers to TIU and GDMA command queues."""

from tpusim.lower.commands import Command, Engine, Layer, Program
from tpusim.lower.program import lower

__all__ = ["Command", "Engine", "Layer", "Program", "lower"]
