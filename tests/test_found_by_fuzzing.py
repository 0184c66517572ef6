"""Minimal examples of bugs the property tests and fuzzers found, kept as regression tests."""

import pytest
import simpy

import tpusim
from tpusim.errors import ChipProfileError
from tpusim.ir import GraphBuilder, OpKind
from tpusim.sim.ddr import DdrBus

K = OpKind


def test_permute_whose_consumer_feeds_only_the_graph_output(chip):
    """matmul_permute_split looked for a Squeeze after every consumer of a MatMul -> Reshape ->
    Permute, and indexed an empty list when a consumer's output was the graph's output
    (IndexError, an internal error)."""
    g = GraphBuilder("mm_permute_out")
    x = g.input("x", (16, 7))
    y = g.op(K.MATMUL, [x, g.weight("w", (7, 32))], "mm")
    y = g.op(K.RESHAPE, [y], "reshape", shape=(4, 128))
    y = g.op(K.PERMUTE, [y], "permute", order=(1, 0))
    g.output(g.op(K.PERMUTE, [y], "back", order=(1, 0)))
    program = tpusim.compile(g.build(), chip, "f16", "after")
    assert tpusim.simulate(program, chip).total_ns > 0


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("start_ns", "ddr_ns"), [(1e12, 0.37), (1e15, 0.3), (0.0, 1e302)])
def test_a_short_transfer_late_in_a_long_run_ends(start_ns, ddr_ns):
    """The DDR bus waited for the rounding left of a transfer; once the clock was too large to
    advance by that little, it woke at the same instant forever (a hang, found with extreme
    but valid chip profiles: 0.37 ns of DDR time 1000 s into a simulation)."""
    env = simpy.Environment()
    bus = DdrBus(env)
    ends = []

    def user():
        yield env.timeout(start_ns)
        yield from bus.transfer(ddr_ns, 0.0)
        ends.append(env.now)

    env.process(user())
    env.run()
    assert ends == [pytest.approx(start_ns + ddr_ns)]


@pytest.mark.parametrize(("field", "value"), [
    ("tiu_mhz", 1e-300), ("ddr_gbps", 1e-300), ("sync_latency_cycles", 1e300),
    ("tiu_startup_cycles", 1e308), ("ddr_min_access_bytes", 10**18),
])
def test_chip_values_that_describe_no_chip_are_refused(chip, field, value):
    """Such values made simulated times lose all precision (and hang the DDR bus, above) or
    overflow to infinity; a profile now names the field and the range expected."""
    with pytest.raises(ChipProfileError, match=rf"field '{field}' must be between "
                                               r"(0|1e-06) and 1e\+15"):
        chip.replace(**{field: value})


@pytest.mark.parametrize("reader", ["mlir", "profile"])
def test_damaged_and_oversized_gzip_files_are_model_errors(tmp_path, monkeypatch, reader):
    """A damaged deflate stream raised zlib.error (an internal error); a small .gz expanding
    beyond the text bound would have filled memory."""
    import gzip

    from tpusim.errors import ModelError
    from tpusim.frontend import text_files
    from tpusim.frontend.mlir_text import read_final_mlir
    from tpusim.profile.vendor import read_vendor_profile

    read = read_final_mlir if reader == "mlir" else read_vendor_profile
    packed = bytearray(gzip.compress(b"module {\n}\n" * 1000, mtime=0))
    packed[20] ^= 0xFF  # inside the deflate stream
    path = tmp_path / "damaged.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(ModelError, match=r"damaged\.gz: cannot read this .*\(.*\)$"):
        read(path)
    path.write_bytes(gzip.compress(b" " * (1 << 20), mtime=0))
    monkeypatch.setattr(text_files, "MAX_TEXT_BYTES", 1 << 16)
    with pytest.raises(ModelError, match=r"more than 65,536 bytes once decompressed"):
        read(path)


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.xfail(strict=True, reason="the group search is linear in a dimension's size: "
                   "form._levels counts every slice count up to the size, and slicing.pieces "
                   "lists every slice of each candidate (minutes for 1e8 channels)")
def test_a_group_over_a_hundred_million_channels_ends_in_seconds(chip):
    """Two element-wise ops on a [1, 1e8, 1, 1] tensor (400 MB at f32, within every bound)."""
    import contextlib
    import time

    from small_graphs import chain

    from tpusim.errors import CompileError

    start = time.perf_counter()
    with contextlib.suppress(CompileError):  # refusing is as good as compiling; it must end
        tpusim.compile(chain((1, 10**8, 1, 1), [K.RELU, K.SIGMOID]), chip, "f16")
    assert time.perf_counter() - start < 30


def test_a_group_storing_a_value_from_outside_it_is_a_model_error(chip, tmp_path):
    """A final.mlir whose tpu.Store wrote a value defined outside its group imported, then
    failed looking up the value's slices (KeyError)."""
    from pathlib import Path

    from tpusim.errors import ModelError

    fixtures = Path(__file__).resolve().parents[2] / "shared" / "tpu-mlir" / "fixtures"
    if not fixtures.is_dir():
        pytest.skip("shared tpu-mlir/ absent")
    text = next(fixtures.glob("add_wt_1x3136x96__INT8__f32_io_cast/*_final.mlir")).read_text()
    assert text.count('"tpu.Store"(%7, %0)') == 1
    path = tmp_path / "bad_final.mlir"
    path.write_text(text.replace('"tpu.Store"(%7, %0)', '"tpu.Store"(%1, %0)'))
    with pytest.raises(ModelError, match=r"bad_final\.mlir:19: tpu\.Store writes %1, which the "
                                         r"group neither loads nor computes"):
        tpusim.load_program(path, chip)


def test_onnx_names_that_are_not_utf8_are_a_model_error(tmp_path):
    """protobuf hands a string field that is not UTF-8 over as bytes; an operator type of
    bytes failed in the unknown-operator message (TypeError)."""
    onnx_models = pytest.importorskip("onnx_models")
    from tpusim.errors import ModelError

    m = onnx_models.model([onnx_models.node("Relu", ["x"], "y")], onnx_models.X, {"y": None})
    data = m.SerializeToString()
    assert data.count(b"Relu") == 1
    path = tmp_path / "bad.onnx"
    path.write_bytes(data.replace(b"Relu", b"\xd2elu"))
    with pytest.raises(ModelError, match=r"bad\.onnx: node 1 has a name or type that is not "
                                         r"UTF-8 text \(b'\\xd2elu'"):
        tpusim.load_model(str(path))


def test_a_group_of_billions_of_slices_is_refused_before_they_are_listed(chip, tmp_path):
    """hsecs = 2^32 in a final.mlir: the importer listed every loop iteration (MemoryError)."""
    from pathlib import Path

    from tpusim.errors import ModelError

    fixtures = Path(__file__).resolve().parents[2] / "shared" / "tpu-mlir" / "fixtures"
    if not fixtures.is_dir():
        pytest.skip("shared tpu-mlir/ absent")
    text = next(fixtures.glob("add_wt_1x3136x96__INT8__f32_io_cast/*_final.mlir")).read_text()
    path = tmp_path / "big_final.mlir"
    path.write_text(text.replace("hsecs = 1 : i64", "hsecs = 4294967296 : i64", 1))
    with pytest.raises(ModelError, match=r"big_final\.mlir:13: 4,294,967,296 slices \(nsecs x "
                                         r"csecs x dsecs x hsecs x wsecs\), more than the bound"):
        tpusim.load_program(path, chip)


def test_onnx_node_without_outputs_or_type(tmp_path):
    """A node with no output reached canonicalisation, which indexed its outputs
    (IndexError)."""
    onnx_models = pytest.importorskip("onnx_models")
    from tpusim.errors import ModelError
    from tpusim.frontend.onnx_import import load_onnx

    nodes = [onnx_models.node("Relu", ["x"], "y"), onnx_models.node("Relu", ["y"], [], "sink")]
    m = onnx_models.model(nodes, onnx_models.X, {"y": None})
    with pytest.raises(ModelError, match=r"node 'sink' has no output$"):
        load_onnx(m)
    m.graph.node[1].op_type = ""
    m.graph.node[1].output.append("z")
    with pytest.raises(ModelError, match=r"node 'sink' has no operator type$"):
        load_onnx(m)


def test_error_messages_stay_on_one_line():
    """A name read from a damaged file may hold a newline: the message shows it escaped."""
    from tpusim.errors import ModelError

    assert str(ModelError("node 'Conv*\x11\n\x04pads' is not supported")) == \
        "node 'Conv*\\x11\\n\\x04pads' is not supported"
    assert str(ModelError("tensor 'é' [1]")) == "tensor 'é' [1]"


@pytest.mark.parametrize("attr, value", [("module.chip", '"bm1684x"'),
                                         ("module.mode", '"INT8"')])
def test_a_module_chip_or_mode_that_is_not_a_string_is_a_model_error(chip, tmp_path, attr,
                                                                     value):
    """`module.chip = i64` parsed as a type, and comparing it with the profile's chip name
    raised AttributeError."""
    from pathlib import Path

    from tpusim.errors import ModelError

    fixtures = Path(__file__).resolve().parents[2] / "shared" / "tpu-mlir" / "fixtures"
    if not fixtures.is_dir():
        pytest.skip("shared tpu-mlir/ absent")
    text = next(fixtures.glob("add_wt_1x3136x96__INT8__f32_io_cast/*_final.mlir")).read_text()
    assert text.count(f"{attr} = {value}") == 1
    path = tmp_path / "m_final.mlir"
    path.write_text(text.replace(f"{attr} = {value}", f"{attr} = i64"))
    with pytest.raises(ModelError, match=rf"m_final\.mlir: {attr} must be a string, not i64"):
        tpusim.load_program(path, chip)
