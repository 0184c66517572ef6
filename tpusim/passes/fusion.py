"""Operator fusions of front-end canonicalisation: patterns exporters spell out op by op.

They run after `scalar_to_const_ops`, so multiplications and additions by a scalar are already
MulConst/AddConst carrying their value (None when the file did not keep it; a pattern then
trusts the structure). Every intermediate result of a pattern must have no other reader.

- GELU, erf form: x * 0.5 * (1 + erf(x / sqrt 2)), with the 0.5 on x, on the bracket or on the
  product; tanh form: x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))), cube as Pow or Muls.
- LayerNorm: ReduceMean, Sub, Pow 2 (or Mul), ReduceMean, Add eps, Sqrt, Div, then optionally
  Mul by a scale and Add of a bias over the normalised axes.
- SiLU: x * Sigmoid(x). HardSwish: x * HardSigmoid(x) (alpha 1/6, beta 1/2), or
  x * Clip(x + 3, 0, 6) / 6; Clip(x + 3, 0, 6) / 6 alone is a HardSigmoid.
- MatMul + bias: a MatMul with a constant weight, then an Add of a constant vector along its
  last axis, becomes one MatMul with a bias (a Linear layer).
- ReLU (and Clip from 0, a ReLU with a limit) folds into the op before it when that op can apply
  it to its own result (tpu-mlir's TopFuseRelu: `do_relu` on convolutions, MatMuls, pools and
  element-wise arithmetic); the fused op takes the ReLU's name and output.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from tpusim.ir.graph import Graph, Op
from tpusim.ir.ops import OpKind as K
from tpusim.passes.rewrite import Rewrite, use_counts


class _Finder:
    """Who writes and who reads each tensor, and the tests patterns are made of."""

    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.producers = graph.producers()
        self.readers = graph.consumers()
        self.uses = use_counts(graph)

    def made_by(self, tensor: str, kind: K, const: float | None = None) -> Op | None:
        """The op of `kind` writing `tensor`, if `tensor` has no other reader."""
        op = self.producers.get(tensor)
        if op is None or op.kind is not kind or self.uses.get(tensor) != 1:
            return None
        return op if const is None or _close(op.attr("const"), const) else None

    def read_by(self, tensor: str, kind: K, const: float | None = None) -> Op | None:
        """The only reader of `tensor`, if it is an op of `kind`."""
        if self.uses.get(tensor) != 1 or not self.readers.get(tensor):
            return None
        op = self.readers[tensor][0]
        if op.kind is not kind:
            return None
        return op if const is None or _close(op.attr("const"), const) else None

    def other(self, op: Op, tensor: str) -> str | None:
        """The other operand of a binary op that reads `tensor`."""
        a, b = op.inputs[:2]
        return b if a == tensor else a if b == tensor else None

    def is_const(self, tensor: str) -> bool:
        return self.g.tensors[tensor].is_constant


def _close(value: float | None, target: float) -> bool:
    return value is None or math.isclose(value, target, rel_tol=1e-3)


def _fuse(rw: Rewrite, ops: list[Op], root: Op, new: Op) -> None:
    """Replace `ops` by `new`, which takes `root`'s name and outputs."""
    if any(rw.claimed(op) for op in ops):
        return
    rw.replace(root, Op(new.kind, root.name, new.inputs, root.outputs, new.attrs))
    rw.remove(*(op for op in ops if op is not root))


def _half_product(f: _Finder, x: str, bracket: Op) -> tuple[list[Op], Op] | None:
    """x * 0.5 * bracket in any association: (ops, root) or None."""
    t = bracket.outputs[0]
    half = f.read_by(t, K.MULCONST, 0.5)
    if half is not None:  # x * (0.5 * bracket)
        mul = f.read_by(half.outputs[0], K.MUL)
        if mul is not None and f.other(mul, half.outputs[0]) == x:
            return [half, mul], mul
        return None
    mul = f.read_by(t, K.MUL)
    if mul is None:
        return None
    y = f.other(mul, t)
    if y == x:  # (x * bracket) * 0.5
        half = f.read_by(mul.outputs[0], K.MULCONST, 0.5)
        return ([mul, half], half) if half is not None else None
    half = f.made_by(y, K.MULCONST, 0.5) if y is not None else None
    if half is not None and half.inputs[0] == x:  # (0.5 * x) * bracket
        return [half, mul], mul
    return None


def _cube_of(f: _Finder, p: str) -> tuple[str, list[Op]] | None:
    """(x, the ops) when `p` is x^3: a Pow by 3, or x * x * x in either association."""
    op = f.made_by(p, K.POW)
    if op is not None and f.is_const(op.inputs[1]) and _close(op.attr("scalar"), 3.0):
        return op.inputs[0], [op]
    op = f.made_by(p, K.MUL)
    if op is None:
        return None
    for sq, x in (op.inputs, op.inputs[::-1]):
        inner = f.made_by(sq, K.MUL)
        if inner is not None and inner.inputs[0] == inner.inputs[1] == x:
            return x, [inner, op]
    return None


def fuse_gelu(graph: Graph) -> Graph:
    f, rw = _Finder(graph), Rewrite(graph)
    for op in graph.ops:
        if op.kind is K.ERF:
            scale = f.made_by(op.inputs[0], K.MULCONST, 1 / math.sqrt(2))
            if scale is None:
                continue
            x, head = scale.inputs[0], [scale, op]
        elif op.kind is K.TANH:
            scale = f.made_by(op.inputs[0], K.MULCONST, math.sqrt(2 / math.pi))
            inner = f.made_by(scale.inputs[0], K.ADD) if scale else None
            if inner is None:
                continue
            for x, z in (inner.inputs, inner.inputs[::-1]):
                coeff = f.made_by(z, K.MULCONST, 0.044715)
                cube = _cube_of(f, coeff.inputs[0]) if coeff is not None else None
                if cube is not None and cube[0] == x:
                    break
            else:
                continue
            head = [*cube[1], coeff, inner, scale, op]
        else:
            continue
        one_plus = f.read_by(op.outputs[0], K.ADDCONST, 1.0)
        tail = _half_product(f, x, one_plus) if one_plus is not None else None
        if tail is not None:
            rest, root = tail
            _fuse(rw, [*head, one_plus, *rest], root, Op(K.GELU, root.name, (x,), root.outputs))
    return rw.build()


def _scale_over(f: _Finder, op: Op | None, t: str, norm: tuple[int, ...]) -> str | None:
    """The constant operand of `op` (reading `t`) if it only spans the normalised axes."""
    if op is None:
        return None
    c = f.other(op, t)
    if c is None or not f.is_const(c):
        return None
    shape = f.g.tensors[c].shape
    out = f.g.tensors[op.outputs[0]].shape
    if out != f.g.tensors[t].shape or math.prod(shape) != math.prod(norm) \
            or tuple(shape[-len(norm):]) != norm:
        return None
    return c


def fuse_layernorm(graph: Graph) -> Graph:
    f, rw = _Finder(graph), Rewrite(graph)
    for mean in graph.ops:
        if mean.kind is not K.REDUCE_MEAN or not mean.attr("keepdims", True):
            continue
        x = mean.inputs[0]
        shape = graph.tensors[x].shape
        axes = sorted(a % len(shape) for a in mean.attr("axes"))
        if axes != list(range(len(shape) - len(axes), len(shape))):
            continue
        sub = f.read_by(mean.outputs[0], K.SUB)
        if sub is None or sub.inputs != (x, mean.outputs[0]):
            continue
        d = sub.outputs[0]
        readers = list({r.name: r for r in f.readers.get(d, [])}.values())
        square = next((r for r in readers if (r.kind is K.POW and _close(r.attr("scalar"), 2.0)
                                              and r.inputs[0] == d)
                       or (r.kind is K.MUL and r.inputs == (d, d))), None)
        div = next((r for r in readers if r.kind is K.DIV and r.inputs[0] == d), None)
        if len(readers) != 2 or square is None or div is None:
            continue
        var = f.read_by(square.outputs[0], K.REDUCE_MEAN)
        eps = f.read_by(var.outputs[0], K.ADDCONST) if var is not None else None
        sqrt = f.read_by(eps.outputs[0], K.SQRT) if eps is not None else None
        if sqrt is None or var.attr("axes") != mean.attr("axes") or \
                f.read_by(sqrt.outputs[0], K.DIV) is not div:
            continue
        ops, root, params = [mean, sub, square, var, eps, sqrt, div], div, []
        norm = shape[axes[0]:]
        gamma_op = f.read_by(div.outputs[0], K.MUL)
        gamma = _scale_over(f, gamma_op, div.outputs[0], norm)
        if gamma is not None:
            ops, root, params = [*ops, gamma_op], gamma_op, [gamma]
            beta_op = f.read_by(gamma_op.outputs[0], K.ADD)
            beta = _scale_over(f, beta_op, gamma_op.outputs[0], norm)
            if beta is not None:
                ops, root, params = [*ops, beta_op], beta_op, [gamma, beta]
        eps_value = eps.attr("const")
        _fuse(rw, ops, root, Op(K.LAYERNORM, root.name, (x, *params), root.outputs,
                                {"axis": axes[0] - len(shape),
                                 "eps": 1e-5 if eps_value is None else eps_value}))
    return rw.build()


def _fuse_gated(graph: Graph, gate: Callable[[Op], bool], fused: K) -> Graph:
    """x * gate(x) becomes one `fused` op of x."""
    f, rw = _Finder(graph), Rewrite(graph)
    for op in graph.ops:
        if not gate(op):
            continue
        mul = f.read_by(op.outputs[0], K.MUL)
        if mul is not None and f.other(mul, op.outputs[0]) == op.inputs[0]:
            _fuse(rw, [op, mul], mul, Op(fused, "", op.inputs[:1], ()))
    return rw.build()


def fuse_silu(graph: Graph) -> Graph:
    return _fuse_gated(graph, lambda op: op.kind is K.SIGMOID, K.SILU)


def _hard_forms(graph: Graph) -> Graph:
    """Clip(x + 3, 0, 6) / 6 is HardSigmoid; x * Clip(x + 3, 0, 6) / 6 is HardSwish."""
    f, rw = _Finder(graph), Rewrite(graph)
    for clip in graph.ops:
        if clip.kind is not K.CLIP or not (_close(clip.attr("min"), 0.0)
                                           and _close(clip.attr("max"), 6.0)):
            continue
        plus = f.made_by(clip.inputs[0], K.ADDCONST, 3.0)
        if plus is None:
            continue
        x = plus.inputs[0]
        sixth = f.read_by(clip.outputs[0], K.MULCONST, 1 / 6)
        if sixth is not None:
            _fuse(rw, [plus, clip, sixth], sixth, Op(K.HARDSIGMOID, "", (x,), (),
                                                      {"alpha": 1 / 6, "beta": 0.5}))
            continue
        mul = f.read_by(clip.outputs[0], K.MUL)
        sixth = f.read_by(mul.outputs[0], K.MULCONST, 1 / 6) if mul is not None else None
        if sixth is not None and f.other(mul, clip.outputs[0]) == x:
            _fuse(rw, [plus, clip, mul, sixth], sixth, Op(K.HARDSWISH, "", (x,), ()))
    return rw.build()


def fuse_hardswish(graph: Graph) -> Graph:
    def hard_sigmoid(op: Op) -> bool:
        return op.kind is K.HARDSIGMOID and _close(op.attr("alpha"), 1 / 6) \
            and _close(op.attr("beta"), 0.5)

    return _fuse_gated(_hard_forms(graph), hard_sigmoid, K.HARDSWISH)


def fuse_matmul_bias(graph: Graph) -> Graph:
    f, rw = _Finder(graph), Rewrite(graph)
    for add in graph.ops:
        if add.kind is not K.ADD:
            continue
        for y, bias in (add.inputs, add.inputs[::-1]):
            mm = f.made_by(y, K.MATMUL)
            if mm is None or len(mm.inputs) != 2 or not f.is_const(mm.inputs[1]) \
                    or not f.is_const(bias):
                continue
            n = graph.tensors[y].shape[-1]
            b = graph.tensors[bias].shape
            if b[-1] == n and math.prod(b) == n and graph.tensors[add.outputs[0]].shape == \
                    graph.tensors[y].shape:
                _fuse(rw, [mm, add], add, Op(K.MATMUL, "", (*mm.inputs, bias), (), mm.attrs))
                break
    return rw.build()


# Ops that apply a ReLU to their result at no cost (tpu-mlir's SupportFuseRelu trait).
RELU_FUSING = frozenset({K.CONV2D, K.MATMUL, K.ADD, K.SUB, K.MUL, K.MAXPOOL, K.AVGPOOL,
                         K.CONCAT, K.MULCONST, K.ADDCONST})


def fuse_relu(graph: Graph) -> Graph:
    f, rw = _Finder(graph), Rewrite(graph)
    for relu in graph.ops:
        if relu.kind is K.CLIP and relu.attr("min") == 0:
            limit = relu.attr("max")
        elif relu.kind is K.RELU:
            limit = None
        else:
            continue
        producer = f.producers.get(relu.inputs[0])
        if producer is None or producer.kind not in RELU_FUSING or rw.claimed(producer) \
                or f.uses.get(relu.inputs[0]) != 1 or producer.attr("do_relu"):
            continue
        attrs = {**producer.attrs, "do_relu": True}
        if limit is not None:
            attrs["relu_limit"] = limit
        _fuse(rw, [producer, relu], relu, Op(producer.kind, "", producer.inputs, (), attrs))
    return rw.build()
