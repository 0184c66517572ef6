"""`tpusim validate` and `tpusim fit`: tpusim against its references."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tpusim.calibration.fit import fit_dma
from tpusim.calibration.networks import network_rows, network_summary
from tpusim.calibration.validate import (
    article_rows,
    command_errors,
    run_cases,
    summarise,
    vendor_commands,
)
from tpusim.cli import silicon
from tpusim.cli.text import format_study, format_table
from tpusim.errors import ModelError
from tpusim.hw.chip import load_chip
from tpusim.outputs import dumps_json


def _data(args: argparse.Namespace, table: str) -> Path:
    folder = Path(args.data)
    if not (folder / "micro" / table).is_file():
        raise ModelError(f"{folder}: not tpu-mlir's output folder (no micro/{table} in it)")
    return folder


def _stats_rows(table: dict[str, dict[str, float]]) -> list[list[str]]:
    return [[name, str(s["n"]), f"{100 * s['median']:.1f}", f"{100 * s['p90']:.1f}",
             f"{100 * s['worst']:.1f}"] + ([f"{100 * s['count_match']:.0f}"]
                                          if "count_match" in s else [])
            for name, s in table.items() if s.get("n")]


def validate(args: argparse.Namespace) -> int:
    if args.silicon:
        if args.data or args.networks or args.no_article:
            raise ModelError("--silicon validates against published chip times alone; give "
                             "--data (with --networks, --no-article) in its own run")
        return silicon.validate(args)
    if not args.data:
        raise ModelError("validate needs --data (tpu-mlir's outputs) or --silicon (published "
                         "chip times)")
    chip = load_chip(args.chip)
    folder = _data(args, "cases.csv")
    results = run_cases(folder, chip)
    cases = summarise(results)
    commands = command_errors(results, vendor_commands(folder))
    article = article_rows(chip) if not args.no_article else []
    networks = network_rows(folder / "models", Path(args.networks), chip) \
        if args.networks else []
    if args.json:
        data = {"chip": chip.name, "timing": {"cases": "vendor", "commands": "vendor",
                                              "article": "chip", "networks": "vendor"},
                "cases": cases, "commands": commands, "article": article}
        if networks:
            data["networks"] = {"rows": [row.to_dict() for row in networks],
                                "summary": network_summary(networks)}
        sys.stdout.write(dumps_json(data))
        return 0
    header = ["", "n", "median %", "p90 %", "worst %"]
    out = sys.stdout
    out.write(f"single-operator cases against tpu-mlir's cost model ({chip.name}, vendor "
              "timing)\n")
    out.write(format_table(header, _stats_rows({"all cases": cases["all"]})))
    out.write("\nby operator class\n" + format_table(header, _stats_rows(cases["by_class"])))
    out.write("\nby precision\n" + format_table(header, _stats_rows(cases["by_mode"])))
    out.write("\nper command, where tpusim issues as many of the class as the vendor "
              "(paired in order)\n")
    out.write(format_table([*header, "counts agree %"], _stats_rows(commands)))
    if article:
        out.write("\n" + format_study({"model": "swin-t", "chip": chip.name, "batch": 1,
                                       "timing": "chip", "rows": article}))
    if networks:
        out.write("\nwhole networks: tpusim's own compile against tpu-mlir's estimate of its "
                  "compile\n")
        out.write(format_table(
            ["network", "precision", "tpusim ms", "tpu-mlir ms", "error %", "groups",
             "TIU cmds", "GDMA cmds"],
            [[r.network, r.precision, f"{r.tpusim_ms:.3f}", f"{r.vendor_ms:.3f}",
              f"{100 * r.error:+.1f}", "/".join(map(str, r.groups)),
              "/".join(map(str, r.tiu_commands)), "/".join(map(str, r.gdma_commands))]
             for r in networks]))
        out.write(format_table(header, _stats_rows({"all networks": network_summary(networks)})))
    return 0


def fit(args: argparse.Namespace) -> int:
    if args.silicon:
        return silicon.fit_silicon(args)
    for found in fit_dma(_data(args, "commands.csv"), load_chip(args.chip)):
        sys.stdout.write(found.toml() + "\n")
    return 0
