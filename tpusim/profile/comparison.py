"""A before/after comparison as files: both runs on one time axis (HTML, Perfetto trace,
PNG/SVG) and the per-layer difference table (text, CSV, JSON) from tpusim.profile.diff."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tpusim.outputs import dumps_json, staged_directory
from tpusim.profile.diff import LayerDiff, LayerStats, RunDiff, diff_runs
from tpusim.profile.html import timeline_html
from tpusim.profile.plot import plot_timelines
from tpusim.profile.report import FIGURES, OUTPUT_FILES, write_result_files
from tpusim.profile.tables import format_table, write_csv
from tpusim.profile.trace import comparison_trace, dumps_trace

if TYPE_CHECKING:
    from tpusim.sim.result import Result

# What save_comparison writes, with what each file is for.
COMPARISON_FILES = {
    "timeline.html": "both runs stacked on one time axis, interactive",
    "trace.json": "Chrome trace (Perfetto): one process per run",
    "timeline.png": "both runs stacked on one time axis",
    "timeline.svg": "both runs stacked on one time axis, vector",
    "diff.txt": "totals, by operator kind, every layer's change and why",
    "diff.csv": "per layer: share of the time before and after, bytes, overlap, commands, why",
    "diff.json": "the same with nanosecond values, and the totals",
}
RUN_DIRS = ("before", "after")
# each run's own outputs in its folder: all but the static figures (OUTPUT_FILES, FIGURES)
RUN_FILES = tuple(name for name in OUTPUT_FILES if name not in FIGURES)


def _us(ns: float) -> str:
    return f"{round(ns / 1e3, 3) + 0.0:.3f}"  # + 0.0: no "-0.000" from float noise


def _signed_us(ns: float) -> str:
    return f"{round(ns / 1e3, 3) + 0.0:+.3f}"


def _side(s: LayerStats | None, value: str) -> Any:
    if s is None:
        return ""
    if value == "parallelism":
        return f"{s.parallelism:.3f}"
    amount = getattr(s, value)
    return _us(amount) if value.endswith("_ns") else amount


_SIDE_COLUMNS = [("time_us", "time_ns"), ("span_us", "span_ns"), ("tiu_us", "tiu_ns"),
                 ("gdma_us", "gdma_ns"), ("ddr_bytes", "ddr_bytes"),
                 ("commands", "commands"), ("overlap", "parallelism")]


def diff_table(diff: RunDiff) -> tuple[list[str], list[list[Any]]]:
    """Every layer, faster first; times in microseconds (shares of the wall time)."""
    header = ["layer", "kind", "change", "where_before", "where_after", "delta_us"]
    for column, _ in _SIDE_COLUMNS:
        header += [f"{column}_before", f"{column}_after"]
    header.append("why")
    rows = []
    for d in diff.layers:
        row = [d.name, d.kind, d.change, d.before.where if d.before else "",
               d.after.where if d.after else "", _us(d.delta_ns)]
        for _, value in _SIDE_COLUMNS:
            row += [_side(d.before, value), _side(d.after, value)]
        row.append("; ".join(d.reasons))
        rows.append(row)
    return header, rows


def _layer_lines(diffs: Sequence[LayerDiff]) -> tuple[list[str], list[list[Any]]]:
    header = ["layer", "kind", "where", "before us", "after us", "change us", "why"]
    rows = [[d.name, d.kind, d.where, _us(d.before.time_ns) if d.before else "-",
             _us(d.after.time_ns) if d.after else "-", _signed_us(d.delta_ns),
             ", ".join(d.reasons)] for d in diffs]
    return header, rows


def headline(diff: RunDiff) -> str:
    """The totals and the identity: change = the layers' changes + the change in idle time."""
    b, a = diff.before, diff.after
    scale, unit = (1e6, "ms") if max(b.total_ns, a.total_ns) >= 1e6 else (1e3, "us")

    def t(ns: float, sign: str = "") -> str:
        return f"{round(ns / scale, 3) + 0.0:{sign}.3f} {unit}"

    speedup = f", {b.total_ns / a.total_ns:.2f}x" if a.total_ns else ""
    return (f"{b.label} {t(b.total_ns)} -> {a.label} {t(a.total_ns)}: {t(diff.delta_ns, '+')}"
            f"{speedup} = layers {t(diff.layers_delta_ns, '+')} + idle "
            f"{t(diff.idle_delta_ns, '+')}\n")


def diff_text(diff: RunDiff, title: str = "", top: int | None = None) -> str:
    """Totals side by side, change by operator kind, and the layers by size of change (all of
    them, or the `top` biggest)."""
    b, a = diff.before, diff.after
    totals = [["total ms", b.total_ns / 1e6, a.total_ns / 1e6],
              ["idle ms", b.idle_ns / 1e6, a.idle_ns / 1e6],
              ["TIU busy ms", b.tiu_busy_ns / 1e6, a.tiu_busy_ns / 1e6],
              ["GDMA busy ms", b.gdma_busy_ns / 1e6, a.gdma_busy_ns / 1e6],
              ["parallelism", b.parallelism, a.parallelism],
              ["DDR MB", b.ddr_bytes / 1e6, a.ddr_bytes / 1e6],
              ["TIU commands", b.tiu_commands, a.tiu_commands],
              ["GDMA commands", b.gdma_commands, a.gdma_commands],
              ["global layers", b.global_layers, a.global_layers],
              ["groups", b.groups, a.groups]]
    rows = [[name, _fmt(x), _fmt(y), _fmt(y - x, sign=True)] for name, x, y in totals]
    c = diff.counts()
    parts = [(f"{title}\n" if title else "") + headline(diff),
             "\n" + format_table(["", b.label, a.label, "change"], rows),
             f"\nlayers: {c['kept']} in both ({c['faster']} faster, {c['slower']} slower), "
             f"{c['removed']} removed, {c['added']} added (matched by name: a renamed layer "
             f"is removed and added); {c['global_to_group']} moved from global into a group, "
             f"{c['group_to_global']} out of one\n"]
    kinds = [[k["kind"], _us(k["before_ns"]), _us(k["after_ns"]), _signed_us(k["delta_ns"]),
              k["removed"], k["added"]] for k in diff.by_kind()]
    parts.append("\nby operator kind (us, shares of the wall time)\n" + format_table(
        ["kind", "before", "after", "change", "removed", "added"], kinds))
    shown = diff.biggest(top if top is not None else len(diff.layers))
    what = f"the {len(shown)} biggest" if len(shown) < len(diff.layers) else "every layer"
    parts.append(f"\nper layer, {what}: share of the wall time (us) and why it changed\n"
                 + format_table(*_layer_lines(shown)))
    return "".join(parts)


def changes_text(diff: RunDiff, top: int = 5) -> str:
    """A short list of the biggest per-layer changes (for the terminal)."""
    return headline(diff) + format_table(*_layer_lines(diff.biggest(top)))


def _fmt(value: float, sign: bool = False) -> str:
    if isinstance(value, int):
        return f"{value:+d}" if sign else str(value)
    return f"{round(value, 3) + 0.0:+.3f}" if sign else f"{value:.3f}"


def save_comparison(before: Result, after: Result, directory: Path,
                    labels: tuple[str, str] = ("before", "after"), title: str = "",
                    runs: bool = True) -> RunDiff:
    """Write COMPARISON_FILES into `directory` (and, with `runs`, each run's RUN_FILES into
    before/ and after/): all of them or, on error, none. Returns the difference."""
    return save_comparisons([(before, after, Path(directory), labels, title)], runs,
                            workers=1)[0]


# before, after, the folder, the two runs' labels, the title
Job = tuple["Result", "Result", Path, tuple[str, str], str]


def save_comparisons(jobs: Sequence[Job], runs: bool = True,
                     workers: int | None = None) -> list[RunDiff]:
    """`save_comparison` for several pairs, their files drawn in `workers` processes (default:
    one per core; 1: here). Each folder is written whole or not at all."""
    diffs = [diff_runs(before, after, labels) for before, after, _, labels, _ in jobs]
    with ExitStack() as stack:
        tasks = []
        for (before, after, folder, labels, title), diff in zip(jobs, diffs):
            tmp = stack.enter_context(staged_directory(folder))
            tasks.append((_write_comparison, (before, after, tmp, labels,
                                              title or f"{labels[0]} vs {labels[1]}", diff)))
            for name, result in zip(RUN_DIRS, (before, after)) if runs else ():
                (tmp / name).mkdir()
                tasks.append((write_result_files, (result, tmp / name, True, False)))
        workers = min(len(tasks), workers or os.cpu_count() or 1)
        if workers <= 1:
            for fn, args in tasks:
                fn(*args)
        else:  # drawing figures is most of the time: spread it over the cores
            with ProcessPoolExecutor(workers) as pool:
                for done in [pool.submit(fn, *args) for fn, args in tasks]:
                    done.result()
    return diffs


def _write_comparison(before: Result, after: Result, tmp: Path, labels: tuple[str, str],
                      title: str, diff: RunDiff) -> None:
    (tmp / "timeline.html").write_text(timeline_html([before, after], labels, title),
                                       encoding="utf-8")
    (tmp / "trace.json").write_text(dumps_trace(comparison_trace([before, after], labels)),
                                    encoding="utf-8")
    plot_timelines([before, after], [tmp / "timeline.png", tmp / "timeline.svg"], labels)
    (tmp / "diff.txt").write_text(diff_text(diff, title), encoding="utf-8")
    write_csv(tmp / "diff.csv", diff_table(diff))
    (tmp / "diff.json").write_text(dumps_json({"title": title, **diff.to_dict()}),
                                   encoding="utf-8")
