"""`save_result`: everything a run writes with --out, staged and renamed into place."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from tpusim.outputs import dumps_json, staged_directory
from tpusim.profile.plot import plot_timeline
from tpusim.profile.summary import layer_rows
from tpusim.profile.trace import chrome_trace

if TYPE_CHECKING:
    from tpusim.api import Result


def save_result(result: Result, directory: Path) -> list[Path]:
    """Write trace.json, timeline.png, summary.json and layers.csv into `directory`."""
    names = ["summary.json", "layers.csv", "trace.json", "timeline.png"]
    with staged_directory(directory) as tmp:
        summary = {k: v for k, v in result.summary().items() if k != "sim_wall_s"}
        (tmp / "summary.json").write_text(dumps_json(summary))
        _write_layers(result, tmp / "layers.csv")
        (tmp / "trace.json").write_text(dumps_json(chrome_trace(result.program, result.records)))
        plot_timeline(result.program, result.records, tmp / "timeline.png")
    return [directory / n for n in names]


def _write_layers(result: Result, path: Path) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["index", "layer", "kind", "group", "start_us", "end_us", "span_us",
                      "tiu_us", "gdma_us", "tiu_cmds", "gdma_cmds", "ddr_bytes", "macs", "bound"])
        for row in layer_rows(result.program, result.records):
            out.writerow([row.index, row.name, row.kind, row.group, f"{row.start_ns / 1e3:.3f}",
                          f"{row.end_ns / 1e3:.3f}", f"{row.span_ns / 1e3:.3f}",
                          f"{row.tiu_ns / 1e3:.3f}", f"{row.gdma_ns / 1e3:.3f}",
                          row.tiu_commands, row.gdma_commands, row.ddr_bytes, row.macs,
                          row.bound])
