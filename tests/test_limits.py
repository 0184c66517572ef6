"""Bounds that protect the machine: too many commands stop the compiler early, and a model too
large for memory is refused right after loading - each with a message naming the bound."""

import time

import numpy as np
import pytest
from small_graphs import conv_block

import tpusim
from tpusim.cli import main
from tpusim.errors import CompileError, ModelError, TpusimError
from tpusim.limits import MAX_COMMANDS, check_model_size
from tpusim.lower import stream


def test_the_bound_is_exact(chip):
    graph = conv_block(16, 8)
    n = tpusim.compile(graph, chip, "f16").commands
    assert tpusim.compile(graph, chip, "f16", max_commands=n).commands == n
    with pytest.raises(CompileError, match=rf"block: more than {n - 1} commands at layer "
                                           r"'[\w.]+' \(max_commands; raise it with "
                                           r"--max-commands"):
        tpusim.compile(graph, chip, "f16", max_commands=n - 1)


def test_lowering_stops_at_the_bound(chip, monkeypatch):
    """The compiler never holds more than the bound: it stops at the first command beyond."""
    emitted = []
    real_emit = stream.Streams.emit

    def counting(self, *args, **kwargs):
        emitted.append(self.program.name)
        return real_emit(self, *args, **kwargs)

    monkeypatch.setattr(stream.Streams, "emit", counting)
    graph = tpusim.build_model("swin-t")
    start = time.perf_counter()
    with pytest.raises(CompileError, match=r"swin-t: more than 300 commands at layer"):
        tpusim.compile(graph, chip, "f16", max_commands=300)
    assert time.perf_counter() - start < 20  # not the whole model's 7,400 commands
    assert emitted.count("swin-t") == 301  # the 301st is refused, not queued


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "many"])
def test_the_bound_must_be_a_positive_integer(chip, bad):
    with pytest.raises(TpusimError, match=r"max_commands must be a positive integer"):
        tpusim.compile(conv_block(16, 8), chip, "f16", max_commands=bad)


def test_huge_batch_is_refused_right_after_loading():
    start = time.perf_counter()
    with pytest.raises(ModelError, match=r"model 'swin-t' at batch 2147483648: tensor 'input' "
                                         r"\[2147483648, 3, 224, 224\] has [\d,]+ elements, "
                                         r"more than the bound of 1,099,511,627,776"):
        tpusim.load_model("swin-t", 2**31)
    assert time.perf_counter() - start < 5


def test_model_bounds_can_be_raised_and_lowered():
    assert tpusim.load_model("swin-t", 64, max_elements=2**40).name == "swin-t"
    with pytest.raises(ModelError, match=r"more than the bound of 100 \(max_ops\)"):
        tpusim.load_model("swin-t", max_ops=100)
    with pytest.raises(ModelError, match=r"tensor 'input' \[1, 3, 224, 224\] .* bound of 1,000"):
        tpusim.load_model("swin-t", max_elements=1000)
    with pytest.raises(TpusimError, match=r"max_ops must be a positive integer, got 0"):
        tpusim.load_model("swin-t", max_ops=0)
    graph = conv_block(16, 8)
    assert check_model_size(graph) is graph


def test_cli_max_commands(capsys, tmp_path):
    out = tmp_path / "out"
    assert main(["run", "swin-t", "--max-commands", "500", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tpusim: error: swin-t: more than 500 commands at layer ")
    assert "--max-commands" in err and err.count("\n") == 1 and not out.exists()
    for bad in ("0", "-1", "lots"):
        with pytest.raises(SystemExit) as exit_:
            main(["run", "swin-t", "--max-commands", bad])
        assert exit_.value.code == 2
        assert "argument --max-commands: expected a positive integer" in capsys.readouterr().err


def test_cli_batch_beyond_the_model_bound(capsys):
    assert main(["run", "swin-t", "--batch", "100000000"]) == 2
    err = capsys.readouterr().err
    assert "more than the bound of 1,099,511,627,776 (max_elements)" in err
    assert err.count("\n") == 1


def test_default_bound_is_in_the_help(capsys):
    for command in ("run", "compare", "sweep", "sensitivity", "bench"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert f"{MAX_COMMANDS:,}" in " ".join(capsys.readouterr().out.split()), command


# ---- ONNX files: refused before converting, and no value computed that would not fit --------

onnx_models = pytest.importorskip("onnx_models")


def test_onnx_node_count_is_checked_before_converting():
    from onnx_models import X, model, node

    from tpusim.frontend.onnx_import import load_onnx

    m = model([node("Relu", ["x"], "a"), node("Relu", ["a"], "y")], X, {"y": None})
    with pytest.raises(ModelError, match=r"2 nodes, more than the bound of 1 \(max_ops\)"):
        load_onnx(m, max_ops=1)


def test_constant_arithmetic_that_would_not_fit_memory_is_not_computed():
    """Range(0, 2^20) as a column plus the same as a row is a 2^40-element constant: the
    importer once computed it with numpy (a MemoryError, exit 1); its shape is all it needs."""
    from onnx import numpy_helper
    from onnx_models import const, model, node

    from tpusim.frontend.onnx_import import load_onnx

    n = np.int64
    nodes = [node("Range", ["s", "l", "d"], "r"), node("Unsqueeze", ["r", "a1"], "col"),
             node("Unsqueeze", ["r", "a0"], "row"), node("Add", ["col", "row"], "table"),
             node("Gather", ["table", "idx"], "rows", axis=0),
             node("ConstantOfShape", ["count"], "zeros", value=numpy_helper.from_array(
                 np.zeros(1, n))),
             node("Gather", ["row", "zeros"], "copies", axis=0),  # 2^20 copies of a 2^20 row
             node("ReduceSum", ["rows"], "s1", keepdims=1),
             node("ReduceSum", ["copies"], "s2", keepdims=1), node("Add", ["s1", "s2"], "sum"),
             node("Add", ["x", "sum"], "y")]
    inits = [const("s", n(0)), const("l", n(1 << 20)), const("d", n(1)),
             const("a1", np.array([1], n)), const("a0", np.array([0], n)),
             const("idx", np.arange(1 << 10, dtype=n)), const("count", np.array([1 << 20], n))]
    g = load_onnx(model(nodes, {"x": [1, 1]}, {"y": None}, inits))
    assert g.tensors[g.outputs[0]].shape == (1, 1)


def test_a_global_op_beyond_the_bound_is_refused_before_its_tiles_are_listed(chip):
    """The tile list of one global layer was built whole before the first command was
    queued: a corrupted benchmark shape made it a MemoryError."""
    from small_graphs import chain

    graph = chain((2**34, 64), [tpusim.ir.OpKind.RELU])
    start = time.perf_counter()
    with pytest.raises(CompileError, match=r"op 'op0': 1,048,576 tiles, more than the bound of "
                                           r"1,000 commands \(max_commands\)"):
        tpusim.compile(graph, chip, "f32", max_commands=1000)
    assert time.perf_counter() - start < 2


def test_benchmark_operators_are_checked_like_models(chip):
    from tpusim.bench import Entry, run_entry

    entry = Entry("mm", "f16", op="MatMul", shapes="[1,4294967296,256]x[256,512](weight)")
    with pytest.raises(ModelError, match=r"^benchmark entry 'mm': tensor 'matmul' "
                                         r"\[1, 4294967296, 512\] has .* \(max_elements\)$"):
        run_entry(entry, chip)
