"""What `--out` writes: every file, byte-identical on a second run; CSV shaped like
tpu_profile's; tables equal to the records; static timelines with zoom."""

import csv
import io
import json
from collections import defaultdict

import matplotlib.image
import pytest
from profile_cases import grouped_result, swin_result

from tpusim.errors import TpusimError
from tpusim.profile.plot import plot_timeline, plot_window_ms
from tpusim.profile.report import OUTPUT_FILES, save_result
from tpusim.profile.tables import (
    layer_table,
    profile_json,
    summary_text,
    tpu_profile_detail,
    tpu_profile_summary,
)


def _rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_save_writes_every_file_the_same_way_twice(tmp_path, simple_chip):
    result = grouped_result(simple_chip)
    written = save_result(result, tmp_path / "a")
    save_result(result, tmp_path / "b")
    assert sorted(p.name for p in written) == sorted(OUTPUT_FILES)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(OUTPUT_FILES)
    for name in OUTPUT_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert b"<dc:date>" not in (tmp_path / "a" / "timeline.svg").read_bytes()


def test_csv_files_by_hand(tmp_path, simple_chip):
    save_result(grouped_result(simple_chip), tmp_path)
    (summary,) = _rows(tmp_path / "summary.csv")
    assert summary == {"index": "0", "subnet_id": "0", "subnet_type": "TPU",
                       "duration(us)": "0.907000"}
    detail = _rows(tmp_path / "detail.csv")
    assert list(detail[0]) == ["category", "begin_usec", "end_usec", "duration(us)",
                               "func_type", "layer_id", "layer_type", "subnet_id",
                               "subnet_type", "iteration", "info"]
    assert [r["category"] for r in detail].count("TPU_LAYER") == 3
    assert [r["category"] for r in detail].count("TPU_BD") == 5
    assert [r["category"] for r in detail].count("TPU_GDMA") == 6
    first = detail[:2]  # layer a and its first load both start at 0
    assert [(r["category"], r["layer_type"], r["func_type"]) for r in first] == [
        ("TPU_LAYER", "Add(L)", "Add"), ("TPU_GDMA", "Add(L)", "GDMA_TENSOR")]
    groups = _rows(tmp_path / "groups.csv")
    assert [(g["group"], g["layers"], g["span_us"], g["bound"]) for g in groups] == [
        ("0", "2", "0.600000", "GDMA")]
    kpis = {r["kpi"]: float(r["value"]) for r in _rows(tmp_path / "kpis.csv")}
    assert kpis["parallelism"] == pytest.approx(935 / 907, abs=1e-6)
    engines = {r["engine"]: r for r in _rows(tmp_path / "engines.csv")}
    assert engines["GDMA"]["busy_us"] == "0.900000" and engines["TIU"]["commands"] == "5"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["kpis"]["tiu_busy_ns"] == 35 and summary["groups"] == 0


def test_tables_equal_the_records_on_swin():
    result = swin_result("f16")
    by_layer = defaultdict(list)
    for r in result.records:
        by_layer[r.layer].append(r)
    header, rows = layer_table(result)
    for row in rows:
        cells = dict(zip(header, row))
        mine = by_layer[cells["index"]]
        tiu_ns = sum(r.duration_ns for r in mine if r.engine == "TIU")
        assert cells["tiu_us"] == f"{tiu_ns / 1e3:.6f}"
        assert cells["start_us"] == f"{min(r.start_ns for r in mine) / 1e3:.6f}"
        assert cells["tiu_cmds"] + cells["gdma_cmds"] == len(mine)
    profile = profile_json(result)
    assert sum(layer["ddr_bytes"] for layer in profile["layers"]) == result.summary()["ddr_bytes"]
    assert profile["summary"]["kpis"]["gdma_busy_ns"] == result.busy_ns("GDMA")
    header, rows = tpu_profile_detail(result)
    assert sum(1 for r in rows if r[0] != "TPU_LAYER") == len(result.records)
    assert tpu_profile_summary(result)[1][0][3] == f"{result.total_ns / 1e3:.6f}"
    assert "uarch_rate" in summary_text(result)


def test_plot_zooms_to_a_window_or_layers(tmp_path, simple_chip):
    result = grouped_result(simple_chip)
    assert plot_window_ms(result) == (0.0, 907e-6)
    assert plot_window_ms(result, layers=(1, 2)) == (107e-6, 907e-6)
    assert plot_window_ms(result, window_ms=(0.0001, 0.0002)) == (0.0001, 0.0002)
    for kwargs in ({}, {"layers": (0, 0)}, {"window_ms": (0.0, 0.0002)}):
        path = tmp_path / "t.png"
        plot_timeline(result, path, **kwargs)
        assert matplotlib.image.imread(path).std() > 0.05
    with pytest.raises(TpusimError, match=r"no layer with commands in the range 5\.\.9"):
        plot_window_ms(result, layers=(5, 9))
    with pytest.raises(TpusimError, match="empty time window"):
        plot_window_ms(result, window_ms=(0.3, 0.1))
