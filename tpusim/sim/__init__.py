"""Discrete-event simulation of the engines (simpy)."""

from tpusim.sim.engine import Simulation
from tpusim.sim.timeline import Record

__all__ = ["Record", "Simulation"]
