"""Discrete-event simulation of the engines (simpy)."""

from tpusim.sim.engine import Record, Simulation

__all__ = ["Record", "Simulation"]
