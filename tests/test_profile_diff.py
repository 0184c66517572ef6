"""Before/after: the per-layer difference on small runs worked out by hand and on Swin-T FP16;
the files a comparison writes; `tpusim compare --out`."""

import csv
import io
import json

import pytest
from profile_cases import grouped_result, load_then_compute_result, regrouped_result
from test_profile_html import page_data
from test_profile_trace import check_against_records, check_trace

from tpusim.cli import main
from tpusim.frontend.swin import SwinConfig, build_swin
from tpusim.profile.comparison import (
    COMPARISON_FILES,
    RUN_DIRS,
    RUN_FILES,
    diff_text,
    save_comparison,
)
from tpusim.profile.diff import diff_runs
from tpusim.profile.report import OUTPUT_FILES
from tpusim.profile.summary import kind_rows, layer_rows, time_shares
from tpusim.profile.trace import comparison_trace


@pytest.fixture(scope="module")
def hand(simple_chip):
    """grouped_result (907 ns) -> regrouped_result (661 ns, 40 of them idle)."""
    return grouped_result(simple_chip), regrouped_result(simple_chip.replace(
        sync_latency_cycles=10))


def test_time_shares_by_hand(hand):
    """grouped_result: a alone [0, 107], shares [107, 114] with b, alone [114, 200], shares
    [200, 207]: 100 + 7 + 3.5 + 86 + 3.5 = 200; b gets the rest of [107, 600] = 400; c 307.
    regrouped_result: a 100 + 7 + 200, c 100 + 7, d 7 + 200, and 4 x 10 ns idle."""
    before, after = hand
    assert time_shares(before.records, before.total_ns) == ({0: 200, 1: 400, 2: 307}, 0)
    assert time_shares(after.records, after.total_ns) == ({0: 307, 1: 107, 2: 207}, 40)


def test_time_by_kind_is_the_wall_time_shared_not_the_spans_summed(hand):
    """Spans a 207 + b 493 + c 307 = 1007 ns exceed the 907 ns run; the shares make it up."""
    before, _ = hand
    kinds = kind_rows(layer_rows(before.program, before.records),
                      time_shares(before.records, before.total_ns)[0])
    assert [(k["kind"], k["layers"], k["time_ns"], k["tiu_ns"], k["gdma_ns"]) for k in kinds] == [
        ("Mul", 1, 400, 14, 400), ("Relu", 1, 307, 7, 300), ("Add", 1, 200, 14, 200)]
    assert sum(k["time_ns"] for k in kinds) == before.total_ns


def test_difference_by_hand(hand):
    diff = diff_runs(*hand)
    rows = [(d.name, d.change, d.where, d.delta_ns, d.reasons) for d in diff.layers]
    assert rows == [
        ("b", "removed", "G0 -> -", -400, ("removed",)),
        # c: its 6400 B store and its command went with the group
        ("c", "kept", "global -> G0", -200,
         ("global -> group", "fewer bytes (-50%)", "fewer commands (3 -> 2)")),
        # a: one slice instead of two, so one AR (7 of 14 ns) and one load fewer; its loads
        # were 12800 B and are now a 6400 B load and a 6400 B store
        ("a", "kept", "G0 -> global", 107,
         ("group -> global", "fewer commands (4 -> 3)", "less TIU time (-50%)")),
        ("d", "added", "- -> G0", 207, ("added",)),
    ]
    # the identity: total change = the layers' changes + the change in idle time
    assert (diff.delta_ns, diff.layers_delta_ns, diff.idle_delta_ns) == (-246, -286, 40)
    assert diff.counts() == {"kept": 2, "faster": 1, "slower": 1, "removed": 1, "added": 1,
                             "global_to_group": 1, "group_to_global": 1}
    assert [(k["kind"], k["delta_ns"], k["removed"], k["added"]) for k in diff.by_kind()] == [
        ("Relu", -200, 0, 0), ("Mul", -193, 1, 1), ("Add", 107, 0, 0)]
    a = next(d for d in diff.layers if d.name == "a")
    assert a.before.parallelism == pytest.approx((14 + 200) / 200)
    assert (a.after.parallelism, a.after.ddr_bytes, a.after.span_ns) == (1.0, 12800, 327)
    assert [d.name for d in diff.biggest(2)] == ["b", "d"]


def test_overlap_is_named(simple_chip):
    """Load 100 ns then compute 100 ns, against both at once: same bytes and commands, half
    the time, two engines busy instead of one."""
    diff = diff_runs(load_then_compute_result(simple_chip, False),
                     load_then_compute_result(simple_chip, True))
    (layer,) = diff.layers
    assert (layer.delta_ns, layer.reasons) == (-100, ("more overlap (1.00 -> 2.00)",))
    assert (diff.before.parallelism, diff.after.parallelism) == (1.0, 2.0)


def test_swin_t_f16_before_after(swin_t):
    before, after = swin_t("f16", "before"), swin_t("f16", "after")
    diff = diff_runs(before, after)
    by_name = {d.name: d for d in diff.layers}
    blocks = sorted({name.split(".attn.")[0] for name in by_name if ".attn." in name})
    assert len(blocks) == 12
    for block in blocks:
        for permute in ("qkv.permute", "k.transpose", "out.permute"):
            assert by_name[f"{block}.attn.{permute}"].change == "removed"
        for matmul in ("qk", "av"):
            d = by_name[f"{block}.attn.{matmul}"]
            assert d.before.group < 0 <= d.after.group and "global -> group" in d.reasons
            assert d.delta_ns < 0 and d.after.ddr_bytes < d.before.ddr_bytes
    # joined by the MatMuls: from a small group or a global layer into the attention's group
    assert {"regrouped", "global -> group"} & set(by_name["s0.b0.attn.softmax"].reasons)
    assert diff.by_kind()[0]["kind"] == "Permute"  # the largest saving
    # shares: within each layer's span, and with the idle time they make up each total
    for run in (before, after):
        shares, idle = time_shares(run.records, run.total_ns)
        assert sum(shares.values()) + idle == pytest.approx(run.total_ns, rel=1e-12)
    for d in diff.layers:
        for side in (d.before, d.after):
            assert side is None or 0 <= side.time_ns <= side.span_ns + 1e-6
    assert diff.delta_ns == pytest.approx(diff.layers_delta_ns + diff.idle_delta_ns, abs=1e-6)
    assert diff.delta_ns < -0.3 * before.total_ns


def test_comparison_files_are_complete_and_byte_identical(hand, tmp_path):
    """Each run's own outputs (runs=True, checked by the compare test below) are tested for
    byte identity in test_profile_outputs."""
    for name in ("one", "two"):
        save_comparison(*hand, tmp_path / name, ("grouped", "regrouped"), runs=False)
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == sorted(COMPARISON_FILES)
    for name in COMPARISON_FILES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    out = tmp_path / "one"
    rows = list(csv.DictReader(io.StringIO((out / "diff.csv").read_text())))
    assert [(r["layer"], r["change"], r["delta_us"], r["time_us_before"], r["time_us_after"])
            for r in rows] == [("b", "removed", "-0.400", "0.400", ""),
                               ("c", "kept", "-0.200", "0.307", "0.107"),
                               ("a", "kept", "0.107", "0.200", "0.307"),
                               ("d", "added", "0.207", "", "0.207")]
    data = json.loads((out / "diff.json").read_text())
    assert (data["delta_ns"], data["layers_delta_ns"], data["idle_delta_ns"]) == (-246, -286, 40)
    assert data["before"]["label"] == "grouped" and data["layers"][0]["before"]["span_ns"] == 493
    assert [run["label"] for run in page_data((out / "timeline.html").read_text())["runs"]] == [
        "grouped", "regrouped"]
    text = (out / "diff.txt").read_text()
    assert "grouped 0.907 us -> regrouped 0.661 us: -0.246 us" in text
    assert "= layers -0.286 us + idle +0.040 us" in text and "global -> group" in text


def test_comparison_trace_has_one_process_per_run(hand):
    trace = json.loads(json.dumps(comparison_trace(list(hand), ["grouped", "regrouped"])))
    check_trace(trace)  # flow ids stay unique across the two processes
    names = {e["pid"]: e["args"]["name"] for e in trace["traceEvents"]
             if e["name"] == "process_name"}
    assert names == {1: "grouped", 2: "regrouped"}
    for pid, result in enumerate(hand, start=1):
        check_against_records(result, {"traceEvents": [
            e for e in trace["traceEvents"] if e["pid"] == pid]})


def test_diff_text_lists_the_top_changes(hand):
    text = diff_text(diff_runs(*hand), top=2)
    assert "the 2 biggest" in text
    lines = text.splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("layer "))) + 2:]
    assert [line.split()[0] for line in table] == ["b", "d"]


def test_compare_out_writes_each_precision(tmp_path, monkeypatch, capsys, chip):
    """`tpusim compare --out` on a one-stage Swin (the CLI's loader swapped for it)."""
    from tpusim.cli import tasks

    tiny = build_swin(SwinConfig(embed_dim=32, depths=(2,), heads=(2,), image=56, classes=10))
    monkeypatch.setattr(tasks, "_load", lambda args: tiny)
    out = tmp_path / "out"
    assert main(["compare", "tiny", "--precisions", "f16", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "f16: biggest per-layer changes" in printed and "removed" in printed
    assert sorted(p.name for p in out.iterdir()) == ["f16"]
    assert sorted(p.name for p in (out / "f16").iterdir()) == sorted([*COMPARISON_FILES,
                                                                       *RUN_DIRS])
    for run in RUN_DIRS:
        assert sorted(p.name for p in (out / "f16" / run).iterdir()) == sorted(RUN_FILES)
    assert set(RUN_FILES) < set(OUTPUT_FILES) and "timeline.html" in RUN_FILES
    data = json.loads((out / "f16" / "diff.json").read_text())
    assert data["before"]["label"] == "tiny f16 before" and data["counts"]["removed"] > 0
