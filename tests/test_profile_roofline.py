"""The roofline: points worked out by hand, roofs from the chip, every Swin-T point under its
roof, and the chart itself."""

import matplotlib.image
import pytest
from profile_cases import grouped_result, matmul_result

from tpusim.errors import TpusimError
from tpusim.profile.kpis import kpis
from tpusim.profile.roofline import plot_roofline, roofline_points, roofline_table, roofs


def _coords(points):
    return [(p.name, p.kind, p.useful_ops, p.ddr_bytes, p.span_ns) for p in points]


def test_points_of_the_grouped_run_by_hand(simple_chip):
    """Group 0: four ARs of 6400 elements, two loads and two stores of 6400 B, [0, 600];
    c: one AR, a load and a store, [600, 907]. By layer, a is [0, 207] with both loads and
    b [107, 600] with both stores."""
    result = grouped_result(simple_chip)
    group, c = roofline_points(result)
    assert _coords([group, c]) == [("group 0", "group", 25600, 25600, 600),
                                   ("c", "Relu", 6400, 12800, 307)]
    assert (group.intensity, c.intensity) == (1.0, 0.5)
    assert group.tops == pytest.approx(25600 / 600 / 1e3)  # ops per ns / 1000 = TOPS
    assert c.tops == pytest.approx(6400 / 307 / 1e3)
    assert _coords(roofline_points(result, by="layer")) == [
        ("a", "Add", 12800, 12800, 207), ("b", "Mul", 12800, 12800, 493),
        ("c", "Relu", 6400, 12800, 307)]
    bounds = roofs(result)
    assert bounds.compute_tops == {"f32": 2.048, "f16": 16.384, "int8": 32.768}
    assert (bounds.precision, bounds.vector_tops, bounds.ddr_gbps) == ("f32", 1.024, 64.0)
    assert bounds.ridge() == 32.0  # 2048 Gops/s over 64 GB/s
    assert bounds.attainable_tops(0.5) == pytest.approx(0.032)  # under the DDR roof
    assert bounds.attainable_tops(100.0) == 2.048
    header, rows = roofline_table(result)
    cells = dict(zip(header, rows[1]))
    assert (cells["ops_per_byte"], cells["attainable_tops"], cells["span_us"]) == (
        "0.5", "0.032", "0.307000")
    assert float(cells["of_attainable"]) == pytest.approx(6400 / 307 / 32, abs=1e-6)


def test_matmul_point_by_hand(simple_chip):
    (point,) = roofline_points(matmul_result(simple_chip))
    assert (point.useful_ops, point.ddr_bytes, point.span_ns) == (1048576, 6400, 164)
    assert point.intensity == pytest.approx(163.84)
    assert point.tops == pytest.approx(1048576 / 164 / 1e3)  # 6.39 TOPS
    bounds = roofs(matmul_result(simple_chip))
    assert bounds.precision == "f16"
    assert bounds.attainable_tops(point.intensity) == pytest.approx(163.84 * 64 / 1e3)


def test_swin_points_lie_under_the_roofs(swin_t):
    result = swin_t("f16", "after")
    points = roofline_points(result)
    bounds = roofs(result)
    for p in points:
        if p.plotted:
            assert p.tops <= bounds.attainable_tops(p.intensity) * (1 + 1e-9), p
    # global layers and groups partition the run's work
    summary = result.summary()
    assert sum(p.useful_ops for p in points) == kpis(result).useful_ops
    assert sum(p.ddr_bytes for p in points) == summary["ddr_bytes"]
    assert sum(p.kind == "group" for p in points) == summary["groups"]
    layers = roofline_points(result, by="layer")
    assert sum(p.useful_ops for p in layers) == kpis(result).useful_ops


def test_chart_is_drawn(tmp_path, simple_chip):
    path = tmp_path / "roofline.png"
    plot_roofline(grouped_result(simple_chip), path, by="layer")
    assert matplotlib.image.imread(path).std() > 0.05
    with pytest.raises(TpusimError, match="roofline points by 'op'"):
        roofline_points(grouped_result(simple_chip), by="op")
