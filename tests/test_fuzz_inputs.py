"""Fuzzing the readers: corrupted and truncated model files and profiles go to the importers
and loaders, and only tpusim's own errors, each one line, may come out. Where a corrupted
file still reads, what it describes is compiled (bounded) and simulated, with the same rule.

Corruptions (`corrupted`): truncation, flipped bytes, inserted or deleted bytes, a repeated
span, and - the ones that get past a parser into the importers - a number replaced by 0, -1,
a huge value, ... Default runs try EXAMPLES per format (TPUSIM_FUZZ_EXAMPLES, 200); `-m slow`
ten times as many.
"""

from __future__ import annotations

import atexit
import gzip
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from small_graphs import conv_block

import tpusim
from tpusim.bench import read_suite, run_entry
from tpusim.errors import TpusimError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "tpu-mlir"
FIXTURE = SHARED / "fixtures" / "add_wt_1x3136x96__INT8__f32_io_cast"
EXAMPLES = int(os.environ.get("TPUSIM_FUZZ_EXAMPLES", "200"))
BOUND = 20_000  # commands: what a corrupted file describes is compiled this far at most
NUMBERS = [b"0", b"-1", b"1", b"2", b"7", b"65536", b"4294967296", b"99999999999999999999",
           b"0.5", b"-0.0", b"1e308", b"nan"]
SCRATCH = Path(tempfile.mkdtemp(prefix="tpusim-fuzz-"))  # one file per format, rewritten
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)
# a corrupted operator name is costed by the fallback, with this warning: expected here
pytestmark = pytest.mark.filterwarnings(
    "ignore::tpusim.frontend.onnx_import.UnknownOperatorWarning")


@st.composite
def corrupted(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "repeat", "number",
                                 "number", "number"]))
    event(kind)
    n = len(data)
    at = draw(st.integers(0, n - 1))
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, n - 1))
            out[i] ^= draw(st.integers(1, 255))
        return bytes(out)
    if kind == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    if kind == "delete":
        return data[:at] + data[at + draw(st.integers(1, 64)):]
    if kind == "repeat":
        span = data[at:at + draw(st.integers(1, 256))]
        where = draw(st.integers(0, n))
        return data[:where] + span + data[where:]
    numbers = list(re.finditer(rb"-?\d+(\.\d+)?", data))
    if not numbers:
        return data
    m = numbers[draw(st.integers(0, len(numbers) - 1))]
    return data[:m.start()] + draw(st.sampled_from(NUMBERS)) + data[m.end():]


def only_tpusim_errors(call) -> object:
    """`call()`'s value, or None when it raised a one-line tpusim error; anything else fails
    the test (an internal error, a traceback for the user)."""
    try:
        value = call()
    except TpusimError as exc:
        message = str(exc)
        assert message and "\n" not in message, repr(message)
        event(f"refused: {type(exc).__name__}")
        return None
    event("read")
    return value


def run_bounded(graph, chip) -> None:
    program = only_tpusim_errors(lambda: tpusim.compile(graph, chip, "f16", max_commands=BOUND))
    if program is not None:
        only_tpusim_errors(lambda: tpusim.simulate(program, chip))


def _file(name: str, data: bytes) -> Path:
    path = SCRATCH / name
    path.write_bytes(data)
    return path


def fuzz(examples: int):
    """The default runs try the same examples every time (the suite must not be flaky); the
    `-m slow` runs, ten times as many, draw new ones."""
    return settings(max_examples=examples, deadline=None, database=None,
                    derandomize=examples <= EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- ONNX ----------------------------------------------------------------------------------


def _onnx_model() -> bytes:
    onnx_models = pytest.importorskip("onnx_models")
    node, weight, const = onnx_models.node, onnx_models.weight, onnx_models.const
    import numpy as np

    nodes = [node("Conv", ["x", "w"], "c", pads=[1, 1, 1, 1]), node("Relu", ["c"], "r"),
             node("Reshape", ["r", "shape"], "flat"), node("MatMul", ["flat", "fc"], "m"),
             node("Softmax", ["m"], "s", axis=-1), node("Add", ["s", "bias"], "y")]
    inits = [weight("w", [8, 3, 3, 3]), const("shape", np.array([1, 8 * 16 * 16], np.int64)),
             weight("fc", [8 * 16 * 16, 10]), const("bias", np.ones((1, 10), np.float32))]
    m = onnx_models.model(nodes, {"x": [1, 3, 16, 16]}, {"y": None}, inits, infer=True)
    return m.SerializeToString()


@st.composite
def corrupted_onnx(draw: st.DrawFn, data: bytes) -> bytes:
    """Any corruption of the bytes, or - past the protobuf parser, into the importer - a
    changed dimension or integer attribute, a node removed, moved or retyped, an input renamed
    to nothing, the outputs dropped."""
    import onnx

    kind = draw(st.sampled_from(["bytes", "dim", "attr", "drop", "move", "type", "input",
                                 "outputs"]))
    if kind == "bytes":
        return draw(corrupted(data))
    event(f"onnx: {kind}")
    m = onnx.ModelProto.FromString(data)
    g, nodes = m.graph, m.graph.node
    value = draw(st.sampled_from([0, -1, 1, 3, 1 << 20, 1 << 31, (1 << 62)]))
    i = draw(st.integers(0, len(nodes) - 1))
    if kind == "dim":
        infos = [*g.input, *g.value_info, *g.output]
        dims = [d for vi in infos for d in vi.type.tensor_type.shape.dim]
        dims += [init for init in g.initializer if init.dims]
        target = draw(st.sampled_from(dims))
        if hasattr(target, "dim_value"):
            target.dim_value = value
        else:
            target.dims[draw(st.integers(0, len(target.dims) - 1))] = value
    elif kind == "attr":
        ints = [(a, j) for n in nodes for a in n.attribute for j in range(len(a.ints))]
        ints += [(a, None) for n in nodes for a in n.attribute if a.type == a.INT]
        if ints:
            attr, j = draw(st.sampled_from(ints))
            if j is None:
                attr.i = value
            else:
                attr.ints[j] = value
    elif kind == "drop":
        del nodes[i]
    elif kind == "move":
        node = onnx.NodeProto()
        node.CopyFrom(nodes[i])
        del nodes[i]
        nodes.insert(draw(st.integers(0, len(nodes))), node)
    elif kind == "type":
        nodes[i].op_type = draw(st.sampled_from(["Relu", "MatMul", "Conv", "Reshape", "Concat",
                                                 "Gather", "Transpose", "Frobnicate", ""]))
    elif kind == "input" and nodes[i].input:
        nodes[i].input[0] = draw(st.sampled_from(["", "nowhere", nodes[-1].output[0]]))
    elif kind == "outputs":
        del g.output[:]
    return m.SerializeToString()


def check_onnx(data: bytes, chip) -> None:
    path = _file("fuzz.onnx", data)
    graph = only_tpusim_errors(lambda: tpusim.load_model(str(path)))
    if graph is not None:
        run_bounded(graph, chip)
        rebatched = only_tpusim_errors(lambda: tpusim.load_model(str(path), batch=3))
        if rebatched is not None:
            run_bounded(rebatched, chip)


@pytest.fixture(scope="module")
def onnx_bytes():
    return _onnx_model()


def test_the_onnx_seed_reads(onnx_bytes, chip):
    assert tpusim.load_model(str(_file("seed.onnx", onnx_bytes))).kind_counts()["Conv2D"] == 1


@fuzz(EXAMPLES)
@given(data=st.data())
def test_corrupted_onnx(onnx_bytes, chip, data):
    check_onnx(data.draw(corrupted_onnx(onnx_bytes)), chip)


@pytest.mark.slow
@fuzz(10 * EXAMPLES)
@given(data=st.data())
def test_corrupted_onnx_many(onnx_bytes, chip, data):
    check_onnx(data.draw(corrupted_onnx(onnx_bytes)), chip)


# ---- tpu-mlir final.mlir and its compiler profile -----------------------------------------

needs_fixtures = pytest.mark.skipif(not FIXTURE.is_dir(), reason="shared tpu-mlir/ absent")


def _fixture(pattern: str) -> bytes:
    return next(FIXTURE.glob(pattern)).read_bytes()


def check_mlir(data: bytes, chip, gzipped: bool = False) -> None:
    path = _file("fuzz_final.mlir.gz" if gzipped else "fuzz_final.mlir", data)
    program = only_tpusim_errors(lambda: tpusim.load_program(path, chip, max_commands=BOUND))
    if program is not None:
        only_tpusim_errors(lambda: tpusim.simulate(program, chip))


@needs_fixtures
@fuzz(EXAMPLES)
@given(data=st.data())
def test_corrupted_final_mlir(chip, data):
    check_mlir(data.draw(corrupted(_fixture("*_final.mlir"))), chip)


@needs_fixtures
@fuzz(EXAMPLES // 3)
@given(data=st.data())
def test_corrupted_gzipped_final_mlir(chip, data):
    check_mlir(data.draw(corrupted(gzip.compress(_fixture("*_final.mlir"), mtime=0))), chip,
               gzipped=True)


@needs_fixtures
@pytest.mark.slow
@fuzz(10 * EXAMPLES)
@given(data=st.data())
def test_corrupted_final_mlir_many(chip, data):
    check_mlir(data.draw(corrupted(_fixture("*_final.mlir"))), chip)


@pytest.fixture(scope="module")
def add_wt_program(chip):
    return tpusim.load_program(next(FIXTURE.glob("*_final.mlir")), chip) \
        if FIXTURE.is_dir() else None


def check_vendor(data: bytes, program, chip) -> None:
    from tpusim.profile.vendor_compare import compare_vendor
    from tpusim.profile.vendor_records import read_vendor_result

    path = _file("compiler_profile_0.txt", data)
    vendor = only_tpusim_errors(lambda: read_vendor_result(path, program, chip))
    if vendor is not None:
        ours = tpusim.simulate(program, chip)
        only_tpusim_errors(lambda: compare_vendor(ours, vendor))


@needs_fixtures
@fuzz(EXAMPLES)
@given(data=st.data())
def test_corrupted_vendor_profile(add_wt_program, chip, data):
    check_vendor(data.draw(corrupted(_fixture("compiler_profile_0.txt"))), add_wt_program, chip)


@needs_fixtures
@pytest.mark.slow
@fuzz(10 * EXAMPLES)
@given(data=st.data())
def test_corrupted_vendor_profile_many(add_wt_program, chip, data):
    check_vendor(data.draw(corrupted(_fixture("compiler_profile_0.txt"))), add_wt_program, chip)


# ---- chip profiles --------------------------------------------------------------------------

CHIP_TEXT = (ROOT / "profiles" / "bm1684x.toml").read_bytes()
TOML_VALUES = [b"-1", b"0", b"1e400", b"nan", b"inf", b"-inf", b'"fast"', b"true", b"[64]",
               b"{ a = 1 }", b"1979-05-27", b"0x40", b"1_000", b"64.5", b"9223372036854775807",
               b"1e-300", b'"""x"""', b""]


@st.composite
def corrupted_profile(draw: st.DrawFn) -> bytes:
    """A profile with a field's value replaced by another TOML value, a line deleted or
    repeated (a duplicate key), an unknown field, or any corruption of its bytes."""
    lines = CHIP_TEXT.split(b"\n")
    fields = [i for i, line in enumerate(lines) if re.match(rb"\w+ = ", line)]
    kind = draw(st.sampled_from(["value", "value", "delete", "repeat", "unknown", "bytes"]))
    event(f"profile: {kind}")
    i = draw(st.sampled_from(fields))
    if kind == "value":
        key = lines[i].split(b" = ")[0]
        lines[i] = key + b" = " + draw(st.sampled_from(TOML_VALUES))
    elif kind == "delete":
        del lines[i]
    elif kind == "repeat":
        lines.insert(i, lines[i])
    elif kind == "unknown":
        lines.insert(i, b"ddr_gbsp = 64.0")
    else:
        return draw(corrupted(CHIP_TEXT))
    return b"\n".join(lines)


def check_chip(data: bytes) -> None:
    chip = only_tpusim_errors(lambda: tpusim.load_chip(_file("fuzz_chip.toml", data)))
    if chip is not None:
        run_bounded(conv_block(16, 8), chip)


@fuzz(EXAMPLES)
@given(data=corrupted_profile())
def test_corrupted_chip_profile(data):
    check_chip(data)


@pytest.mark.slow
@fuzz(10 * EXAMPLES)
@given(data=corrupted_profile())
def test_corrupted_chip_profile_many(data):
    check_chip(data)


# ---- benchmark suites -----------------------------------------------------------------------

SUITE_TEXT = b'''chip = "bm1684x"
tolerance = 0.01

[[entry]]
name = "relu"
op = "Relu"
shapes = "[1,64,56,56]"
precision = "f16"
io = "native"

[[entry]]
name = "matmul"
op = "MatMul"
shapes = "[1,64,256]x[256,512](weight)"
precision = "int8"
opt = "before"
'''


def check_suite(data: bytes, chip) -> None:
    suite = only_tpusim_errors(lambda: read_suite(_file("fuzz_suite.toml", data)))
    if suite is not None:  # run what it describes (single operators: fast)
        for entry in suite.entries:
            if not entry.model:
                only_tpusim_errors(lambda entry=entry: run_entry(entry, chip, BOUND))


@fuzz(EXAMPLES)
@given(data=st.data())
def test_corrupted_bench_suite(chip, data):
    check_suite(data.draw(corrupted(SUITE_TEXT)), chip)


@pytest.mark.slow
@fuzz(10 * EXAMPLES)
@given(data=st.data())
def test_corrupted_bench_suite_many(chip, data):
    check_suite(data.draw(corrupted(SUITE_TEXT)), chip)
