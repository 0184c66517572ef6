"""tpusim: a cycle-approximate simulator and profiler of the Sophgo BM1684X TPU.

    import tpusim
    chip = tpusim.load_chip("bm1684x")
    graph = tpusim.load_model("swin-t")
    result = tpusim.simulate(tpusim.compile(graph, chip, precision="f16"), chip)
    print(result.total_ms, result.summary())
    result.save("out/")
"""

from tpusim.api import Result, compile, load_program, simulate
from tpusim.errors import TpusimError
from tpusim.frontend.load import load_model
from tpusim.frontend.models import build_model, builtin_models
from tpusim.frontend.onnx_import import load_onnx
from tpusim.hw.chip import Chip, list_chips, load_chip

__version__ = "0.1.0"

__all__ = ["Chip", "Result", "TpusimError", "build_model", "builtin_models", "compile",
           "list_chips", "load_chip", "load_model", "load_onnx", "load_program", "simulate"]
