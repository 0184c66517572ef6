"""Lowering: groups and global layers to TIU and GDMA command queues (`lower.program.lower`)."""

from tpusim.lower.commands import Command, Engine, Layer, Program

__all__ = ["Command", "Engine", "Layer", "Program"]
