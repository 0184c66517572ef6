"""`tpusim run` on a program tpu-mlir compiled (`*_final.mlir`, `.mlir.gz`), optionally beside
tpu-mlir's own profile of it (`--vendor-profile compiler_profile_0.txt`).

The program runs as compiled: --precision and --opt do not apply (the file says every dtype and
every group), and its batch is the file's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tpusim.api import Result, load_program, simulate
from tpusim.cli.text import format_run, print_report, warning_lines
from tpusim.errors import ModelError
from tpusim.hw.chip import load_chip
from tpusim.profile.vendor_compare import (
    VENDOR_FILES,
    compare_vendor,
    comparison_text,
    save_vendor_comparison,
)
from tpusim.profile.vendor_records import read_vendor_result

_SHOWN_LAYERS = 15  # layers printed under the comparison (the files hold all)


def run_compiled(args: argparse.Namespace) -> int:
    chip = load_chip(args.chip)
    program = warning_lines(lambda: load_program(args.model, chip, args.max_commands))
    graph = program.graph
    batch = graph.batch if graph is not None else 1
    if args.batch is not None and args.batch != batch:
        raise ModelError(f"{args.model}: compiled for batch {batch}; --batch cannot change a "
                         "compiled program")
    vendor = read_vendor_result(args.vendor_profile, program, chip) \
        if args.vendor_profile else None
    # beside the vendor's profile, priced as the vendor prices, unless asked otherwise
    timing = args.timing or ("vendor" if vendor is not None else "chip")
    result = simulate(program, chip, timing)
    result.info.update(batch=batch, source="tpu-mlir final.mlir")
    comparison = compare_vendor(result, vendor) if vendor is not None else None
    if args.out:
        if vendor is not None and comparison is not None:
            save_vendor_comparison(result, vendor, comparison, Path(args.out))
        else:
            result.save(Path(args.out))

    def data() -> dict:
        summary = result.summary()
        if vendor is not None and comparison is not None:
            summary["vendor"] = _vendor_summary(vendor, comparison)
        summary["wall_s"] = round(time.perf_counter() - args.started, 3)
        return summary

    def text() -> str:
        if comparison is None:
            return format_run(result)
        return (format_run(result) + f"\nagainst tpu-mlir's profile {args.vendor_profile}\n"
                + comparison_text(comparison, top=_SHOWN_LAYERS))

    both = " (both runs on one time axis)" if vendor is not None else ""
    print_report(args, data, text,
                 f" (timeline.html and trace.json{both}, timeline.png and .svg, the roofline, "
                 "summaries as text, CSV and JSON"
                 + (", " + ", ".join(VENDOR_FILES) if vendor else "") + ")")
    return 0


def _vendor_summary(vendor: Result, comparison) -> dict:
    return {"total_ms": round(vendor.total_ms, 6), "tiu_commands": len(vendor.program.tiu),
            "gdma_commands": len(vendor.program.gdma),
            "ratio": None if comparison.total_ratio is None else round(comparison.total_ratio, 6),
            "layers_with_other_command_counts": len(comparison.mismatched)}


def _vendor_files(folder: Path, precision: str) -> tuple[Path, Path]:
    """tpu-mlir's final.mlir and compiler_profile_0.txt (each gzipped or not) in `folder`, or in
    its subfolder named after the precision (F16/, INT8/, ...), as tpu-mlir's outputs are laid
    out in ../shared/tpu-mlir/models/<network>/."""
    if not folder.is_dir():
        raise ModelError(f"--vendor {folder}: not a folder")
    for place in (folder, folder / precision.upper()):
        programs = sorted(p for p in place.glob("*_final.mlir*")
                          if p.name.endswith(("_final.mlir", "_final.mlir.gz")))
        if programs:
            profiles = [p for name in ("compiler_profile_0.txt", "compiler_profile_0.txt.gz")
                        if (p := place / name).is_file()]
            if not profiles:
                raise ModelError(f"{place}: has {programs[0].name} but no "
                                 "compiler_profile_0.txt(.gz) to time it with")
            if len(programs) > 1:
                raise ModelError(f"{place}: more than one *_final.mlir ({programs[0].name}, "
                                 f"{programs[1].name}); name the folder of one")
            return programs[0], profiles[0]
    raise ModelError(f"--vendor {folder}: no *_final.mlir(.gz) there nor in "
                     f"{precision.upper()}/")


def diff(args: argparse.Namespace) -> int:
    """tpusim's compile of an ONNX file beside tpu-mlir's compile of the same file."""
    from tpusim.cli.tasks import _load, _simulate
    from tpusim.passes.precision import parse_precision
    from tpusim.profile.compile_diff import (
        DIFF_FILES,
        compile_diff,
        diff_text,
        save_compile_diff,
    )

    if not args.model.lower().endswith(".onnx"):
        raise ModelError(f"{args.model}: diff compares the compiles of an ONNX file (.onnx)")
    precision = parse_precision(args.precision)
    program_path, profile_path = _vendor_files(Path(args.vendor), precision)
    chip = load_chip(args.chip)
    compiled = warning_lines(lambda: load_program(program_path, chip, args.max_commands))
    mode = getattr(compiled, "mode", "").lower()
    if mode and mode != precision:
        raise ModelError(f"{program_path}: tpu-mlir compiled it in {mode.upper()}, but "
                         f"--precision is {precision}")
    vendor = read_vendor_result(profile_path, compiled, chip)
    graph = _load(args)
    ours = _simulate(graph, args.chip, precision, args.opt, args.max_commands, args.timing)
    result = compile_diff(ours, vendor, graph)
    if args.out:
        save_compile_diff(result, Path(args.out))
    print_report(args, result.to_dict, lambda: diff_text(result, top=args.top),
                 f" ({', '.join(DIFF_FILES)})")
    return 0
