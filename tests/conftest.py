import os
import tempfile

import pytest

from tpusim.hw.chip import Chip, load_chip

# The suite's compile cache: its own, shared by the tests and the notebooks' kernels (which
# inherit the environment), and never the user's.
os.environ.setdefault("TPUSIM_CACHE_DIR", tempfile.mkdtemp(prefix="tpusim-test-cache-"))


@pytest.fixture(scope="session")
def chip() -> Chip:
    return load_chip("bm1684x")


@pytest.fixture(scope="session")
def simple_chip(chip: Chip) -> Chip:
    """The BM1684X with round DMA numbers, so hand-worked timings stay short: loads at
    64 B/ns, stores at 32 B/ns, DDR-to-DDR copies at 64/3 B/ns, any addressing mode, 64-byte
    minimum access, one access per row, no start-up or sync costs, no bank conflicts or DDR
    turnarounds (the tests of those turn them on)."""
    return chip.replace(ddr_read_efficiency=1.0, ddr_write_efficiency=0.5,
                        chip_lmem_bank_conflict=0.0, chip_ddr_turnaround_ns=0.0,
                        gdma_tensor_efficiency=1.0, ddr_copy_efficiency=1 / 3,
                        ddr_min_access_bytes=64, gdma_accesses_in_flight=1,
                        gdma_startup_cycles=0, tiu_startup_cycles=0, sync_latency_cycles=0,
                        gdma_bytes_per_cycle=64)


@pytest.fixture(scope="session")
def swin_t(chip):
    """Simulated Swin-T runs, each compiled once per test session: swin_t(precision, opt,
    timing)."""
    from tpusim.api import compile, simulate
    from tpusim.frontend import build_model

    graph = build_model("swin-t")
    runs = {}

    programs = {}

    def get(precision: str = "f16", opt: str = "after", timing: str = "chip"):
        if (precision, opt) not in programs:
            programs[precision, opt] = compile(graph, chip, precision, opt)
        key = (precision, opt, timing)
        if key not in runs:
            runs[key] = simulate(programs[precision, opt], chip, timing)
        return runs[key]

    return get
