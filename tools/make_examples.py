"""Make the example data `tpusim examples` writes (tpusim/examples/) from the project's shared
data folder: one small program tpu-mlir compiled with its profile, a few of its single-operator
cases, its estimate of whole networks, and the published chip times with the networks' ONNX
structure. Run from the repository: python tools/make_examples.py SHARED_DIR"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

CASES = ("matmul_64x256x512", "matmul_256x256x256", "relu_1x64x56x56", "mul_act_1x3136x96",
         "conv7x7s2_3x224x224_64", "permute_win_1x8x7x8x7x96")
PROGRAM = "matmul_64x256x512__F16__f32_io_cast"
SUMMARY = ("model", "mode", "status", "runtime_ms", "layer_groups", "tiu_cmds", "gdma_cmds")


def _filter(source: Path, target: Path, keep, columns=None) -> None:
    with source.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns = columns or list(rows[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(r for r in rows if keep(r))


def _what(row: dict[str, str]) -> str:
    """A short description of what was timed, in our words, keeping the facts the fit's rule
    reads (a quantisation table given to the compiler, asymmetric INT8)."""
    tool = "bmrt_test calculate time" if "bmrt_test" in row["what"] else "tpu_perf time(ms)"
    notes = []
    if "--quantize_table" in row["what"]:
        notes.append("INT8 with --quantize_table (the table is not published)")
    if "INT8-asym" in row["what"]:
        notes.append("INT8-asym")
    if row["per"] == "image":
        notes.append("ms per image")
    return "; ".join([tool, *notes])


def main(shared: Path) -> None:
    out = Path(__file__).resolve().parents[1] / "tpusim" / "examples"
    shutil.rmtree(out, ignore_errors=True)
    program = shared / "tpu-mlir" / "fixtures" / PROGRAM
    (out / "matmul").mkdir(parents=True)
    for f in program.iterdir():
        shutil.copy(f, out / "matmul" / f.name)
    micro = shared / "tpu-mlir" / "micro"
    _filter(micro / "cases.csv", out / "tpu-mlir" / "micro" / "cases.csv",
            lambda r: r["case"] in CASES)
    _filter(micro / "commands.csv", out / "tpu-mlir" / "micro" / "commands.csv",
            lambda r: r["case"] in CASES)
    _filter(shared / "tpu-mlir" / "models" / "summary.csv",
            out / "tpu-mlir" / "models" / "summary.csv", lambda r: True, list(SUMMARY))
    for mode in ("F16", "INT8"):  # one network's compile, for `tpusim diff`
        shutil.copytree(shared / "tpu-mlir" / "models" / "resnet34" / mode,
                        out / "tpu-mlir" / "models" / "resnet34" / mode)
    (out / "silicon").mkdir()
    (out / "onnx").mkdir()
    for f in (shared / "silicon").glob("*.onnx"):
        shutil.copy(f, out / "silicon" / f.name)
    for f in (shared / "onnx").glob("*.onnx"):
        shutil.copy(f, out / "onnx" / f.name)
    with (shared / "silicon" / "chip_times.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with (out / "silicon" / "chip_times.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({**r, "what": _what(r)} for r in rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
