import pytest

from tpusim.errors import ModelError
from tpusim.frontend import build_model
from tpusim.ir import OpKind, macs, params

# Published sizes (Liu et al., Swin Transformer, 2021, Table 1; torchvision model cards).
PUBLISHED = {"swin-t": (28.3e6, 4.5e9), "swin-s": (49.6e6, 8.7e9), "swin-b": (87.8e6, 15.4e9)}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_swin_matches_published_size(name):
    g = build_model(name)
    want_params, want_macs = PUBLISHED[name]
    assert params(g) == pytest.approx(want_params, rel=0.02)
    assert macs(g) == pytest.approx(want_macs, rel=0.02)


def test_swin_t_structure():
    g = build_model("swin-t")
    blocks = 2 + 2 + 6 + 2
    assert g.count(OpKind.SOFTMAX) == blocks
    assert g.count(OpKind.GELU) == blocks
    assert g.count(OpKind.LAYERNORM) == 2 * blocks + 3 + 2  # blocks, 3 merges, embed, final
    # qkv, q@k, attn@v, proj, fc1, fc2 per block; 3 merge reductions; the head
    assert g.count(OpKind.MATMUL) == 6 * blocks + 3 + 1
    # window partition, qkv, k transpose, attention output, window reverse; embed and head
    assert g.count(OpKind.PERMUTE) == 5 * blocks + 2
    assert g.count(OpKind.SQUEEZE) == 3 * blocks
    shifted = 1 + 1 + 3  # odd blocks of stages 1-3; stage 4's 7x7 map is one window
    assert sum(op.name.endswith("add_mask") for op in g.ops) == shifted
    assert g.count(OpKind.CONCAT) == 4 * shifted + 3
    assert g.tensors[g.outputs[0]].shape == (1, 1000)


def test_batch_scales_work_not_weights():
    one, four = build_model("swin-t", 1), build_model("swin-t", 4)
    assert params(four) == params(one)
    assert macs(four) == 4 * macs(one)
    assert four.tensors[four.outputs[0]].shape == (4, 1000)


def test_unknown_model():
    with pytest.raises(ModelError, match="unknown model 'resnet'"):
        build_model("resnet")
