"""Swin Transformer (T/S/B) as tpu-mlir sees it right after ONNX import.

The graph follows torchvision's `swin_t` export after tpu-mlir's front-end folding (bm1684x.md
section 5.1): tokens stay [B, H, W, C]; the cyclic shift is Slice+Concat on H and W; window
partition is Reshape -> Permute -> Reshape; q/k/v come out of one MatMul through
Reshape -> Permute(2,0,3,1,4) -> Slice+Squeeze; the relative-position bias and the shift mask are
constant operands of Adds. These are the operators the article's optimisations remove or regroup.
"""

from __future__ import annotations

from dataclasses import dataclass

from tpusim.ir.graph import Graph, GraphBuilder, TensorKind
from tpusim.ir.ops import OpKind as K


@dataclass(frozen=True)
class SwinConfig:
    embed_dim: int
    depths: tuple[int, ...]
    heads: tuple[int, ...]
    window: int = 7
    patch: int = 4
    mlp_ratio: int = 4
    image: int = 224
    classes: int = 1000


SWIN_CONFIGS = {
    "swin-t": SwinConfig(96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "swin-s": SwinConfig(96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "swin-b": SwinConfig(128, (2, 2, 18, 2), (4, 8, 16, 32)),
}


def build_swin(name: str | SwinConfig = "swin-t", batch: int = 1) -> Graph:
    """The Swin variant `name` ("swin-t", "swin-s", "swin-b", or any `SwinConfig`) for a batch
    of `batch` images."""
    cfg = SWIN_CONFIGS[name] if isinstance(name, str) else name
    g = GraphBuilder(name if isinstance(name, str) else "swin")
    x = g.input("input", (batch, 3, cfg.image, cfg.image))
    x = _patch_embed(g, x, cfg)
    size, dim = cfg.image // cfg.patch, cfg.embed_dim
    for stage, (depth, heads) in enumerate(zip(cfg.depths, cfg.heads)):
        if stage > 0:
            x = _patch_merge(g, x, f"s{stage}.merge", dim)
            size, dim = size // 2, dim * 2
        window = min(cfg.window, size)
        shift = 0 if window >= size else window // 2
        for block in range(depth):
            name = f"s{stage}.b{block}"
            x = _block(g, x, name, batch, size, dim, heads, window, shift if block % 2 else 0,
                       cfg.mlp_ratio)
    x = _layernorm(g, x, "norm", dim)
    x = g.op(K.PERMUTE, [x], "head.permute", order=(0, 3, 1, 2))
    x = g.op(K.REDUCE_MEAN, [x], "head.pool", axes=(2, 3), keepdims=True)
    x = g.op(K.RESHAPE, [x], "head.flatten", shape=(batch, dim))
    x = _linear(g, x, "head.fc", dim, cfg.classes)
    g.output(x)
    return g.build()


def _linear(g: GraphBuilder, x: str, name: str, d_in: int, d_out: int, bias: bool = True) -> str:
    w = g.weight(f"{name}.weight", (d_in, d_out))
    inputs = [x, w, g.weight(f"{name}.bias", (d_out,))] if bias else [x, w]
    return g.op(K.MATMUL, inputs, name)


def _layernorm(g: GraphBuilder, x: str, name: str, dim: int) -> str:
    scale = g.weight(f"{name}.weight", (dim,))
    bias = g.weight(f"{name}.bias", (dim,))
    return g.op(K.LAYERNORM, [x, scale, bias], name, axis=-1, eps=1e-5)


def _patch_embed(g: GraphBuilder, x: str, cfg: SwinConfig) -> str:
    p = cfg.patch
    w = g.weight("embed.weight", (cfg.embed_dim, 3, p, p))
    b = g.weight("embed.bias", (cfg.embed_dim,))
    x = g.op(K.CONV2D, [x, w, b], "embed.conv", strides=(p, p), pads=(0, 0, 0, 0),
             dilations=(1, 1), group=1)
    x = g.op(K.PERMUTE, [x], "embed.permute", order=(0, 2, 3, 1))
    return _layernorm(g, x, "embed.norm", cfg.embed_dim)


def _patch_merge(g: GraphBuilder, x: str, name: str, dim: int) -> str:
    b, h, w, c = g.tensors[x].shape
    parts = []
    for i, (dh, dw) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        parts.append(g.op(K.SLICE, [x], f"{name}.slice{i}", starts=(0, dh, dw, 0),
                          ends=(b, h, w, c), steps=(1, 2, 2, 1)))
    x = g.op(K.CONCAT, parts, f"{name}.concat", axis=3)
    x = _layernorm(g, x, f"{name}.norm", 4 * dim)
    return _linear(g, x, f"{name}.reduction", 4 * dim, 2 * dim, bias=False)


def _roll(g: GraphBuilder, x: str, name: str, shift: int) -> str:
    """torch.roll by `shift` on H then W, as ONNX exports it: two Slices and a Concat per axis."""
    for axis in (1, 2):
        shape = g.tensors[x].shape
        size = shape[axis]
        cut = (-shift) % size
        ends = list(shape)
        head_end, tail_start = list(ends), [0] * len(shape)
        head_end[axis] = cut
        tail_start[axis] = cut
        steps = (1,) * len(shape)
        head = g.op(K.SLICE, [x], f"{name}.slice{axis}a", starts=(0,) * len(shape),
                    ends=tuple(head_end), steps=steps)
        tail = g.op(K.SLICE, [x], f"{name}.slice{axis}b", starts=tuple(tail_start),
                    ends=tuple(ends), steps=steps)
        x = g.op(K.CONCAT, [tail, head], f"{name}.concat{axis}", axis=axis)
    return x


def _block(g: GraphBuilder, x: str, name: str, batch: int, size: int, dim: int, heads: int,
           window: int, shift: int, mlp_ratio: int) -> str:
    nw = (size // window) ** 2
    tokens = window * window
    hd = dim // heads
    shortcut = x
    y = _layernorm(g, x, f"{name}.norm1", dim)
    if shift:
        y = _roll(g, y, f"{name}.roll", -shift)
    y = g.op(K.RESHAPE, [y], f"{name}.win.reshape",
             shape=(batch, size // window, window, size // window, window, dim))
    y = g.op(K.PERMUTE, [y], f"{name}.win.permute", order=(0, 1, 3, 2, 4, 5))
    y = g.op(K.RESHAPE, [y], f"{name}.win.flatten", shape=(batch * nw, tokens, dim))
    # attention
    qkv = _linear(g, y, f"{name}.attn.qkv", dim, 3 * dim)
    qkv = g.op(K.RESHAPE, [qkv], f"{name}.attn.qkv.reshape",
               shape=(batch * nw, tokens, 3, heads, hd))
    qkv = g.op(K.PERMUTE, [qkv], f"{name}.attn.qkv.permute", order=(2, 0, 3, 1, 4))
    q, k, v = (_select(g, qkv, f"{name}.attn.{part}", i) for i, part in enumerate("qkv"))
    q = g.op(K.MULCONST, [q], f"{name}.attn.scale", const=hd ** -0.5)
    kt = g.op(K.PERMUTE, [k], f"{name}.attn.k.transpose", order=(0, 1, 3, 2))
    attn = g.op(K.MATMUL, [q, kt], f"{name}.attn.qk")
    bias = g.weight(f"{name}.attn.rel_pos_bias", (1, heads, tokens, tokens), TensorKind.CONST)
    attn = g.op(K.ADD, [attn, bias], f"{name}.attn.add_bias")
    if shift:
        attn = g.op(K.RESHAPE, [attn], f"{name}.attn.mask.reshape",
                    shape=(batch, nw, heads, tokens, tokens))
        mask = g.weight(f"{name}.attn.mask", (1, nw, 1, tokens, tokens), TensorKind.CONST)
        attn = g.op(K.ADD, [attn, mask], f"{name}.attn.add_mask")
        attn = g.op(K.RESHAPE, [attn], f"{name}.attn.mask.unreshape",
                    shape=(batch * nw, heads, tokens, tokens))
    attn = g.op(K.SOFTMAX, [attn], f"{name}.attn.softmax", axis=-1)
    y = g.op(K.MATMUL, [attn, v], f"{name}.attn.av")
    y = g.op(K.PERMUTE, [y], f"{name}.attn.out.permute", order=(0, 2, 1, 3))
    y = g.op(K.RESHAPE, [y], f"{name}.attn.out.reshape", shape=(batch * nw, tokens, dim))
    y = _linear(g, y, f"{name}.attn.proj", dim, dim)
    # window reverse
    y = g.op(K.RESHAPE, [y], f"{name}.unwin.reshape",
             shape=(batch, size // window, size // window, window, window, dim))
    y = g.op(K.PERMUTE, [y], f"{name}.unwin.permute", order=(0, 1, 3, 2, 4, 5))
    y = g.op(K.RESHAPE, [y], f"{name}.unwin.flatten", shape=(batch, size, size, dim))
    if shift:
        y = _roll(g, y, f"{name}.unroll", shift)
    x = g.op(K.ADD, [shortcut, y], f"{name}.residual1")
    # MLP
    y = _layernorm(g, x, f"{name}.norm2", dim)
    y = _linear(g, y, f"{name}.mlp.fc1", dim, mlp_ratio * dim)
    y = g.op(K.GELU, [y], f"{name}.mlp.gelu")
    y = _linear(g, y, f"{name}.mlp.fc2", mlp_ratio * dim, dim)
    return g.op(K.ADD, [x, y], f"{name}.residual2")


def _select(g: GraphBuilder, x: str, name: str, index: int) -> str:
    """x[index] on axis 0, as tpu-mlir imports ONNX Gather: Slice then Squeeze."""
    shape = g.tensors[x].shape
    starts = (index,) + (0,) * (len(shape) - 1)
    ends = (index + 1, *shape[1:])
    s = g.op(K.SLICE, [x], f"{name}.slice", starts=starts, ends=ends, steps=(1,) * len(shape))
    return g.op(K.SQUEEZE, [s], f"{name}.squeeze", axes=(0,))
