"""`load_model`: a built-in name or a model file, to a graph."""

from __future__ import annotations

from pathlib import Path

from tpusim.errors import ModelError
from tpusim.frontend.models import build_model
from tpusim.ir.graph import Graph


def load_model(spec: str, batch: int | None = None, unknown_ops: str = "error") -> Graph:
    """A built-in model by name, or a graph read from an .onnx file.

    `batch` defaults to 1 for built-in models and to the file's own batch for files;
    `unknown_ops` ("error" or "fallback") is for ONNX files (see `load_onnx`).
    """
    if batch is not None and batch < 1:
        raise ModelError(f"batch size must be >= 1, got {batch}")
    looks_like_path = spec.endswith((".onnx", ".mlir")) or "/" in spec or "\\" in spec
    if not looks_like_path:
        return build_model(spec, batch or 1)
    path = Path(spec)
    if not path.is_file():
        raise ModelError(f"model file not found: {spec}")
    if path.suffix.lower() == ".onnx":
        from tpusim.frontend.onnx_import import load_onnx

        return load_onnx(path, batch, unknown_ops)
    if spec.lower().endswith((".mlir", ".mlir.gz")):
        raise ModelError(f"{spec}: a program tpu-mlir already compiled cannot be compiled "
                         "again; `tpusim run` (tpusim.load_program) simulates it as compiled")
    raise ModelError(f"{spec}: cannot read this kind of model file yet "
                     "(supported: built-in model names and .onnx files)")
