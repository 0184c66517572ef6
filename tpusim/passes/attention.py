"""The Swin-T study's rewrites of attention (bm1684x.md 5.2, reference/article.md).

- `matmul_permute_split` (tpu-mlir MatmulWithPermuteAndSplit): MatMul -> Reshape -> Permute ->
  n x (Slice + Squeeze) becomes MatMul -> Reshape -> n x (Slice + Squeeze + Permute): the split
  happens on the original axis and each branch carries its own permute.
- `hdim_is_batch` (tpu-mlir MatMulHdimBatchPattern): a MatMul whose operands are permuted so
  that the head dim becomes a batch dim reads them un-permuted, [B, M, H, K] x [B, K, H, N],
  and leaves one permute at its output. Not at F32, as in tpu-mlir (LocalGenSupport rejects F32
  MatMuls and the pattern returns failure for F32 storage).
- `fold_reshape_add`: Reshape -> Add(constant) -> Reshape back becomes one Add with a
  reshaped constant (front-end folding of the shift-mask Add; always on).
- `fuse_attention` (tpu-mlir MatMul2FAttentionPattern): the attention of a BERT-style encoder,
  scaled after q k^T, becomes one fused Attention at F16 and BF16 (always on).
"""

from __future__ import annotations

import math

from tpusim.ir.graph import Graph, Op, Tensor
from tpusim.ir.ops import OpKind as K
from tpusim.passes.permutes import constant_valued, inverse, move_below, sinkable_chain
from tpusim.passes.rewrite import Rewrite, axis_box, use_counts

_HEADS_TO_BATCH = (0, 2, 1, 3)  # [B, M, H, K] <-> [B, H, M, K]
_HEADS_TO_BATCH_T = (0, 2, 3, 1)  # [B, N, H, K] -> [B, H, K, N]


def _only_axis0_unit_slice(op: Op, shape: tuple[int, ...]) -> bool:
    starts, ends, steps = op.attr("starts"), op.attr("ends"), op.attr("steps")
    if any(s != 1 for s in steps) or ends[0] - starts[0] != 1:
        return False
    return all(starts[i] == 0 and ends[i] >= shape[i] for i in range(1, len(shape)))


def matmul_permute_split(graph: Graph) -> Graph:
    producers, consumers, uses = graph.producers(), graph.consumers(), use_counts(graph)
    rw = Rewrite(graph)
    for perm in graph.ops:
        if perm.kind is not K.PERMUTE:
            continue
        reshape = producers.get(perm.inputs[0])
        if reshape is None or reshape.kind is not K.RESHAPE or uses[reshape.outputs[0]] != 1:
            continue
        source = producers.get(reshape.inputs[0])
        if source is None or source.kind is not K.MATMUL:
            continue
        order = tuple(perm.attr("order"))
        shape = graph.tensors[perm.outputs[0]].shape
        pairs = []
        for s in consumers[perm.outputs[0]]:
            readers = consumers.get(s.outputs[0], [])  # none when it is a graph output
            squeeze = readers[0] if uses.get(s.outputs[0]) == 1 and readers else None
            if (s.kind is not K.SLICE or not _only_axis0_unit_slice(s, shape) or squeeze is None
                    or squeeze.kind is not K.SQUEEZE or tuple(squeeze.attr("axes")) != (0,)):
                break
            pairs.append((s, squeeze))
        if not pairs or len(pairs) != uses[perm.outputs[0]]:
            continue
        _split(rw, graph, reshape, order, pairs)
        rw.remove(perm)
    return rw.build()


def _split(rw: Rewrite, graph: Graph, reshape: Op, order: tuple[int, ...],
           pairs: list[tuple[Op, Op]]) -> None:
    axis = order[0]
    src = graph.tensors[reshape.outputs[0]]
    rest = tuple(o - (o > axis) for o in order[1:])
    for s, squeeze in pairs:
        index = s.attr("starts")[0]
        sliced = tuple(1 if i == axis else d for i, d in enumerate(src.shape))
        cut = rw.add_tensor(Tensor(rw.fresh(f"{s.name}.split"), sliced, src.dtype))
        rw.replace(s, Op(K.SLICE, cut, (src.name,), (cut,),
                         axis_box(src.shape, axis, index, index + 1)))
        kept = sliced[:axis] + sliced[axis + 1:]
        squeezed = rw.add_tensor(Tensor(rw.fresh(f"{squeeze.name}.split"), kept, src.dtype))
        rw.replace(squeeze, Op(K.SQUEEZE, squeezed, (cut,), (squeezed,), {"axes": (axis,)}),
                   Op(K.PERMUTE, rw.fresh(f"{squeeze.name}.permute"), (squeezed,),
                      squeeze.outputs, {"order": rest}))


def _permuted_source(graph: Graph, tensor: str, orders: tuple[tuple[int, ...], ...],
                     producers: dict[str, Op], uses: dict[str, int],
                     consumers: dict[str, list[Op]], consts: set[str]
                     ) -> tuple[Op, list[Op]] | None:
    """The permute (with one of `orders`) `tensor` comes from, through ops it commutes with."""
    chain: list[Op] = []
    t = tensor
    while True:
        op = producers.get(t)
        if op is None:
            return None
        if op.kind is K.PERMUTE:
            if tuple(op.attr("order")) in orders and uses.get(op.outputs[0]) == 1 and \
                    sinkable_chain(graph, op.outputs[0], uses, consumers,
                                   consts)[:len(chain)] == chain:
                return op, chain
            return None
        acts = [i for i in op.inputs if i not in consts]
        if len(acts) != 1 or uses.get(op.outputs[0]) != 1:
            return None
        chain.insert(0, op)
        t = acts[0]


def hdim_is_batch(graph: Graph, precision: str) -> Graph:
    """Absorb head-dim permutes into batch MatMuls; repeated until none is left to absorb."""
    if precision == "f32":
        return graph
    while True:
        rewritten = _hdim_once(graph)
        if rewritten is graph:
            return graph
        graph = rewritten


def _hdim_once(graph: Graph) -> Graph:
    producers, consumers, uses = graph.producers(), graph.consumers(), use_counts(graph)
    consts = constant_valued(graph)
    for mm in graph.ops:
        if mm.kind is not K.MATMUL or mm.attr("hdim_is_batch") or len(mm.inputs) != 2:
            continue
        a, b = (graph.tensors[t] for t in mm.inputs)
        if len(a.shape) != 4 or len(b.shape) != 4 or a.name in consts or b.name in consts:
            continue
        left = _permuted_source(graph, mm.inputs[0], (_HEADS_TO_BATCH,), producers, uses,
                                consumers, consts)
        right = _permuted_source(graph, mm.inputs[1], (_HEADS_TO_BATCH, _HEADS_TO_BATCH_T),
                                 producers, uses, consumers, consts)
        if right is None or mm.attr("right_transpose"):
            continue
        rw = Rewrite(graph)
        (rp, rchain) = right
        before: list[Op] = []
        if left is not None:
            lp, lchain = left
            lsrc = move_below(rw, graph, lchain, _HEADS_TO_BATCH, lp.inputs[0], consts)
            rw.remove(lp)
        elif uses.get(a.name) == 1 and a.shape[1] == graph.tensors[rp.outputs[0]].shape[1]:
            # tpu-mlir's case 3: a left operand that no permute made is permuted to
            # [B, M, H, K] for the MatMul (permute_fuse may then cancel that permute)
            m_h = (a.shape[0], a.shape[2], a.shape[1], a.shape[3])
            lsrc = rw.add_tensor(Tensor(rw.fresh(f"{mm.name}.left"), m_h, a.dtype))
            before.append(Op(K.PERMUTE, rw.fresh(f"{mm.name}.left_permute"), (a.name,),
                             (lsrc,), {"order": _HEADS_TO_BATCH}))
        else:
            continue
        rorder = tuple(rp.attr("order"))
        rsrc = move_below(rw, graph, rchain, rorder, rp.inputs[0], consts)
        out = graph.tensors[mm.outputs[0]]
        bh, m, h, n = out.shape[0], out.shape[2], out.shape[1], out.shape[3]
        hdim = rw.add_tensor(Tensor(rw.fresh(f"{mm.name}.hdim"), (bh, m, h, n), out.dtype))
        rw.remove(rp)
        rw.replace(mm, *before, Op(K.MATMUL, mm.name, (lsrc, rsrc), (hdim,),
                          {**mm.attrs, "hdim_is_batch": True,
                           "right_transpose": rorder == _HEADS_TO_BATCH_T}),
                   Op(K.PERMUTE, rw.fresh(f"{mm.name}.permute"), (hdim,), mm.outputs,
                      {"order": inverse(_HEADS_TO_BATCH)}))
        return rw.build()
    return graph


def fold_reshape_add(graph: Graph) -> Graph:
    """Reshape(x) -> Add(constant) -> Reshape back to x's shape: one Add on x, its constant
    reshaped (and tiled over the batch when the reshape split it off)."""
    producers, consumers, uses = graph.producers(), graph.consumers(), use_counts(graph)
    rw = Rewrite(graph)
    for add in graph.ops:
        if add.kind is not K.ADD or len(add.inputs) != 2:
            continue
        consts = [t for t in add.inputs if graph.tensors[t].is_constant]
        acts = [t for t in add.inputs if not graph.tensors[t].is_constant]  # before any folding
        if len(consts) != 1 or len(acts) != 1 or uses.get(acts[0]) != 1:
            continue
        first = producers.get(acts[0])
        after = consumers.get(add.outputs[0], [])
        if (first is None or first.kind is not K.RESHAPE or len(after) != 1
                or uses.get(add.outputs[0]) != 1 or after[0].kind is not K.RESHAPE):
            continue
        x = graph.tensors[first.inputs[0]]
        wide = graph.tensors[acts[0]].shape
        if graph.tensors[after[0].outputs[0]].shape != x.shape or len(wide) != len(x.shape) + 1 \
                or wide[0] * wide[1] != x.shape[0] or wide[2:] != x.shape[1:]:
            continue
        w = graph.tensors[consts[0]]
        padded = (1,) * (len(wide) - len(w.shape)) + w.shape
        tiled = (wide[0] if padded[1] > 1 else padded[0], *padded[1:])
        target = (math.prod(tiled[:2]), *tiled[2:])
        ops, src = [], w.name
        if tiled != padded:
            src = rw.add_tensor(Tensor(rw.fresh(f"{w.name}.tiled"), tiled, w.dtype))
            ops.append(Op(K.EXPAND, src, (w.name,), (src,), {"shape": tiled}))
        folded = rw.add_tensor(Tensor(rw.fresh(f"{w.name}.folded"), target, w.dtype))
        ops.append(Op(K.RESHAPE, folded, (src,), (folded,), {"shape": target}))
        rw.remove(first, after[0])
        rw.replace(add, *ops, Op(K.ADD, add.name, (x.name, folded), after[0].outputs, add.attrs))
    return rw.build()


def fuse_attention(graph: Graph, precision: str) -> Graph:
    """tpu-mlir's MatMul2FAttentionPattern (BM1684X, F16 and BF16 only): Permute(q) x
    Permute(k) -> MulConst (the scale) -> [Add (a mask)] -> Softmax -> x Permute(v) -> Permute
    -> Reshape to [B, M, H * D] becomes one Attention of the unpermuted q, k, v and the mask
    (tpu-mlir's FAttention, a global flash-attention kernel), when the head dim is at most 160
    and there are at least 4 keys. Every intermediate must have no other reader."""
    if precision not in ("f16", "bf16"):
        return graph
    producers, consumers, uses = graph.producers(), graph.consumers(), use_counts(graph)

    def only(tensor: str, kind: K, order: tuple[int, ...] | None = None) -> Op | None:
        """The op of `kind` making `tensor`, if `tensor` has no other reader."""
        op = producers.get(tensor)
        if op is None or op.kind is not kind or uses.get(tensor) != 1:
            return None
        return op if order is None or tuple(op.attr("order")) == order else None

    def reader(tensor: str, kind: K) -> Op | None:
        ops = consumers.get(tensor, [])
        return ops[0] if uses.get(tensor) == 1 and ops and ops[0].kind is kind else None

    rw = Rewrite(graph)
    for mm in graph.ops:
        if mm.kind is not K.MATMUL or len(mm.inputs) != 2 or mm.attr("hdim_is_batch"):
            continue
        out_perm = reader(mm.outputs[0], K.PERMUTE)
        if out_perm is None or tuple(out_perm.attr("order")) != _HEADS_TO_BATCH:
            continue
        reshape = reader(out_perm.outputs[0], K.RESHAPE)
        softmax = only(mm.inputs[0], K.SOFTMAX)
        v_perm = only(mm.inputs[1], K.PERMUTE, _HEADS_TO_BATCH)
        if reshape is None or softmax is None or v_perm is None or \
                len(graph.tensors[reshape.outputs[0]].shape) != 3:
            continue
        scores = graph.tensors[softmax.inputs[0]].shape
        if len(scores) != 4 or softmax.attr("axis", -1) % 4 != 3:
            continue
        add = only(softmax.inputs[0], K.ADD)
        scaled, mask = (add.inputs[0], add.inputs[1]) if add else (softmax.inputs[0], None)
        scale = only(scaled, K.MULCONST)
        mm0 = only(scale.inputs[0], K.MATMUL) if scale else None
        if mm0 is None or len(mm0.inputs) != 2 or mm0.attr("hdim_is_batch"):
            continue
        q_perm = only(mm0.inputs[0], K.PERMUTE, _HEADS_TO_BATCH)
        k_perm = only(mm0.inputs[1], K.PERMUTE, _HEADS_TO_BATCH_T)
        dim, keys = graph.tensors[mm.outputs[0]].shape[3], scores[3]
        if q_perm is None or k_perm is None or dim > 160 or keys < 4:
            continue
        fused = [q_perm, k_perm, v_perm, mm0, scale, softmax, mm, out_perm, reshape]
        if add is not None:
            fused.append(add)
        if any(rw.claimed(op) for op in fused):
            continue
        inputs = (q_perm.inputs[0], k_perm.inputs[0], v_perm.inputs[0], *([mask] if mask else ()))
        rw.replace(reshape, Op(K.ATTENTION, reshape.name, inputs, reshape.outputs,
                               {"scale": scale.attr("const"), "heads": scores[1], "dim": dim}))
        rw.remove(*(op for op in fused if op is not reshape))
    return rw.build()
