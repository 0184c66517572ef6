"""Quantities over time, worked out by hand: LMEM occupancy, DDR bytes per bin, track rows."""

import itertools

import pytest
from profile_cases import grouped_result, overlap_result, swin_result, two_ops_result

from tpusim.api import Result
from tpusim.profile.series import (
    ddr_bytes_per_bin,
    ddr_series,
    lmem_series,
    nice_bin_ns,
    pack_rows,
)
from tpusim.sim.timeline import Record


def test_lmem_counts_a_group_once_then_the_global_layer(simple_chip):
    # group 0 (layers a and b, 1000 B per lane each: the group's peak) over [0, 600], then c
    assert lmem_series(grouped_result(simple_chip)) == [(0, 1000), (600, 300), (907, 0)]


def test_lmem_of_overlapping_global_layers_adds_up(simple_chip):
    base = overlap_result(simple_chip)
    program = base.program
    program.layers[0].lmem_bytes = 512
    program.layers.append(type(program.layers[0])("m", "Mul", lmem_bytes=100))
    records = [Record("GDMA", 1, 0, "DMA", 0, -1, 0, 0.0, 50.0, 64, "S2L", "x"),
               Record("TIU", 1, 0, "AR", 1, -1, 0, 30.0, 80.0, 0, "", "")]
    result = Result(program, simple_chip, records, 0.0)
    assert lmem_series(result) == [(0, 512), (30, 612), (50, 100), (80, 0)]


def test_ddr_bytes_per_bin_by_hand(simple_chip):
    """relu -> scale in 100 ns bins: loads at 64 B/ns over [0, 128] and [386, 514], stores at
    32 B/ns over [130, 386] and [516, 772]."""
    per_bin = ddr_bytes_per_bin(two_ops_result(simple_chip), 100.0)
    assert per_bin.tolist() == pytest.approx(
        [6400, 1792 + 70 * 32, 3200, 86 * 32 + 14 * 64, 6400, 14 * 64 + 84 * 32, 3200, 72 * 32])
    assert per_bin.sum() == pytest.approx(4 * 8192)
    window = ddr_bytes_per_bin(two_ops_result(simple_chip), 50.0, 100.0, 200.0)
    assert window.tolist() == pytest.approx([28 * 64 + 20 * 32, 50 * 32])


def test_ddr_series_keeps_every_byte_on_swin():
    result = swin_result("f16")
    series = ddr_series(result)
    bin_ns = series[1][0] - series[0][0]
    assert bin_ns == nice_bin_ns(result.total_ns)
    assert sum(gbps * bin_ns for _, gbps in series) == pytest.approx(
        result.summary()["ddr_bytes"], rel=1e-9)
    assert max(gbps for _, gbps in series) <= result.chip.ddr_gbps * (1 + 1e-9)


@pytest.mark.parametrize("total, expected", [(1000, 5), (772, 2), (18_000_000, 50_000),
                                             (1, 1)])
def test_nice_bins_are_round(total, expected):
    assert nice_bin_ns(total, bins=400) == expected


def test_pack_rows_gives_overlapping_spans_their_own_rows():
    spans = [(0, 10), (5, 20), (10, 15), (12, 30), (20, 25), (30, 31)]
    rows = pack_rows(spans)
    assert rows == [0, 1, 0, 2, 0, 0]
    for row in set(rows):
        mine = sorted(s for s, r in zip(spans, rows) if r == row)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(mine))
