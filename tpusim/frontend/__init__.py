"""Front ends: built-in models, ONNX import, tpu-mlir final.mlir import."""

from tpusim.frontend.models import build_model, builtin_models

__all__ = ["build_model", "builtin_models"]
