"""`save_result`: everything a run writes with --out, staged and renamed into place."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tpusim.outputs import dumps_json, staged_directory
from tpusim.profile.html import timeline_html
from tpusim.profile.lmem_map import lmem_table
from tpusim.profile.plot import plot_timeline
from tpusim.profile.roofline import plot_roofline, roofline_table
from tpusim.profile.tables import (
    engine_table,
    group_table,
    kpi_table,
    layer_table,
    profile_json,
    summary_json,
    summary_text,
    tpu_profile_detail,
    tpu_profile_summary,
    write_csv,
)
from tpusim.profile.trace import chrome_trace, dumps_trace

if TYPE_CHECKING:
    from tpusim.sim.result import Result

# What --out writes, with what each file is for (the README and `tpusim run` list them).
OUTPUT_FILES = {
    "timeline.html": "interactive timeline, opens offline in any browser",
    "trace.json": "Chrome trace (Perfetto, chrome://tracing)",
    "timeline.png": "static timeline",
    "timeline.svg": "static timeline, vector",
    "roofline.png": "global layers and layer groups under the compute and DDR roofs",
    "roofline.svg": "the roofline, vector",
    "roofline.csv": "the roofline's points: intensity, achieved and attainable throughput",
    "summary.txt": "every table as text",
    "summary.json": "headline numbers, KPIs, engines",
    "profile.json": "every table with nanosecond values",
    "kpis.csv": "TIU working ratio, parallelism, concurrency, DDR, uArch rate",
    "layers.csv": "per layer",
    "groups.csv": "per layer group",
    "lmem.csv": "the local-memory map: each buffer's address, banks and time, slice by slice",
    "engines.csv": "per engine",
    "summary.csv": "tpu_profile's summary.csv columns",
    "detail.csv": "tpu_profile's detail.csv columns",
}


FIGURES = ("timeline.png", "timeline.svg", "roofline.png", "roofline.svg")


def save_result(result: Result, directory: Path) -> list[Path]:
    """Write every file of OUTPUT_FILES into `directory`: all of them or, on error, none."""
    with staged_directory(directory) as tmp:
        write_result_files(result, tmp)
    return [directory / name for name in OUTPUT_FILES]


def write_result_files(result: Result, tmp: Path, timeline: bool = True,
                       figures: bool = True) -> None:
    """OUTPUT_FILES into a staging folder; without `timeline`, all but timeline.html and
    trace.json (a comparison of tpu-mlir's profile writes its own); without `figures`, all but
    the static FIGURES (what takes the time: a before/after comparison draws both runs on one
    axis instead)."""
    if timeline:
        (tmp / "timeline.html").write_text(timeline_html([result]), encoding="utf-8")
        (tmp / "trace.json").write_text(dumps_trace(chrome_trace(result)), encoding="utf-8")
    if figures:
        plot_timeline(result, [tmp / "timeline.png", tmp / "timeline.svg"])  # drawn once each
        plot_roofline(result, [tmp / "roofline.png", tmp / "roofline.svg"])
    (tmp / "summary.txt").write_text(summary_text(result), encoding="utf-8")
    (tmp / "summary.json").write_text(dumps_json(summary_json(result)), encoding="utf-8")
    (tmp / "profile.json").write_text(dumps_json(profile_json(result)), encoding="utf-8")
    for name, table in (("kpis.csv", kpi_table), ("layers.csv", layer_table),
                        ("groups.csv", group_table), ("lmem.csv", lmem_table),
                        ("engines.csv", engine_table),
                        ("summary.csv", tpu_profile_summary), ("detail.csv", tpu_profile_detail),
                        ("roofline.csv", roofline_table)):
        write_csv(tmp / name, table(result))
