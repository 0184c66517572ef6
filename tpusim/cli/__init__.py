"""The command line: `tpusim run | compare | diff | chips | speed | validate | fit | examples |
cache | bench | sweep | sensitivity` (`tpusim -h` says what each does).

Exit codes: 0 success, 2 bad input (one line on stderr), 1 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Sequence

from tpusim import __version__
from tpusim.errors import TpusimError
from tpusim.limits import MAX_COMMANDS


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _timing(p: argparse.ArgumentParser, default: str | None = "chip",
            said: str = "chip") -> None:
    p.add_argument("--timing", choices=("chip", "vendor"), default=default,
                   help="chip: as the chip runs it (tpu-mlir's per-command model corrected by "
                        "the profile's fitted [chip_timing]); vendor: tpu-mlir's model alone, "
                        f"as its profile reports it (default {said})")


def _silicon_files(parser: argparse.ArgumentParser) -> None:
    """What `validate --silicon` and `fit --silicon` read beside the chip times, and write."""
    parser.add_argument("--models", metavar="DIR",
                        help="with --silicon: tpu-mlir's compiles of the networks "
                             "(summary.csv), for its estimate beside each row (default "
                             "DIR/../tpu-mlir/models)")
    parser.add_argument("--out", help="with --silicon: directory for silicon.csv, .json and "
                                      "the plots silicon.png, .svg")


def _no_cache(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-cache", action="store_true",
                   help="compile without the compile cache (also TPUSIM_NO_CACHE=1)")


def _max_commands(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-commands", type=_positive_int, default=MAX_COMMANDS, metavar="N",
                   help=f"stop compiling a program beyond N commands (default {MAX_COMMANDS:,}"
                        ", a few GB of memory)")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every bad input
        if "required: command" in message:  # no command: say which there are
            commands = next(a for a in self._actions
                            if isinstance(a, argparse._SubParsersAction)).choices
            message = (f"give a command: {', '.join(commands)} (`{self.prog} COMMAND -h` "
                       "says what each does)")
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tpusim", description="Cycle-approximate BM1684X TPU simulator.")
    parser.add_argument("--version", action="version", version=f"tpusim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def model_args(p: argparse.ArgumentParser, timing: str | None = "chip",
                   said: str = "chip") -> None:
        p.add_argument("model", help="built-in model name (swin-t, swin-s, swin-b) or a file")
        p.add_argument("--chip", default="bm1684x", help="chip name or profile path")
        p.add_argument("--batch", type=int, default=None,
                       help="batch size (default 1, or the model file's own)")
        p.add_argument("--unknown-ops", choices=("error", "fallback"), default="error",
                       help="ONNX operators tpusim does not know: stop with an error (default) "
                            "or cost them as memory-bound element-wise work, with a warning")
        _timing(p, timing, said)
        _max_commands(p)
        _no_cache(p)

    opt_help = ("optimisations: after (all, the default), before (none), or a comma list of "
                "names or steps (see `tpusim compare --ablation`)")

    run = sub.add_parser("run", help="simulate one model at one precision")
    model_args(run, None, "chip; vendor with --vendor-profile")
    run.add_argument("--precision", default="f16",
                     help="f32, f16, bf16 or int8 (default f16; a final.mlir runs as compiled, "
                          "so --precision and --opt do not apply to it)")
    run.add_argument("--opt", default="after", help=opt_help)
    run.add_argument("--out", help="directory for the timeline and summaries")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--stream", type=int, default=0, metavar="N",
                     help="run N inferences back to back, the host uploading inputs and "
                          "downloading outputs while the TPU computes: report latency and "
                          "throughput")
    run.add_argument("--vendor-profile", metavar="PROFILE",
                     help="with a tpu-mlir *_final.mlir: its compiler_profile_0.txt (or "
                          "net_stat.sim), compared command kind by kind and layer by layer, "
                          "and drawn beside tpusim's timeline with --out")

    compare = sub.add_parser("compare", help="before/after the optimisations, per precision, "
                                             "beside measured times where known")
    model_args(compare)
    compare.add_argument("--precisions", default="f32,f16,int8",
                         help="comma-separated precisions (default f32,f16,int8)")
    compare.add_argument("--ablation", action="store_true",
                         help="add one row per optimisation: the time with only it switched off")
    compare.add_argument("--out", help="directory for the before and after timelines")
    compare.add_argument("--json", action="store_true", help="print one JSON object")

    diff = sub.add_parser("diff", help="tpusim's compile of an ONNX file beside tpu-mlir's "
                                       "compile of it: totals, grouping, layers")
    model_args(diff, "vendor", "vendor: beside tpu-mlir's estimate, priced as it prices")
    diff.add_argument("--vendor", required=True, metavar="DIR",
                      help="tpu-mlir's outputs for the file: a folder with its *_final.mlir "
                           "and compiler_profile_0.txt (gzipped or not), or with one such "
                           "folder per precision (F16/, INT8/, ...)")
    diff.add_argument("--precision", default="f16", help="f32, f16, bf16 or int8 (default f16)")
    diff.add_argument("--opt", default="after", help=opt_help)
    diff.add_argument("--top", type=_positive_int, default=12,
                      help="rows of each table printed, largest differences first (default "
                           "12; --out and --json hold all)")
    diff.add_argument("--out", help="directory for diff.txt and its tables (CSV, JSON)")
    diff.add_argument("--json", action="store_true", help="print one JSON object")

    chips = sub.add_parser("chips", help="list the chip profiles")
    chips.add_argument("--show", metavar="CHIP", help="print every field of one profile")

    speed = sub.add_parser("speed", help="how fast the simulator runs (wall time, commands/s, "
                                         "against a bare simpy replay)")
    speed.add_argument("model", nargs="?", default="swin-t",
                       help="built-in model name or a file (default swin-t)")
    speed.add_argument("--precision", default="f16", help="f32, f16, bf16 or int8 (default f16)")
    speed.add_argument("--repeat", type=_positive_int, default=3,
                       help="runs to time, the best is reported (default 3)")
    speed.add_argument("--batches", default="1", help="batch sizes to time, e.g. 1,4,16")
    speed.add_argument("--json", action="store_true", help="print one JSON object")
    _timing(speed)

    validate = sub.add_parser("validate", help="tpusim against tpu-mlir's per-command model, "
                                               "the chip's measured Swin-T times, and "
                                               "published chip times")
    validate.add_argument("--data",
                          help="tpu-mlir's output folder (with micro/cases.csv)")
    validate.add_argument("--chip", default="bm1684x",
                          help="chip name or profile path (default bm1684x)")
    validate.add_argument("--no-article", action="store_true",
                          help="skip the Swin-T table (the single-operator cases only)")
    validate.add_argument("--networks", metavar="ONNX_DIR",
                          help="also compile every network of DATA/models/summary.csv from "
                               "its ONNX file in ONNX_DIR and compare with tpu-mlir's estimate")
    validate.add_argument("--silicon", metavar="DIR",
                          help="published chip times (DIR/chip_times.csv, the networks beside "
                               "it): every row predicted by the profile as committed, beside "
                               "tpu-mlir's estimate (instead of --data's tables)")
    _silicon_files(validate)
    validate.add_argument("--json", action="store_true", help="print one JSON object")
    _no_cache(validate)

    fit = sub.add_parser("fit", help="fit the profile's chip timing to published chip times "
                                     "(--silicon), or its DMA efficiencies to tpu-mlir's "
                                     "model (--data)")
    source = fit.add_mutually_exclusive_group(required=True)
    source.add_argument("--silicon", metavar="DIR",
                        help="published chip times (DIR/chip_times.csv): fit the [chip_timing] "
                             "fields, cross-validate network by network, write the values to "
                             "the profile")
    source.add_argument("--data", help="tpu-mlir's output folder (with micro/commands.csv): "
                                       "print DMA efficiencies fitted to its model")
    fit.add_argument("--chip", default="bm1684x",
                     help="the profile to fit and write (name or path; default bm1684x)")
    _silicon_files(fit)
    fit.add_argument("--fields", metavar="A,B",
                     help="with --silicon: fit these [chip_timing] fields (default: the ones "
                          "cross-validation kept: kernel efficiency, short-row cost, "
                          "contention)")
    fit.add_argument("--dry-run", action="store_true",
                     help="with --silicon: print, do not write the profile")
    fit.add_argument("--json", action="store_true",
                     help="with --silicon: print one JSON object")
    _no_cache(fit)

    examples = sub.add_parser("examples", help="write example inputs (a program tpu-mlir "
                                               "compiled, its cycles, chip times) to try the "
                                               "commands that read files")
    examples.add_argument("directory", help="a new (or empty) directory")

    cache = sub.add_parser("cache", help="the compile cache: where it is and what it holds "
                                         "(info), or empty it (clear)")
    cache.add_argument("action", choices=("info", "clear"))

    bench = sub.add_parser("bench", help="run a regression benchmark suite (TOML)")
    bench.add_argument("suite", nargs="?", default="benchmarks/suite.toml",
                       help="the suite (TOML; default benchmarks/suite.toml, relative to the "
                            "current folder)")
    bench.add_argument("--chip", help="override the suite's chip (name or profile path)")
    bench.add_argument("--timing", choices=("chip", "vendor"),
                       help="override every entry's timing model (default: each entry's own, "
                            "else chip)")
    bench.add_argument("--out", help="write the results (JSON) here")
    bench.add_argument("--save", help="write the results as a new baseline here")
    bench.add_argument("--check", metavar="BASELINE",
                       help="exit 1, naming every entry whose time moved beyond the tolerance")
    _max_commands(bench)
    _no_cache(bench)

    def study_args(p: argparse.ArgumentParser) -> None:  # sweep and sensitivity
        model_args(p)
        p.add_argument("--precision", default="f16", help="f32, f16, bf16 or int8 (default f16)")
        p.add_argument("--opt", default="after", help=opt_help)
        p.add_argument("--recompile", action="store_true",
                       help="compile every point for its own chip (default: once per "
                            "compiler-relevant setting, with the base chip's timing)")
        p.add_argument("--executor", default="process",
                       help="process (every local core, the default), serial, or "
                            "dask://HOST:PORT (a Dask scheduler; needs tpusim[dask])")
        p.add_argument("--workers", type=_positive_int, default=None,
                       help="local processes (default: one per core)")
        p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="a progress line on stderr (default: when stderr is a terminal)")
        p.add_argument("--json", action="store_true", help="print one JSON object")

    sweep = sub.add_parser("sweep", help="what-if: the cross product of chip fields and "
                                         "compiler settings")
    study_args(sweep)
    sweep.add_argument("--set", action="append", required=True, metavar="FIELD=V1,V2,...",
                       help="a chip field (any, see `tpusim chips --show bm1684x`), precision, "
                            "opt (join names with '+') or batch, and its values; lo:hi:n for n "
                            "evenly spaced values; repeat for more parameters")
    sweep.add_argument("--out", help="directory for sweep.csv, sweep.json and sweep.png")

    sensitivity = sub.add_parser("sensitivity", help="what-if: each chip field moved down and "
                                                     "up, the effects ranked (tornado chart)")
    study_args(sensitivity)
    sensitivity.add_argument("--params", default=None,
                             help="comma-separated chip fields (default: the clocks, DDR "
                                  "bandwidth, read and write efficiencies, GDMA width, minimum "
                                  "DDR access)")
    sensitivity.add_argument("--delta", type=float, default=0.2,
                             help="fraction each parameter moves down and up (default 0.2)")
    sensitivity.add_argument("--out", help="directory for sensitivity.csv, .json and "
                                           "tornado.png, .svg")
    for p in sub.choices.values():
        p.add_argument("-q", "--quiet", action="store_true",
                       help="no progress line on stderr (shown only on a terminal anyway)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = _parser().parse_args(argv)
    args.started = started  # `run --json` reports the command's wall time
    if getattr(args, "no_cache", False):
        os.environ["TPUSIM_NO_CACHE"] = "1"  # for this process and the workers it starts
    from tpusim.cli import tasks
    from tpusim.cli.text import StatusLine

    try:
        with StatusLine(quiet=args.quiet):  # long work says what it is doing, on a terminal
            return tasks.dispatch(args)
    except TpusimError as exc:
        sys.stderr.write(f"tpusim: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("tpusim: interrupted\n")
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `tpusim ... | head`): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: say so briefly, keep the traceback for those who ask
        if os.environ.get("TPUSIM_DEBUG"):
            traceback.print_exc()
        sys.stderr.write(f"tpusim: internal error: {type(exc).__name__}: {exc} "
                         "(set TPUSIM_DEBUG=1 for the traceback)\n")
        return 1
