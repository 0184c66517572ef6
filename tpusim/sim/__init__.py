"""Discrete-event simulation of the engines (simpy)."""

from tpusim.sim.engine import Record, Simulation, simulate_records

__all__ = ["Record", "Simulation", "simulate_records"]
