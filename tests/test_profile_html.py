"""The HTML timeline as a file: self-contained, deterministic, small, and holding exactly the
records (decoded here the way timeline.js decodes them)."""

import json
import re

import pytest
from profile_cases import grouped_result, many_commands_result, swin_result, two_ops_result

from tpusim.cost.tiu import uarch_rate
from tpusim.profile.html import timeline_html


def page_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="tpusim-data">(.*?)</script>', page,
                      re.S)
    return json.loads(match.group(1))


def unpack(column) -> list[int]:
    if isinstance(column, list):
        return column
    pairs = column.get("r") or column["d"]
    out = [v for v, n in zip(pairs[::2], pairs[1::2]) for _ in range(n)]
    if "d" in column:
        for i in range(1, len(out)):
            out[i] += out[i - 1]
    return out


def decode(run: dict, engine: str, scale: int) -> list[tuple]:
    cols = {k: unpack(v) for k, v in run[engine].items()}
    t, out = 0, []
    for i, (gap, dur) in enumerate(zip(cols["gap"], cols["dur"])):
        start = t + gap
        t = start + dur
        cmd_id = cols["id"][i] if "id" in cols else i + 1
        out.append((cmd_id, start / scale, t / scale, run["strings"][cols["kind"][i]],
                    cols["layer"][i], cols["slice"][i], cols["dep"][i]))
    return out


@pytest.mark.parametrize("case", ["two_ops", "grouped", "swin"])
def test_page_holds_every_record(case, simple_chip):
    result = {"two_ops": lambda: two_ops_result(simple_chip),
              "grouped": lambda: grouped_result(simple_chip),
              "swin": lambda: swin_result("f16")}[case]()
    data = page_data(timeline_html([result]))
    (run,) = data["runs"]
    for engine in ("TIU", "GDMA"):
        records = sorted((r for r in result.records if r.engine == engine),
                         key=lambda r: r.cmd_id)
        decoded = sorted(decode(run, engine.lower(), data["time_scale"]))
        assert len(decoded) == len(records)
        for (cmd_id, start, end, kind, layer, slice_, dep), r in zip(decoded, records):
            assert (cmd_id, kind, layer, slice_, dep) == (r.cmd_id, r.kind, r.layer, r.slice,
                                                          r.dep)
            assert start == pytest.approx(r.start_ns, abs=0.051)
            assert end == pytest.approx(r.end_ns, abs=0.051)
    rates = unpack(run["tiu"]["rate"])
    order = sorted((r for r in result.records if r.engine == "TIU"),
                   key=lambda r: (r.start_ns, r.cmd_id))
    assert rates == [round(1000 * uarch_rate(result.program.tiu[r.cmd_id - 1].work,
                                             result.chip)) for r in order]
    summary = {k: v for k, v in result.summary().items() if k != "sim_wall_s"}
    assert run["summary"] == summary


def test_grouped_layers_and_lmem(simple_chip):
    (run,) = page_data(timeline_html([grouped_result(simple_chip)]))["runs"]
    layers = run["layers"]
    assert layers["group"] == [0, 0, -1] and layers["row"] == [0, 1, 0]
    assert [run["strings"][i] for i in layers["name"]] == ["a", "b", "c"]
    assert [(g["group"], g["layers"], g["start"], g["end"]) for g in run["groups"]] == [
        (0, [0, 1], 0, 6000)]
    assert run["lmem"] == {"t": [0, 6000, 9070], "bytes": [1000, 300, 0]}
    assert "group" not in run["tiu"]  # every command runs in its layer's group


def test_page_is_self_contained_and_deterministic(simple_chip):
    result = grouped_result(simple_chip)
    page = timeline_html([result])
    assert page == timeline_html([result])
    assert not re.search(r"https?://|<link|\bsrc=|@import|url\(|fetch\(|XMLHttpRequest", page)
    assert page.count("<script") == 2  # the data and the inline renderer


def test_names_cannot_break_out_of_the_page(simple_chip):
    result = grouped_result(simple_chip)
    result.program.layers[0].name = "</script><script>alert(1)</script>"
    page = timeline_html([result], title="<b>{{DATA}}</b>")
    assert page.count("</script>") == 2
    assert "&lt;b&gt;{{DATA}}&lt;/b&gt;" in page
    assert page_data(page)["runs"][0]["strings"][0] == "</script><script>alert(1)</script>"


def test_two_runs_share_the_page(simple_chip):
    data = page_data(timeline_html([two_ops_result(simple_chip), grouped_result(simple_chip)],
                                   labels=["before", "after"]))
    assert [run["label"] for run in data["runs"]] == ["before", "after"]


def test_thirty_thousand_commands_stay_small(simple_chip):
    result = many_commands_result(simple_chip)
    assert len(result.records) == 30000
    assert len(timeline_html([result]).encode()) < 400_000


def test_swin_page_size():
    size = len(timeline_html([swin_result("f16")]).encode())
    assert size < 60 * len(swin_result("f16").records) + 100_000
