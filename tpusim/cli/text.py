"""Plain-text rendering for the terminal."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tpusim.frontend.onnx_import import UnknownOperatorWarning
from tpusim.outputs import dumps_json
from tpusim.profile.summary import group_rows, kind_rows, layer_rows, time_shares
from tpusim.progress import reporting

if TYPE_CHECKING:
    from tpusim.sim.result import Result


T = TypeVar("T")


def warning_lines(call: Callable[[], T]) -> T:
    """Run `call`; each operator costed by the unknown-operator fallback is reported once, as
    one line on stderr; other warnings are shown as Python shows them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownOperatorWarning)
        value = call()
    unknown = [w for w in caught if issubclass(w.category, UnknownOperatorWarning)]
    for message in dict.fromkeys(str(w.message) for w in unknown):
        sys.stderr.write(f"tpusim: warning: {message}\n")
    for w in caught:
        if w not in unknown:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return value


def print_report(args: argparse.Namespace, data: Callable[[], Any], text: Callable[[], str],
                 written: str) -> None:
    """With --json the data as one JSON object; else the text and, with --out, a line saying
    what was written there (`written` follows the folder's name)."""
    if args.json:
        sys.stdout.write(dumps_json(data()))
        return
    sys.stdout.write(text())
    if args.out:
        sys.stdout.write(f"wrote {Path(args.out)}/{written}\n")


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns right-aligned except the first."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = (str(c) for c in cells)
        return "  ".join([first.ljust(widths[0])] + [c.rjust(w) for c, w in
                                                      zip(rest, widths[1:])]).rstrip() + "\n"

    return line(header) + line(["-" * w for w in widths]) + "".join(line(r) for r in rows)


def format_run(result: Result, top: int = 8) -> str:
    s = result.summary()
    total = s["total_ms"] or 1.0
    head = (f"{s['model']} on {s['chip']}, {s['precision']}, batch {s.get('batch', 1)}\n"
            f"  total        {s['total_ms']:10.3f} ms\n"
            f"  TIU busy     {s['tiu_busy_ms']:10.3f} ms  "
            f"({100 * s['tiu_busy_ms'] / total:.1f} %)\n"
            f"  GDMA busy    {s['gdma_busy_ms']:10.3f} ms  "
            f"({100 * s['gdma_busy_ms'] / total:.1f} %)\n"
            f"  DDR traffic  {s['ddr_bytes'] / 1e6:10.1f} MB\n"
            f"  commands     {s['tiu_commands']} TIU, {s['gdma_commands']} GDMA\n"
            f"  layers       {s['global_layers']} global, {s['groups']} groups\n"
            f"  stalls       {s['lmem_stall_ms']:10.3f} ms local memory (banks), "
            f"{s['ddr_stall_ms']:.3f} ms DDR\n"
            + (f"  cores        {s['cores']}, batch {s['core_batches']} (counts are the "
               "first core's)\n" if s.get("cores") else "")
            + (f"  stream       {s['stream']} inferences: latency {s['latency_ms']:.3f} ms "
               f"(worst {s['latency_max_ms']:.3f}), {s['throughput_per_s']:.1f} per s\n"
               if s.get("stream") else "")
            + f"  simulated in {s['sim_wall_s']:.2f} s\n\n")
    kinds = kind_rows(layer_rows(result.program, result.records),
                      time_shares(result.records, result.total_ns)[0])[:top]
    rows = [[k["kind"], str(k["layers"]), f"{k['time_ns'] / 1e6:.3f}",
             f"{100 * k['time_ns'] / 1e6 / total:.1f}", f"{k['tiu_ns'] / 1e6:.3f}",
             f"{k['gdma_ns'] / 1e6:.3f}"] for k in kinds]
    title = "time by operator kind (wall time; layers running at once share it)\n"
    text = head + title + format_table(["kind", "layers", "ms", "%", "TIU ms", "GDMA ms"], rows)
    return text + format_groups(result, top)


def format_groups(result: Result, top: int = 8) -> str:
    """The layer groups: how many, how big, the slowest ones, simulation against tpu-mlir's
    own formula."""
    groups = group_rows(result.program, result.records)
    if not groups:
        return ""
    sizes = sorted(g.ops for g in groups)
    ratios = sorted(g.estimate_ratio for g in groups if g.estimate_ns)
    text = (f"\nlayer groups: {len(groups)}, {sum(sizes)} ops in groups "
            f"(median {statistics.median(sizes):g}, largest {sizes[-1]}), "
            f"{sum(1 for g in groups if g.slices > 1)} sliced\n")
    if ratios:
        worst = max(ratios, key=lambda r: abs(r - 1))
        text += (f"simulated / tpu-mlir formula per group: median {statistics.median(ratios):.3f}"
                 f", worst {worst:.3f}\n")
    slow = sorted(groups, key=lambda g: -g.span_ns)[:top]
    rows = [[str(g.group), f"{g.first} .. {g.last}", str(g.ops), g.secs, f"{g.span_ns / 1e3:.1f}",
             f"{g.estimate_ns / 1e3:.1f}", f"{g.parallelism:.2f}", g.bound] for g in slow]
    return text + "slowest groups\n" + format_table(
        ["group", "ops", "n", "slices", "sim us", "formula us", "overlap", "bound"], rows)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.1f}%"


def format_study(data: dict) -> str:
    """The article's table: per precision, before and after, speed-up, measured, error."""
    rows = data["rows"]
    measured = any("measured" in r for r in rows)
    header = ["precision", "before ms", "after ms", "speed-up"]
    if measured:
        header += ["chip before", "chip after", "chip x", "err before", "err after", "err x"]
    table = []
    for r in rows:
        line = [r["precision"], f"{r['before_ms']:.3f}", f"{r['after_ms']:.3f}",
                "-" if r["speedup"] is None else f"{r['speedup']:.2f}x"]
        if measured:
            m, e = r.get("measured", {}), r.get("error", {})
            line += [f"{m['before']:.3f}" if "before" in m else "-",
                     f"{m['after']:.3f}" if "after" in m else "-",
                     f"{m['speedup']:.2f}x" if "speedup" in m else "-",
                     _pct(e.get("before")) or "-", _pct(e.get("after")) or "-",
                     _pct(e.get("speedup")) or "-"]
        table.append(line)
    timing = f" ({data['timing']} timing)" if data.get("timing") else ""
    text = (f"{data['model']} on {data['chip']}, batch {data['batch']}{timing}: simulated "
            f"before -> after the optimisations" + (", beside the chip's measured times" if measured
                                          else "") + "\n" + format_table(header, table))
    if data.get("ablation"):
        precisions = [r["precision"] for r in rows]
        after = {r["precision"]: r["after_ms"] for r in rows}
        ab = [[("step: " if a["step"] else "  ") + a["off"]]
              + [f"{a['ms'][p]:.3f}" + (f" ({a['ms'][p] / after[p] - 1:+.0%})" if after[p] else "")
                 for p in precisions]
              for a in data["ablation"]]
        text += ("\nablation: everything after, but this off (ms, and change from after)\n"
                 + format_table(["switched off", *precisions], ab))
    return text


class StatusLine:
    """Progress of long work as one line on stderr, rewritten in place with the time so far -
    only on a terminal (logs and pipes get nothing) and unless `quiet`. Within the block it
    receives `tpusim.progress.report` messages; it clears itself, and says no more, once the
    command starts printing its result."""

    def __init__(self, stream: Any = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.on = not quiet and self.stream.isatty()
        self.shown = 0
        self._start = time.monotonic()
        self._last = 0.0

    def __call__(self, message: str) -> None:
        if not self.on:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return  # redrawing more often only costs time
        self._last = now
        text = f"tpusim: {message} ({now - self._start:.0f} s)"[:110]
        self.stream.write("\r" + text.ljust(self.shown))
        self.stream.flush()
        self.shown = len(text)

    def finish(self) -> None:
        """Clear the line and show nothing more."""
        self.on = False
        if self.shown:
            self.stream.write("\r" + " " * self.shown + "\r")
            self.stream.flush()
            self.shown = 0

    def __enter__(self) -> StatusLine:
        self._context = reporting(self)
        self._context.__enter__()
        self._stdout = sys.stdout
        if self.on:
            sys.stdout = _FirstWrite(self._stdout, self.finish)  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self._stdout
        self._context.__exit__(*exc)
        self.finish()


class _FirstWrite:
    """A stream that calls `before` once, before the first write goes through."""

    def __init__(self, stream: Any, before: Callable[[], None]) -> None:
        self._stream, self._before = stream, before

    def write(self, text: str) -> int:
        if self._before is not None:
            self._before()
            self._before = None
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
