import pytest

from tpusim.hw.chip import Chip, load_chip


@pytest.fixture(scope="session")
def chip() -> Chip:
    return load_chip("bm1684x")


@pytest.fixture(scope="session")
def simple_chip(chip: Chip) -> Chip:
    """The BM1684X with round DMA numbers, so hand-worked timings stay short: loads at
    64 B/ns, stores at 32 B/ns, 64-byte minimum access, no start-up or sync costs."""
    return chip.replace(ddr_read_efficiency=1.0, ddr_write_efficiency=0.5,
                        ddr_min_access_bytes=64, gdma_startup_cycles=0, tiu_startup_cycles=0,
                        sync_latency_cycles=0, gdma_bytes_per_cycle=64)
