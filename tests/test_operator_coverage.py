"""Operators the real networks in ../shared/silicon need (masks, lookups, a fused attention, the
detectors' resizes, pools and softmax): each imported, evaluated and costed by hand.

Hand-worked costs use the `simple_chip` (loads at 64 B/ns, 64-byte minimum access, one access a
row, no start-up) at 1000 MHz: one TIU cycle is 1 ns."""

import numpy as np
import pytest
from onnx_models import const, imported, model, node, shape, single, weight

import tpusim
from tpusim.cost import gdma_ns, tiu_ns
from tpusim.ir import OpKind
from tpusim.ir.dtypes import DType
from tpusim.ir.evaluate import evaluate, random_values
from tpusim.ir.graph import Op
from tpusim.lower import sequences
from tpusim.lower.commands import Arith, Direction, MatMul, Pool
from tpusim.lower.kernels import plan

K = OpKind
F16, F32 = DType.F16, DType.F32


def _layer_commands(program, kind):
    """The TIU and GDMA commands of the one layer of `kind`."""
    (index,) = [i for i, layer in enumerate(program.layers) if layer.kind == kind]
    return ([c for c in program.tiu if c.layer == index],
            [c for c in program.gdma if c.layer == index])


# ---- masks: Equal, Not, And, Where ---------------------------------------------------------


def _mask_model():
    """ERNIE's attention mask: ids != 0, as rows and as columns, combined, then 0 or -1e4."""
    nodes = [node("Equal", ["ids", "zero"], "eq"), node("Not", ["eq"], "keep"),
             node("Unsqueeze", ["keep", "ax_row"], "row"),
             node("Unsqueeze", ["keep", "ax_col"], "col"),
             node("And", ["row", "col"], "both"),
             node("Where", ["both", "zero_f", "minus"], "mask")]
    inits = [const("zero", 0.0), const("zero_f", 0.0), const("minus", -1e4),
             const("ax_row", np.array([1, 3], np.int64)),
             const("ax_col", np.array([1, 2], np.int64))]
    return model(nodes, {"ids": [1, 16]}, {"mask": None}, inits)


def test_masks_import_as_element_wise_ops_and_evaluate():
    g = imported(_mask_model())
    assert g.kind_counts() == {"Compare": 2, "Not": 1, "Unsqueeze": 2, "Where": 1}
    assert [op.attr("mode") for op in g.ops if op.kind is K.COMPARE] == ["Equal", "And"]
    assert shape(g, "mask") == (1, 1, 16, 16)
    ids = np.array([[5, 3, 0, 7] * 4], dtype=float)
    values = {**random_values(g), "ids": ids, "zero": np.zeros(()), "zero_f": np.zeros(()),
              "minus": np.full((), -1e4)}
    mask = evaluate(g, values)["mask"][0, 0]
    keep = ids[0] != 0
    assert np.array_equal(mask, np.where(keep[:, None] & keep[None, :], 0.0, -1e4))


def test_mask_ops_cost_one_pass_each(chip):
    """(1, 64, 1, 256) f32: 16 elements a lane a cycle, 256 / 16 = 16 cycles a pass; Where is
    one compare-and-select pass (FUSED_CMP)."""
    view = (1, 64, 1, 256)
    for kind, attrs in ((K.COMPARE, {"mode": "Equal"}), (K.NOT, {}), (K.WHERE, {})):
        (work,) = sequences.elementwise(Op(kind, "m", (), (), attrs), view, F32, chip)
        assert work.kind == ("FUSED_CMP" if kind is K.WHERE else "AR")
        assert tiu_ns(work, chip.replace(tiu_startup_cycles=0)) == 16


def test_masks_compile_and_run_in_a_group(simple_chip):
    g = imported(_mask_model())
    program = tpusim.compile(g, simple_chip, "f16")
    kinds = {layer.kind for layer in program.layers if layer.group >= 0}
    assert {"Compare", "Not", "Where"} <= kinds  # local, like tpu-mlir's Compare and Where
    assert tpusim.simulate(program, simple_chip).total_ms > 0


# ---- lookups: Gather with run-time indices, GatherND ----------------------------------------


def _embedding(ids_shape=(1, 8), rows=100, width=64):
    return model([node("Gather", ["table", "ids"], "e", axis=0)], {"ids": list(ids_shape)},
                 {"e": None}, [weight("table", [rows, width])])


def test_embedding_lookup_imports_with_run_time_indices():
    g = imported(_embedding())
    op = single(g, K.GATHER)
    assert op.inputs == ("table", "ids") and shape(g, "e") == (1, 8, 64)
    values = {"table": np.arange(600.0).reshape(100, 6)[:, :1] * np.ones((1, 64)),
              "ids": np.array([[3, 1, 4, 1, 5, 9, 2, 6]], dtype=float)}
    out = evaluate(g, values)["e"]
    assert np.array_equal(out[0, :, 0], 6.0 * values["ids"][0])


def test_embedding_lookup_is_a_gdma_gather(simple_chip):
    """8 indices, rows of 64 f32 (256 B): the indices broadcast to every lane (64 rows of 32 B,
    each a 64-byte access: 4096 B at 64 B/ns = 64 ns), an address AR and a 2-pass compare-
    select over (1, 64, 1, 8) int32 (1 EU group: 1 and 2 cycles), then one gather of 8 rows of
    256 B DDR to DDR at the read rate (2048 B at 64 B/ns = 32 ns)."""
    program = tpusim.compile(imported(_embedding()), simple_chip, "f32", io="native")
    tiu, gdma = _layer_commands(program, "Gather")
    assert [(c.kind, c.work.direction.value, c.work.rows, c.work.row_bytes) for c in gdma] == [
        ("GDMA_BROADCAST", "S2L", 64, 32), ("GDMA_GATHER", "S2S", 8, 256)]
    assert [gdma_ns(c.work, simple_chip) for c in gdma] == [64, 32]
    assert [(c.kind, tiu_ns(c.work, simple_chip)) for c in tiu] == [("AR", 1), ("FUSED_CMP", 2)]
    assert program.layers[0].kind == "Cast"  # the ids become int32 indices first


def test_gathernd_shape_and_lookup():
    """ONNX GatherND: indices [1, 4, 2] pick 4 rows of data [1, 6, 5] (batch_dims 1)."""
    m = model([node("GatherND", ["x", "idx"], "y", batch_dims=1)], {"x": [1, 6, 5]},
              {"y": None}, [const("idx", np.array([[[0], [2], [5], [1]]], np.int64))])
    g = imported(m)
    assert shape(g, "y") == (1, 4, 5)
    g2 = model([node("GatherND", ["x", "idx"], "y")], {"x": [3, 4, 5]}, {"y": None},
               [const("idx", np.array([[0, 1], [2, 3]], np.int64))])
    assert shape(imported(g2), "y") == (2, 5)


def test_gathernd_costs_a_gather_of_its_picks(simple_chip):
    """Two pairs of indices pick two rows of 5 f32 (20 B): a gather of 2 rows of 20 B, each a
    64-byte access (128 B at 64 B/ns = 2 ns); the index broadcast holds 2 x 2 int32 a lane."""
    m = model([node("GatherND", ["x", "idx"], "y")], {"x": [3, 4, 5], "idx": [2, 2]},
              {"y": None})
    program = tpusim.compile(imported(m), simple_chip, "f32", io="native")
    _tiu, gdma = _layer_commands(program, "GatherND")
    assert [(c.kind, c.work.rows, c.work.row_bytes) for c in gdma] == [
        ("GDMA_BROADCAST", 64, 16), ("GDMA_GATHER", 2, 20)]
    assert gdma_ns(gdma[1].work, simple_chip) == 2


# ---- attention (tpu-mlir's FAttention) ------------------------------------------------------


def _attention_model(heads=2, tokens=64, dim=32, mask=True):
    """A BERT self-attention core: q, k, v split into heads, scores scaled after q k^T, a mask
    added, softmax, by v, heads merged back."""
    width = heads * dim
    nodes = []
    for name in ("q", "k", "v"):
        nodes.append(node("Reshape", [name, "split"], f"{name}4"))
    nodes += [node("Transpose", ["q4"], "qt", perm=[0, 2, 1, 3]),
              node("Transpose", ["k4"], "kt", perm=[0, 2, 3, 1]),
              node("Transpose", ["v4"], "vt", perm=[0, 2, 1, 3]),
              node("MatMul", ["qt", "kt"], "s"), node("Mul", ["s", "scale"], "ss")]
    scores = "ss"
    if mask:
        nodes.append(node("Add", ["ss", "mask"], "sm"))
        scores = "sm"
    nodes += [node("Softmax", [scores], "p", axis=-1), node("MatMul", ["p", "vt"], "o"),
              node("Transpose", ["o"], "ot", perm=[0, 2, 1, 3]),
              node("Reshape", ["ot", "merge"], "out")]
    inputs = {n: [1, tokens, width] for n in ("q", "k", "v")}
    if mask:
        inputs["mask"] = [1, 1, tokens, tokens]
    inits = [const("split", np.array([1, tokens, heads, dim], np.int64)),
             const("merge", np.array([1, tokens, width], np.int64)),
             const("scale", 1 / np.sqrt(dim))]
    return model(nodes, inputs, {"out": None}, inits)


@pytest.mark.parametrize("precision, fused", [("f16", True), ("bf16", True), ("f32", False),
                                              ("int8", False)])
def test_attention_fuses_at_f16_and_bf16_only(chip, precision, fused):
    program = tpusim.compile(imported(_attention_model()), chip, precision)
    kinds = [layer.kind for layer in program.layers]
    assert ("Attention" in kinds) is fused
    assert ("Softmax" in kinds) is not fused


def test_fused_attention_computes_the_same(chip):
    from tpusim.options import Options
    from tpusim.passes.pipeline import run_passes

    g = imported(_attention_model())
    fused = run_passes(g, Options(), "f16", fold=False)
    assert fused.kind_counts() == {"Attention": 1, "Reshape": 3}  # the heads split
    values = random_values(g, seed=3)
    assert np.allclose(evaluate(g, values)["out"], evaluate(fused, values)["out"])


def test_attention_kernel_by_hand(simple_chip):
    """2 heads, 64 tokens, head dim 32, f16: q, k and v load as 128 rows of 64 B (one head's D
    elements), the mask as 64 rows of 128 B; per head an MM2 of 64 x 32 by 32 x 64 (1 lane
    group x 1 ic step x 16 column steps = 16 cycles) and of 64 x 64 by 64 x 32 (1 x 2 x 8 =
    16); between them the scale and the mask over the scores, 128 rows over the 64 lanes (2
    rows of 2 EU groups each: 4 cycles a pass), and the softmax."""
    g = imported(_attention_model())
    program = tpusim.compile(g, simple_chip, "f16", io="native")
    tiu, gdma = _layer_commands(program, "Attention")
    assert [(c.work.rows, c.work.row_bytes) for c in gdma] == [
        (128, 64), (128, 64), (128, 64), (64, 128), (64, 128)]  # q k v mask, out: 64 x 128 B
    mms = [c.work for c in tiu if isinstance(c.work, MatMul)]
    assert mms == [MatMul(64, 32, 64, F16)] * 2 + [MatMul(64, 64, 32, F16)] * 2
    assert [tiu_ns(w, simple_chip) for w in mms] == [16] * 4
    scale, mask = tiu[2].work, tiu[3].work
    assert (scale.op, mask.op) == ("scale", "mask")
    assert tiu_ns(scale, simple_chip) == tiu_ns(mask, simple_chip) == 4
    softmax = sequences.softmax(1, 64, 2, 64, F16, simple_chip)
    assert [c.work for c in tiu[4:-2]] == softmax


# ---- the detectors' operators ---------------------------------------------------------------


def test_resize_nearest_copies_and_bilinear_interpolates(chip):
    """Upsampling [1, 64, 8, 8] by 2 in h and w: nearest is one copy pass over the output,
    bilinear 4 taps (2 neighbours on each of 2 axes) at one EU pass each."""
    view = (1, 64, 16, 16)
    nearest = Op(K.UPSAMPLE, "r", (), (), {"scales": (1, 1, 2, 2), "mode": "nearest"})
    linear = nearest.with_attrs(mode="linear")
    assert sequences.resize(nearest, view, F16) == [Arith(*view, F16, "copy")]
    assert sequences.resize(linear, view, F16) == [Pool(*view, 4, F16, "interpolate")]
    quiet = chip.replace(tiu_startup_cycles=0)
    # 256 elements a lane at 32 f16 a cycle: 8 cycles a pass
    assert tiu_ns(sequences.resize(nearest, view, F16)[0], quiet) == 8
    assert tiu_ns(sequences.resize(linear, view, F16)[0], quiet) == 32


def test_bilinear_resize_runs_alone(chip):
    m = model([node("Resize", ["x", "", "sc"], "y", mode="linear"),
               node("Relu", ["y"], "z")], {"x": [1, 64, 8, 8]}, {"z": None},
              [const("sc", [1.0, 1.0, 2.0, 2.0])])
    program = tpusim.compile(imported(m), chip, "f16")
    (resize,) = [layer for layer in program.layers if layer.kind == "Upsample"]
    assert resize.group == -1  # tpu-mlir's Interp has no local kernel here


def test_sppf_max_pool_5x5(chip):
    """YOLO's SPPF: max-pool 5x5, stride 1, pad 2 on [1, 64, 20, 20] f16: 400 outputs a lane in
    13 EU groups of 32, 25 taps at the max pool's 3 passes: 13 x 25 x 3 = 975 cycles."""
    m = model([node("MaxPool", ["x"], "y", kernel_shape=[5, 5], strides=[1, 1],
                    pads=[2, 2, 2, 2])], {"x": [1, 64, 20, 20]}, {"y": None})
    g = imported(m)
    assert shape(g, "y") == (1, 64, 20, 20)
    tile = plan(single(g, K.MAXPOOL), _typed(g, "f16"), chip).make_tile((1, 20))
    (pool,) = tile.works
    assert pool == Pool(1, 64, 20, 20, 25, F16, "max")
    assert tiu_ns(pool, chip.replace(tiu_startup_cycles=0)) == 975


def test_softmax_over_channels(chip):
    """YOLOv8's distribution focal loss: softmax over axis 1 of [1, 16, 4, 8400]. Each of the 16
    slices of 4 x 8400 = 33,600 f16 loads on its own in rows of one EU group (32 elements,
    64 B: 1050 rows), spread over 64 lanes (525 elements a lane); the passes over every
    element start each slice on a fresh EU group: 16 x ceil(525 / 32) = 272 cycles a pass,
    the maximum over the slices 15 passes of ceil(525 / 32) = 17 (vendor: 272-cycle ARs)."""
    m = model([node("Softmax", ["x"], "y", axis=1)], {"x": [1, 16, 4, 8400]}, {"y": None})
    g = imported(m)
    op = single(g, K.SOFTMAX)
    assert op.attr("axis") % 4 == 1
    kernel = plan(op, _typed(g, "f16"), chip)
    assert kernel.dims == (1,)
    tile = kernel.make_tile((1,))
    assert [(d.rows, d.row_bytes) for _, d in tile.loads] == [(1050, 64)] * 16
    assert len(tile.stores) == 16
    quiet = chip.replace(tiu_startup_cycles=0)
    cycles = [tiu_ns(w, quiet) for w in tile.works]
    assert cycles[0] == 15 * 17 and cycles[1] == 272 and cycles[-1] == 272


def test_split_strided_slice_and_channel_concat_cost_copies(simple_chip):
    """A channel Split into two halves, then Concat back (YOLO's C2f), and a stride-2 Slice:
    in a group, each copy is one AR pass over its slice; alone, the strided Slice is a DDR copy
    of single elements (64 x 8 x 8 rows of 4 B)."""
    m = model([node("Split", ["x"], ["a", "b"], axis=1), node("Concat", ["b", "a"], "c", axis=1),
               node("Slice", ["c", "st", "en", "ax", "step"], "s")], {"x": [1, 64, 16, 16]},
              {"s": None}, [const("st", np.array([0, 0], np.int64)),
                            const("en", np.array([16, 16], np.int64)),
                            const("ax", np.array([2, 3], np.int64)),
                            const("step", np.array([2, 2], np.int64))])
    g = imported(m)
    assert g.kind_counts() == {"Slice": 3, "Concat": 1}
    assert shape(g, "s") == (1, 64, 8, 8)
    typed = _typed(g, "f32")
    strided = next(op for op in typed.ops if op.kind is K.SLICE and op.attr("steps")[2] == 2)
    from tpusim.lower.ddr_copies import ddr_copies

    ((_, dma),) = ddr_copies(strided, typed)
    assert (dma.direction, dma.rows, dma.row_bytes) == (Direction.S2S, 64 * 8 * 8, 4)
    program = tpusim.compile(g, simple_chip, "f32", io="native")
    concat = [layer for layer in program.layers if layer.kind == "Concat"]
    assert concat and concat[0].group >= 0


def _typed(g, precision):
    from tpusim.options import Options
    from tpusim.passes.pipeline import run_passes
    from tpusim.passes.precision import assign_precision

    return assign_precision(run_passes(g, Options(), precision), precision, "native")
