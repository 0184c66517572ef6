"""`load_model`: a built-in name or a model file, to a graph."""

from __future__ import annotations

from pathlib import Path

from tpusim.errors import ModelError
from tpusim.frontend.models import build_model
from tpusim.ir.graph import Graph
from tpusim.limits import MAX_OPS, MAX_TENSOR_ELEMENTS, check_bound, check_model_size


def load_model(spec: str, batch: int | None = None, unknown_ops: str = "error",
               max_ops: int = MAX_OPS, max_elements: int = MAX_TENSOR_ELEMENTS) -> Graph:
    """A built-in model by name, or a graph read from an .onnx file.

    `batch` defaults to 1 for built-in models and to the file's own batch for files;
    `unknown_ops` ("error" or "fallback") is for ONNX files (see `load_onnx`). A graph with
    more than `max_ops` operators or a tensor of more than `max_elements` elements is refused
    (tpusim.limits).
    """
    if batch is not None and batch < 1:
        raise ModelError(f"batch size must be >= 1, got {batch}")
    check_bound("max_ops", max_ops)
    check_bound("max_elements", max_elements)
    if batch is not None and batch > max_elements:  # the input alone would exceed the bound
        shown = f"{batch:,}" if batch < 10**18 else f"a number of {len(str(batch))} digits"
        raise ModelError(f"batch size must be at most {max_elements:,} (max_elements), got "
                         f"{shown}")
    compiled = spec.lower().endswith((".mlir", ".mlir.gz"))
    looks_like_path = (spec.lower().endswith(".onnx") or compiled or "/" in spec
                       or "\\" in spec or "." in spec or (spec and Path(spec).is_file()))
    if not looks_like_path:
        graph = build_model(spec, batch or 1)
        return check_model_size(graph, f"model {spec!r} at batch {batch or 1}", max_ops,
                                max_elements)
    path = Path(spec)
    if not path.is_file():
        raise ModelError(f"model file not found: {spec}")
    if path.suffix.lower() == ".onnx":
        from tpusim.frontend.onnx_import import load_onnx

        graph = load_onnx(path, batch, unknown_ops, max_ops)
        return check_model_size(graph, spec, max_ops, max_elements)
    if compiled:
        raise ModelError(f"{spec}: a program tpu-mlir already compiled cannot be compiled "
                         "again; `tpusim run` (tpusim.load_program) simulates it as compiled")
    raise ModelError(f"{spec}: not a model tpusim reads (give a built-in model name such as "
                     "swin-t, an .onnx file, or a program tpu-mlir compiled, *_final.mlir or "
                     ".mlir.gz)")


def model_label(model: str | Graph) -> str:
    """How tables name a model: a graph's name, a file's stem, or the built-in name."""
    if isinstance(model, Graph):
        return model.name
    return Path(model).stem if model.endswith((".onnx", ".mlir")) else model
