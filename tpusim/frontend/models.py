"""Built-in models by name."""

from __future__ import annotations

from collections.abc import Callable

from tpusim.errors import ModelError
from tpusim.frontend.swin import SWIN_CONFIGS, build_swin
from tpusim.ir.graph import Graph

_BUILDERS: dict[str, Callable[[int], Graph]] = {
    name: (lambda batch, name=name: build_swin(name, batch)) for name in SWIN_CONFIGS
}


def builtin_models() -> list[str]:
    return sorted(_BUILDERS)


def build_model(name: str, batch: int = 1) -> Graph:
    """The built-in model `name` for a batch of `batch` inputs."""
    if batch < 1:
        raise ModelError(f"batch size must be >= 1, got {batch}")
    try:
        builder = _BUILDERS[name.lower()]
    except KeyError:
        known = ", ".join(builtin_models())
        raise ModelError(f"unknown model {name!r} (built-in models: {known}; "
                         "or give a path to an .onnx or *_final.mlir file)") from None
    return builder(batch)
