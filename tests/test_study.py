"""The Swin-T study: the rewrites and grouping options reshape every block's attention, and
make FP16 and INT8 faster; `tpusim compare` prints the article's table."""

import json

import pytest

from tpusim import study
from tpusim.cli import main
from tpusim.frontend.swin import SwinConfig, build_swin
from tpusim.options import OPTIONS, STUDY_STEPS, parse_options

BLOCKS = [f"s{s}.b{b}" for s, depth in enumerate((2, 2, 6, 2)) for b in range(depth)]


def _attention(result, block):
    return [layer for layer in result.program.layers
            if layer.name.startswith(f"{block}.attn.")]


@pytest.mark.parametrize("precision", ["f16", "int8"])
def test_after_every_attention_is_one_group_without_permutes(swin_t, precision):
    after = swin_t(precision, "after")
    for block in BLOCKS:
        layers = _attention(after, block)
        assert not [layer.name for layer in layers if layer.kind == "Permute"], block
        assert {layer.group for layer in layers} != {-1}
        assert len({layer.group for layer in layers}) == 1, block  # one group, no global layer


@pytest.mark.parametrize("precision", ["f16", "int8"])
def test_before_the_transposes_break_the_attention(swin_t, precision):
    before = swin_t(precision, "before")
    for block in BLOCKS:
        layers = _attention(before, block)
        permutes = [layer.name for layer in layers if layer.kind == "Permute"]
        assert permutes == [f"{block}.attn.qkv.permute", f"{block}.attn.k.transpose",
                            f"{block}.attn.out.permute"]
        global_compute = {layer.name.rsplit(".", 1)[-1] for layer in layers
                          if layer.group < 0 and layer.kind in ("MatMul", "Permute")}
        assert {"qk", "av", "permute", "transpose"} <= global_compute
        assert len({layer.group for layer in layers if layer.group >= 0}) >= 1


@pytest.mark.parametrize("precision", ["f16", "int8"])
def test_after_is_faster(swin_t, precision):
    before, after = swin_t(precision, "before"), swin_t(precision, "after")
    assert after.total_ms < 0.7 * before.total_ms
    assert after.summary()["ddr_bytes"] < before.summary()["ddr_bytes"]


def test_options_by_name_and_step():
    assert parse_options("before").enabled == ()
    assert parse_options("after").enabled == tuple(OPTIONS)
    assert parse_options("grouping").enabled == STUDY_STEPS["grouping"]
    assert parse_options("hdim_is_batch,weight_split").enabled == ("hdim_is_batch",
                                                                   "weight_split")
    with pytest.raises(Exception, match="unknown optimisation 'hdim'"):
        parse_options("hdim")


def test_option_labels():
    from dataclasses import replace

    assert [parse_options(s).label() for s in ("before", "after", "grouping")] == [
        "before", "after", "slice5d_local,squeeze_local"]
    assert replace(parse_options("after"), layer_groups=False).label() == (
        "after, no layer groups")


def test_reference_table_is_the_articles():
    ref = study.reference_ms("swin-t", "bm1684x", 1)
    assert ref["f16"] == {"before": 7.411, "after": 3.522}
    assert ref["int8"] == {"before": 5.505, "after": 2.228}
    assert ref["f32"] == {"before": 41.890}
    assert study.reference_ms("swin-t", "bm1684x", 4) == {}


def test_ablation_rows_and_errors(chip):
    tiny = build_swin(SwinConfig(embed_dim=32, depths=(2, 2), heads=(2, 4), image=112,
                                 classes=10))
    rows = study.before_after(tiny, chip, ["f16"], "tiny", 1)
    assert rows[0].to_dict().keys() == {"precision", "before_ms", "after_ms", "speedup"}
    ablation = study.ablation(tiny, chip, ["f16"])
    names = [a["off"] for a in ablation]
    assert names == ["transposes", "grouping", *OPTIONS]
    assert all(a["ms"]["f16"] > 0 for a in ablation)


def test_compare_json_has_the_table(capsys):
    assert main(["compare", "swin-t", "--precisions", "f16", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    row = data["rows"][0]
    assert row["measured"] == {"before": 7.411, "after": 3.522, "speedup": pytest.approx(2.104,
                                                                                          abs=1e-3)}
    assert row["error"]["after"] == pytest.approx(row["after_ms"] / 3.522 - 1, abs=1e-4)
    assert row["speedup"] == pytest.approx(row["before_ms"] / row["after_ms"], abs=1e-3)
