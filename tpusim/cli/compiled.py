"""`tpusim run` on a program tpu-mlir compiled (`*_final.mlir`, `.mlir.gz`), optionally beside
tpu-mlir's own profile of it (`--vendor-profile compiler_profile_0.txt`).

The program runs as compiled: --precision and --opt do not apply (the file says every dtype and
every group), and its batch is the file's.
"""

from __future__ import annotations

import argparse
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


def is_compiled_program(model: str) -> bool:
    return model.lower().endswith((".mlir", ".mlir.gz"))


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
    result = simulate(program, chip)
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
