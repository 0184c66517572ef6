"""The Chrome trace checked against the Trace Event Format: the JSON Object Format with
"traceEvents"; complete events ("X") with ts and dur in microseconds, dur >= 0; metadata
events ("M") named process_name / process_sort_index / thread_name / thread_sort_index with
their args; counters ("C") with numeric args; flow events ("s" start, "f" end) paired by
(cat, name, id) across processes, each bound to the slice that encloses it ("bp": "e" on the
end). Slices on one thread nest or follow each other, never partially overlap."""

import json
from collections import defaultdict

import pytest
from profile_cases import grouped_result, swin_result, two_ops_result

from tpusim.profile.trace import chrome_trace, dumps_trace

PHASES = {"X", "M", "C", "s", "f"}
METADATA = {"process_name": "name", "process_sort_index": "sort_index",
            "thread_name": "name", "thread_sort_index": "sort_index"}


def _ns(us: float) -> int:
    ns = round(us * 1000)
    assert abs(us * 1000 - ns) < 1e-6, f"{us} us is not a whole number of ns"
    return ns


def check_trace(trace: dict) -> dict:
    """Every rule of the format the trace relies on; returns the events sorted by kind."""
    assert isinstance(trace["traceEvents"], list)
    assert trace.get("displayTimeUnit", "ms") in ("ms", "ns")
    by_ph = defaultdict(list)
    for e in trace["traceEvents"]:
        assert e["ph"] in PHASES, e
        assert isinstance(e["pid"], int) and isinstance(e["name"], str), e
        by_ph[e["ph"]].append(e)
    names, sort_index = {}, {}
    for e in by_ph["M"]:
        key = METADATA[e["name"]]  # only the standard metadata names
        value = e["args"][key]
        assert isinstance(value, str if key == "name" else int), e
        if e["name"].startswith("thread_"):
            assert isinstance(e["tid"], int)
            (names if key == "name" else sort_index)[e["pid"], e["tid"]] = value
        else:
            assert "tid" not in e
    threads = defaultdict(list)
    for e in by_ph["X"]:
        assert isinstance(e["tid"], int) and isinstance(e["cat"], str)
        assert e["ts"] >= 0 and e["dur"] >= 0, f"negative time in {e}"
        threads[e["pid"], e["tid"]].append((_ns(e["ts"]), _ns(e["ts"]) + _ns(e["dur"]), e))
    # each thread is named and ordered, and no two threads of a process share a name or a place
    assert set(threads) <= set(names) and set(names) == set(sort_index)
    assert len({(pid, name) for (pid, _), name in names.items()}) == len(names)
    assert len({(pid, i) for (pid, _), i in sort_index.items()}) == len(sort_index)
    for key, spans in threads.items():
        stack = []
        for start, end, e in sorted(spans, key=lambda s: (s[0], -s[1])):
            while stack and stack[-1] <= start:
                stack.pop()
            assert not stack or end <= stack[-1], f"{names[key]}: {e} partially overlaps"
            stack.append(end)
    for e in by_ph["C"]:
        assert e["ts"] >= 0 and e["args"]
        assert all(isinstance(v, (int, float)) for v in e["args"].values()), e
    flows = defaultdict(dict)
    for e in by_ph["s"] + by_ph["f"]:
        assert isinstance(e["id"], int) and e["cat"] and isinstance(e["tid"], int)
        key = (e["cat"], e["name"], e["id"])  # flow ids are global, not per process
        assert e["ph"] not in flows[key], f"flow {key} has two {e['ph']!r} events"
        flows[key][e["ph"]] = e
    for key, pair in flows.items():
        assert set(pair) == {"s", "f"}, f"flow {key} is not paired"
        assert pair["f"]["bp"] == "e"
        assert pair["s"]["ts"] <= pair["f"]["ts"]
    return {"threads": threads, "names": names, "flows": flows, **by_ph}


def enclosing(threads, event) -> dict:
    """The slice on the event's thread that holds its timestamp (the flow's bind point); slices
    are half-open, so abutting ones do not both hold their shared instant."""
    t = _ns(event["ts"])
    hits = [e for start, end, e in threads[event["pid"], event["tid"]]
            if start <= t < end or start == t == end]
    assert len(hits) == 1, f"{event} binds to {len(hits)} slices"
    return hits[0]


def check_against_records(result, trace) -> None:
    parts = check_trace(trace)
    by_name = {name: key for key, name in parts["names"].items()}
    records = {(r.engine, r.cmd_id): r for r in result.records}
    for engine in ("TIU", "GDMA"):
        slices = parts["threads"][by_name[engine]]
        assert len(slices) == sum(1 for r in result.records if r.engine == engine)
        for start, end, e in slices:
            r = records[engine, e["args"]["id"]]
            assert abs(start - r.start_ns) <= 0.5 and abs(end - r.end_ns) <= 0.5
            assert e["name"] == r.kind and e["args"]["dep"] == r.dep
    # one flow per wait, from the command waited for to the waiting one
    waits = sorted((r.engine, r.cmd_id, r.dep) for r in result.records if r.dep)
    found = []
    for pair in parts["flows"].values():
        source, target = enclosing(parts["threads"], pair["s"]), enclosing(parts["threads"],
                                                                           pair["f"])
        assert source["cat"] != target["cat"]  # TIU <-> GDMA
        assert target["args"]["dep"] == source["args"]["id"]
        found.append((target["cat"], target["args"]["id"], source["args"]["id"]))
    assert sorted(found) == waits
    end_us = max(e["ts"] + e["dur"] for e in parts["X"])
    assert _ns(end_us) == round(result.total_ns)  # microseconds, not ns or ms


def test_swin_trace_follows_the_format():
    result = swin_result("f16")
    trace = json.loads(dumps_trace(chrome_trace(result)))
    check_against_records(result, trace)
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert {"TIU", "GDMA", "Layers"} <= names
    counters = {e["name"] for e in trace["traceEvents"] if e["ph"] == "C"}
    stalled = result.stall_ns("lmem") + result.stall_ns("ddr") > 0
    assert counters == {"DDR bandwidth", "LMEM per lane"} | ({"stalled commands"} if stalled
                                                            else set())
    stalls = [e["args"] for e in trace["traceEvents"] if e["name"] == "stalled commands"]
    if stalled:  # a count of commands waiting, back to none at the end
        assert stalls[-1] == {"lmem": 0, "ddr": 0}
        assert max(s["lmem"] + s["ddr"] for s in stalls) >= 1


def test_grouped_run_puts_overlapping_layers_on_two_tracks(simple_chip):
    result = grouped_result(simple_chip)
    trace = chrome_trace(result)
    check_against_records(result, trace)
    parts = check_trace(trace)
    tracks = {parts["names"][key]: sorted((s, e, ev["name"]) for s, e, ev in spans)
              for key, spans in parts["threads"].items()}
    assert tracks["Layer groups"] == [(0, 600, "group 0")]
    # a [0, 207] and b [107, 600] overlap: b goes on a second track; c follows a
    assert tracks["Layers"] == [(0, 207, "a"), (600, 907, "c")]
    assert tracks["Layers 2"] == [(107, 600, "b")]
    order = sorted(parts["names"], key=lambda key: next(
        e["args"]["sort_index"] for e in parts["M"]
        if e["name"] == "thread_sort_index" and (e["pid"], e.get("tid")) == key))
    assert [parts["names"][k] for k in order] == ["Layer groups", "Layers", "Layers 2",
                                                  "GDMA", "TIU"]
    lmem = [(e["ts"], e["args"]["bytes"]) for e in parts["C"] if e["name"] == "LMEM per lane"]
    assert lmem == [(0, 1000), (0.6, 300), (0.907, 0)]


def test_two_ops_trace_by_hand(simple_chip):
    """Flows of relu -> scale: TIU 1 waits for GDMA 1, GDMA 2 for TIU 1, TIU 2 for GDMA 3,
    GDMA 4 for TIU 2; bound at the middle of each slice."""
    result = two_ops_result(simple_chip)
    trace = chrome_trace(result)
    check_against_records(result, trace)
    starts = sorted((e["ts"], e["tid"]) for e in trace["traceEvents"] if e["ph"] == "s")
    assert [ts for ts, _ in starts] == [0.064, 0.129, 0.45, 0.515]
    ddr = [e for e in trace["traceEvents"] if e["ph"] == "C" and e["name"] == "DDR bandwidth"]
    bin_us = ddr[1]["ts"] - ddr[0]["ts"]
    moved = sum(e["args"]["GB/s"] * bin_us * 1000 for e in ddr)
    assert moved == pytest.approx(4 * 8192, rel=1e-3)


@pytest.mark.parametrize("broken, words", [
    ({"ph": "X", "pid": 1, "tid": 1, "name": "a", "cat": "c", "ts": 0, "dur": -1},
     "negative"),
    ({"ph": "X", "pid": 1, "tid": 1, "name": "a", "cat": "c", "ts": 0.5, "dur": 1},
     "overlap"),
    ({"ph": "s", "pid": 1, "tid": 1, "name": "w", "cat": "sync", "id": 99, "ts": 0},
     "paired"),
])
def test_the_checker_catches_broken_traces(broken, words):
    """The checker itself fails on a negative duration, a partial overlap, a lone flow."""
    trace = {"traceEvents": [
        {"ph": "M", "pid": 1, "tid": 1, "name": "thread_name", "args": {"name": "T"}},
        {"ph": "M", "pid": 1, "tid": 1, "name": "thread_sort_index",
         "args": {"sort_index": 0}},
        {"ph": "X", "pid": 1, "tid": 1, "name": "a", "cat": "c", "ts": 0, "dur": 1},
        broken]}
    with pytest.raises(AssertionError, match=words):
        check_trace(trace)
