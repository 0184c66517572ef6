"""The same sweep on a Dask cluster started here: the serial run's rows, number for number, in
the same order (through an executor object and through a dask:// address)."""

import pytest
from small_graphs import conv_block

from tpusim.sweep import SweepError, sweep

distributed = pytest.importorskip("distributed", reason="Dask is an optional extra "
                                                        "(pip install 'tpusim[dask]')")


@pytest.fixture(scope="module")
def cluster():
    # Threads in this process: starts in a fraction of a second and needs no installed package.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as local:
        yield local


GRID = {"opt": ["before", "after"], "precision": ["f16", "int8"], "ddr_gbps": [32, 64, 128]}


def test_dask_gives_the_serial_rows(cluster, chip):
    graph = conv_block()
    serial = sweep(graph, GRID, chip=chip, executor="serial")
    with distributed.Client(cluster) as client:
        on_dask = sweep(graph, GRID, chip=chip, executor=client.get_executor())
    assert on_dask.rows == serial.rows
    assert on_dask.programs == on_dask.compiles + on_dask.reused == 4
    by_address = sweep(graph, GRID, chip=chip, executor=f"dask://{cluster.scheduler_address}")
    assert by_address.rows == serial.rows
    assert by_address.executor.startswith("dask://")


def test_an_address_is_needed(chip):
    with pytest.raises(SweepError, match="dask:// needs the scheduler's address"):
        sweep(conv_block(), GRID, chip=chip, executor="dask://")
