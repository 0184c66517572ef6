"""What each subcommand does; the parser lives in tpusim.cli."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tpusim import study
from tpusim.api import Result, compile, simulate
from tpusim.cli.text import format_run, format_study, print_report, warning_lines
from tpusim.errors import TpusimError
from tpusim.frontend.load import load_model, model_label
from tpusim.hw.chip import field_names, list_chips, load_chip
from tpusim.ir.graph import Graph
from tpusim.limits import MAX_COMMANDS
from tpusim.options import parse_options
from tpusim.outputs import check_writable, dumps_json
from tpusim.passes.precision import parse_precision


def dispatch(args: argparse.Namespace) -> int:
    for name in ("out", "save"):  # refuse an output place that can never be written, up front
        if getattr(args, name, None):
            check_writable(getattr(args, name), is_file=args.command == "bench")
    if args.command in ("sweep", "sensitivity"):  # each command imports what it needs
        from tpusim.cli import studies
        return getattr(studies, args.command)(args)
    if args.command in ("validate", "fit"):
        from tpusim.cli import calibrate
        return getattr(calibrate, args.command)(args)
    if args.command == "diff":
        from tpusim.cli.compiled import diff
        return diff(args)
    if args.command == "examples":
        from tpusim.cli.examples import examples
        return examples(args)
    return {"run": run, "compare": compare, "chips": chips, "speed": speed,
            "bench": bench, "cache": cache}[args.command](args)


def cache(args: argparse.Namespace) -> int:
    from tpusim import cache as compile_cache

    if args.action == "clear":
        n = compile_cache.clear()
        sys.stdout.write(f"removed {n} compiled program{'s' if n != 1 else ''} from "
                         f"{compile_cache.directory()}\n")
        return 0
    found = compile_cache.info()
    state = "on" if found.enabled else "off (TPUSIM_NO_CACHE)"
    sys.stdout.write(f"compile cache: {found.directory}\n  {state}; {found.entries} compiled "
                     f"program{'s' if found.entries != 1 else ''}, "
                     f"{found.bytes / 2**20:.1f} MiB (at most "
                     f"{compile_cache.MAX_BYTES / 2**30:.0f} GiB, the oldest leave first)\n")
    return 0


def bench(args: argparse.Namespace) -> int:
    """Run a benchmark suite; with --check, exit 1 naming every entry that moved."""
    from tpusim.bench import check, read_baseline, read_suite, run_suite
    from tpusim.outputs import write_atomic

    suite = read_suite(args.suite)
    baseline = read_baseline(Path(args.check)) if args.check else None  # before any work
    results = run_suite(suite, load_chip(args.chip) if args.chip else None, args.max_commands,
                        args.timing)
    text = dumps_json(results)
    for path in (args.out, args.save):
        if path:
            write_atomic(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))
    if args.check:
        problems = check(results, baseline, suite.tolerance)
        for line in problems:
            sys.stdout.write(f"moved: {line}\n")
        sys.stdout.write(f"{len(results['entries'])} entries, {len(problems)} moved beyond "
                         f"{suite.tolerance:.2%} of {args.check}\n")
        return 1 if problems else 0
    if not args.out and not args.save:
        sys.stdout.write(text)
    return 0


def _load(args: argparse.Namespace) -> Graph:
    """The model; operators costed by the unknown-operator fallback get one warning line."""
    return warning_lines(lambda: load_model(args.model, args.batch, args.unknown_ops))


def _simulate(graph: Graph, chip_name: str, precision: str, opt: str = "after",
              max_commands: int = MAX_COMMANDS, timing: str = "chip", stream: int = 0) -> Result:
    result = study.run_one(graph, load_chip(chip_name), precision, parse_options(opt),
                           max_commands, timing, stream)
    result.info["batch"] = graph.batch
    return result


def run(args: argparse.Namespace) -> int:
    if args.model.lower().endswith((".mlir", ".mlir.gz")):  # compiled: no passes, no grouping
        from tpusim.cli.compiled import run_compiled

        return run_compiled(args)
    if args.vendor_profile:
        raise TpusimError("--vendor-profile goes with a program tpu-mlir compiled "
                          "(*_final.mlir), not with a model tpusim compiles")
    if args.stream < 0:
        raise TpusimError(f"--stream must be a number of inferences (>= 1), got {args.stream}")
    result = _simulate(_load(args), args.chip, args.precision, args.opt, args.max_commands,
                       args.timing or "chip", args.stream)
    if args.out:
        result.save(Path(args.out))

    def summary() -> dict:
        return {**result.summary(), "wall_s": round(time.perf_counter() - args.started, 3)}

    print_report(args, summary, lambda: format_run(result),
                 " (timeline.html, trace.json, timeline.png and .svg, roofline.png and .svg, "
                 "summaries as text, CSV and JSON)")
    return 0


def compare(args: argparse.Namespace) -> int:
    precisions = [parse_precision(p) for p in args.precisions.split(",") if p.strip()]
    if not precisions:
        raise TpusimError("--precisions names no precision")
    graph = _load(args)
    chip = load_chip(args.chip)
    model = model_label(args.model)
    rows = study.before_after(graph, chip, precisions, model, graph.batch, args.max_commands,
                              args.timing)
    ablation = study.ablation(graph, chip, precisions, args.max_commands, args.timing) \
        if args.ablation else []
    diffs = {}
    if args.out:
        from tpusim.profile.comparison import save_comparisons
        from tpusim.progress import report

        report(f"writing timelines and tables for {len(rows)} precisions")
        jobs = [(row.before, row.after, Path(args.out) / row.precision,
                 (f"{model} {row.precision} before", f"{model} {row.precision} after"),
                 f"{model} {row.precision} on {chip.name}: before vs after the optimisations")
                for row in rows]
        diffs = dict(zip((row.precision for row in rows), save_comparisons(jobs)))
    data = {"model": model, "chip": chip.name, "batch": graph.batch, "timing": args.timing,
            "rows": [row.to_dict() for row in rows]}
    if ablation:
        data["ablation"] = ablation
    def text() -> str:
        from tpusim.profile.comparison import changes_text

        return format_study(data) + "".join(
            f"\n{precision}: biggest per-layer changes (all in "
            f"{Path(args.out) / precision / 'diff.txt'})\n" + changes_text(diff)
            for precision, diff in diffs.items())

    print_report(args, lambda: data, text,
                 "<precision>/: both runs on one time axis (timeline.html, trace.json, "
                 "timeline.png and .svg), the per-layer difference (diff.txt, .csv, .json), "
                 "and each run's own outputs in before/ and after/")
    return 0


def chips(args: argparse.Namespace) -> int:
    if args.show:
        chip = load_chip(args.show)
        width = max(len(n) for n in field_names())
        for name in field_names():
            sys.stdout.write(f"{name:<{width}}  {getattr(chip, name)}\n")
        return 0
    for name in list_chips():
        sys.stdout.write(f"{name:<10}  {load_chip(name).description}\n")
    return 0


def speed(args: argparse.Namespace) -> int:
    """Simulator speed on one model: best of `repeat` runs, beside a bare simpy replay of the
    same queues, and how the wall time grows with the batch size."""
    try:
        batches = [int(b) for b in args.batches.split(",") if b.strip()]
    except ValueError:
        raise TpusimError(f"--batches {args.batches!r}: expected batch sizes such as 1,4,16") \
            from None
    data = speed_report(args.model, args.precision, max(1, args.repeat), batches, args.timing)
    if args.json:
        sys.stdout.write(dumps_json(data))
        return 0
    for row in data["runs"]:
        sys.stdout.write(
            f"{data['model']} {data['precision']} batch {row['batch']}: {row['commands']} "
            f"commands; compile {row['compile_s']:.3f} s, simulate {row['simulate_s']:.3f} s = "
            f"{row['commands_per_s']:,.0f} commands/s; bare simpy replay "
            f"{row['replay_s']:.3f} s (tpusim / bare = {row['ratio']:.2f})\n")
    return 0


def speed_report(model: str, precision: str, repeat: int, batches: list[int],
                 timing: str = "chip") -> dict:
    from tpusim.sim.replay import bare_replay

    chip = load_chip("bm1684x")
    runs = []
    for batch in batches or [1]:
        graph = load_model(model, batch)
        best = {"compile_s": float("inf"), "simulate_s": float("inf"), "replay_s": float("inf")}
        for _ in range(repeat):
            t0 = time.perf_counter()
            program = compile(graph, chip, precision, cache=False)  # the compiler's own time
            t1 = time.perf_counter()
            result = simulate(program, chip, timing)
            t2 = time.perf_counter()
            queues = replay_queues(result)
            t3 = time.perf_counter()
            bare_replay(*queues)
            t4 = time.perf_counter()
            for key, value in (("compile_s", t1 - t0), ("simulate_s", t2 - t1),
                               ("replay_s", t4 - t3)):
                best[key] = min(best[key], value)
        commands = program.commands
        runs.append({"batch": batch, "commands": commands, "simulated_ms": result.total_ms,
                     **{k: round(v, 4) for k, v in best.items()},
                     "commands_per_s": round(commands / best["simulate_s"]),
                     "ratio": round(best["simulate_s"] / best["replay_s"], 3)})
    return {"model": model, "precision": precision, "timing": timing, "repeat": repeat,
            "runs": runs}


def replay_queues(result: Result) -> tuple[list, list]:
    """The simulated durations and waits of each queue, for the bare replay."""
    by = {"TIU": {}, "GDMA": {}}
    for r in result.records:
        by[r.engine][r.cmd_id] = (r.duration_ns, r.dep)
    return ([by["TIU"][i] for i in sorted(by["TIU"])],
            [by["GDMA"][i] for i in sorted(by["GDMA"])])
