"""What each subcommand does; the parser lives in tpusim.cli."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from tpusim import study
from tpusim.api import Result, compile, simulate
from tpusim.cli.text import format_run, format_study
from tpusim.errors import TpusimError
from tpusim.frontend.load import load_model
from tpusim.frontend.onnx_import import UnknownOperatorWarning
from tpusim.hw.chip import field_names, list_chips, load_chip
from tpusim.ir.graph import Graph
from tpusim.options import parse_options
from tpusim.outputs import dumps_json
from tpusim.passes.precision import parse_precision


def dispatch(args: argparse.Namespace) -> int:
    return {"run": run, "compare": compare, "chips": chips, "speed": speed}[args.command](args)


def _load(args: argparse.Namespace) -> Graph:
    """The model; operators costed by the unknown-operator fallback get one warning line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownOperatorWarning)
        graph = load_model(args.model, args.batch, args.unknown_ops)
    for w in caught:
        if issubclass(w.category, UnknownOperatorWarning):
            sys.stderr.write(f"tpusim: warning: {w.message}\n")
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return graph


def _simulate(graph: Graph, chip_name: str, precision: str, opt: str = "after") -> Result:
    chip = load_chip(chip_name)
    options = parse_options(opt)
    result = simulate(compile(graph, chip, precision, options), chip)
    result.info["batch"] = _batch(graph)
    result.info["opt"] = options.label()
    return result


def _batch(graph: Graph) -> int:
    return graph.tensors[graph.inputs[0]].shape[0] if graph.inputs else 1


def run(args: argparse.Namespace) -> int:
    result = _simulate(_load(args), args.chip, args.precision, args.opt)
    if args.out:
        result.save(Path(args.out))
    if args.json:
        sys.stdout.write(dumps_json(result.summary()))
    else:
        sys.stdout.write(format_run(result))
        if args.out:
            sys.stdout.write(f"wrote {args.out}/ (timeline.html, trace.json, timeline.png and "
                             ".svg, summaries as text, CSV and JSON)\n")
    return 0


def compare(args: argparse.Namespace) -> int:
    precisions = [parse_precision(p) for p in args.precisions.split(",") if p.strip()]
    if not precisions:
        raise TpusimError("--precisions names no precision")
    graph = _load(args)
    chip = load_chip(args.chip)
    model = Path(args.model).stem if args.model.endswith((".onnx", ".mlir")) else args.model
    rows = study.before_after(graph, chip, precisions, model, _batch(graph))
    ablation = study.ablation(graph, chip, precisions) if args.ablation else []
    if args.out:
        for row in rows:
            for label, result in (("before", row.before), ("after", row.after)):
                result.save(Path(args.out) / row.precision / label)
    data = {"model": model, "chip": chip.name, "batch": _batch(graph),
            "rows": [row.to_dict() for row in rows]}
    if ablation:
        data["ablation"] = ablation
    if args.json:
        sys.stdout.write(dumps_json(data))
        return 0
    sys.stdout.write(format_study(data))
    if args.out:
        sys.stdout.write(f"wrote before and after timelines under {args.out}/<precision>/\n")
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
    """Simulator speed on one model: best of `repeat` runs of compile and simulate."""
    chip = load_chip("bm1684x")
    graph = load_model(args.model)
    best_compile = best_sim = float("inf")
    result = None
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        program = compile(graph, chip, args.precision)
        t1 = time.perf_counter()
        result = simulate(program, chip)
        t2 = time.perf_counter()
        best_compile, best_sim = min(best_compile, t1 - t0), min(best_sim, t2 - t1)
    assert result is not None
    commands = result.program.commands
    data = {"model": args.model, "precision": args.precision, "commands": commands,
            "compile_s": round(best_compile, 4), "simulate_s": round(best_sim, 4),
            "commands_per_s": round(commands / best_sim), "simulated_ms": result.total_ms}
    if args.json:
        sys.stdout.write(dumps_json(data))
    else:
        sys.stdout.write(
            f"{args.model} {args.precision}: {commands} commands; compile {best_compile:.3f} s, "
            f"simulate {best_sim:.3f} s = {commands / best_sim:,.0f} commands/s "
            f"(best of {max(1, args.repeat)})\n")
    return 0
