"""tpusim: a cycle-approximate simulator and profiler of the Sophgo BM1684X TPU."""

__version__ = "0.1.0"
