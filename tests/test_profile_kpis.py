"""KPIs, per-engine, per-layer and per-group summaries: worked out by hand on tiny runs, and
equal to sums over the records on Swin-T."""

import pytest
from profile_cases import grouped_result, overlap_result, swin_result, two_ops_result

from tpusim.cost.tiu import issued_ops, useful_ops
from tpusim.profile.kpis import engine_rows, kpis
from tpusim.profile.summary import group_rows, layer_rows


def test_kpis_of_two_ops_by_hand(simple_chip):
    """relu -> scale (tests/test_sim.py): GDMA 128 + 256 + 128 + 256 = 768 ns, TIU 2 + 2 ns,
    total 772 ns; the engines never overlap; 4 transfers of 8192 B; each AR is 2048 useful
    of 2 cycles x 64 lanes x 16 = 2048 issued operations."""
    k = kpis(two_ops_result(simple_chip))
    assert (k.total_ns, k.tiu_busy_ns, k.gdma_busy_ns) == (772, 4, 768)
    assert k.tiu_working_ratio == pytest.approx(4 / 772)
    assert k.parallelism == pytest.approx(1.0)
    assert k.concurrency == pytest.approx(0.0)
    assert k.ddr_bytes == 4 * 8192
    assert k.ddr_avg_gbps == pytest.approx(32768 / 772)
    assert k.ddr_utilisation == pytest.approx(32768 / 772 / 64)
    assert (k.useful_ops, k.issued_ops) == (4096, 4096)
    assert k.uarch_rate == 1.0


def test_kpis_with_overlap_by_hand(simple_chip):
    """TIU 1 [0, 7] overlaps the load [0, 100]; TIU 2 [100, 107] does not: total 107, TIU 14,
    GDMA 100. Concurrency = (14 + 100 - 107) / 14 = 1/2: half the TIU time is hidden."""
    k = kpis(overlap_result(simple_chip))
    assert (k.total_ns, k.tiu_busy_ns, k.gdma_busy_ns) == (107, 14, 100)
    assert k.tiu_working_ratio == pytest.approx(14 / 107)
    assert k.parallelism == pytest.approx(114 / 107)
    assert k.concurrency == pytest.approx(0.5)
    assert k.ddr_avg_gbps == pytest.approx(6400 / 107)
    assert k.uarch_rate == pytest.approx(6400 / 7168)  # 100 of 7 x 16 elements per lane


def test_engine_rows_by_hand(simple_chip):
    tiu, gdma = engine_rows(grouped_result(simple_chip))
    assert (tiu.engine, tiu.commands, tiu.busy_ns, tiu.bytes) == ("TIU", 5, 35, 0)
    assert tiu.by_kind_ns == {"AR": 35}
    assert (gdma.engine, gdma.commands, gdma.busy_ns) == ("GDMA", 6, 900)
    assert gdma.by_direction_bytes == {"L2S": 3 * 6400, "S2L": 3 * 6400}
    assert gdma.busy_ratio == pytest.approx(900 / 907)


def test_group_and_layer_rows_by_hand(simple_chip):
    result = grouped_result(simple_chip)
    (g,) = group_rows(result.program, result.records)
    assert (g.group, g.layers, g.start_ns, g.end_ns) == (0, [0, 1], 0, 600)
    assert (g.tiu_ns, g.gdma_ns, g.tiu_commands, g.gdma_commands) == (28, 600, 4, 4)
    assert (g.ddr_bytes, g.lmem_bytes, g.bound) == (4 * 6400, 1000, "GDMA")
    spans = [(r.name, r.group, r.start_ns, r.end_ns, r.bound)
             for r in layer_rows(result.program, result.records)]
    assert spans == [("a", 0, 0, 207, "GDMA"), ("b", 0, 107, 600, "GDMA"),
                     ("c", -1, 600, 907, "GDMA")]


@pytest.fixture(scope="module")
def swin():
    return swin_result("f16")


def test_summaries_equal_sums_over_the_records(swin):
    records, program = swin.records, swin.program
    summary = swin.summary()
    k = kpis(swin)
    assert k.tiu_busy_ns == swin.busy_ns("TIU") and k.gdma_busy_ns == swin.busy_ns("GDMA")
    assert k.total_ns == max(r.end_ns for r in records)
    assert k.ddr_bytes == summary["ddr_bytes"]
    assert round(k.tiu_busy_ns / 1e6, 6) == summary["tiu_busy_ms"]
    assert k.useful_ops == sum(useful_ops(c.work) for c in program.tiu)
    assert k.issued_ops == sum(issued_ops(c.work, swin.chip) for c in program.tiu)
    for row in engine_rows(swin):
        mine = [r for r in records if r.engine == row.engine]
        assert row.commands == len(mine) == summary[f"{row.engine.lower()}_commands"]
        assert row.busy_ns == swin.busy_ns(row.engine)
        assert row.bytes == sum(r.bytes for r in mine)
        assert sum(row.by_kind_ns.values()) == pytest.approx(row.busy_ns, rel=1e-12)
    for row in layer_rows(program, records):
        mine = [r for r in records if r.layer == row.index]
        assert row.start_ns == min(r.start_ns for r in mine)
        assert row.end_ns == max(r.end_ns for r in mine)
        assert row.tiu_ns == sum(r.duration_ns for r in mine if r.engine == "TIU")
        assert row.gdma_ns == sum(r.duration_ns for r in mine if r.engine == "GDMA")
        assert row.ddr_bytes == sum(r.bytes for r in mine if r.direction not in ("", "L2L"))
    for g in group_rows(program, records):
        mine = [r for r in records if r.group == g.group]
        assert g.tiu_commands + g.gdma_commands == len(mine)
        assert g.ddr_bytes == sum(r.bytes for r in mine if r.direction not in ("", "L2L"))
        assert (g.start_ns, g.end_ns) == (min(r.start_ns for r in mine),
                                          max(r.end_ns for r in mine))
