"""`load_model`: a built-in name or a model file, to a graph."""

from __future__ import annotations

from pathlib import Path

from tpusim.errors import ModelError
from tpusim.frontend.models import build_model
from tpusim.ir.graph import Graph


def load_model(spec: str, batch: int = 1) -> Graph:
    """A built-in model by name, or a graph read from an .onnx file."""
    if batch < 1:
        raise ModelError(f"batch size must be >= 1, got {batch}")
    looks_like_path = spec.endswith((".onnx", ".mlir")) or "/" in spec or "\\" in spec
    if not looks_like_path:
        return build_model(spec, batch)
    path = Path(spec)
    if not path.is_file():
        raise ModelError(f"model file not found: {spec}")
    raise ModelError(f"{spec}: cannot read this kind of model file yet "
                     "(supported: built-in model names)")
