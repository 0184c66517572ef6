"""`tpusim examples DIR`: example inputs for the commands that read files, from the package."""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

from tpusim.errors import OutputError
from tpusim.outputs import staged_directory

# what each folder holds, as `tpusim examples` says it
CONTENTS = {
    "matmul": "a MatMul tpu-mlir 1.30 compiled for bm1684x at F16 (*_final.mlir) and its "
              "profile (compiler_profile_0.txt)",
    "tpu-mlir": "tpu-mlir's per-command cycles for 42 single-operator cases (micro/), its "
                "estimate of whole networks (models/summary.csv) and its compile of ResNet-34 "
                "(models/resnet34/)",
    "silicon": "published chip times (chip_times.csv) and the networks' ONNX structure",
    "onnx": "torchvision's ResNet-18 and Swin-T as ONNX structure",
}


def examples(args: argparse.Namespace) -> int:
    target = Path(args.directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise OutputError(f"{target}: exists and is not an empty directory")
    source = resources.files("tpusim") / "examples"
    with staged_directory(target) as tmp, resources.as_file(source) as folder:
        for name in CONTENTS:
            shutil.copytree(Path(folder) / name, tmp / name)
    sys.stdout.write(f"wrote {target}/:\n" + "".join(f"  {name}/  {what}\n"
                                                      for name, what in CONTENTS.items()))
    return 0
