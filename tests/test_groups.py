"""Layer groups on small graphs whose grouping, slices and commands are worked out by hand."""

import pytest

from tpusim.api import compile, simulate
from tpusim.group.build import build_group
from tpusim.group.plan import Secs
from tpusim.ir import GraphBuilder, OpKind, TensorKind
from tpusim.options import Options
from tpusim.passes.precision import assign_precision
from tpusim.profile.summary import group_rows
from tpusim.sim.invariants import violations

K = OpKind


def _run(graph, chip, precision="f32", opt=None):
    program = compile(graph, chip, precision, opt)
    result = simulate(program, chip)
    assert violations(result) == []  # local memory within capacity, deps, bytes...
    return program, result


def _chain(shape, kinds, name="chain"):
    g = GraphBuilder(name)
    x = g.input("x", shape)
    for i, kind in enumerate(kinds):
        attrs = {"const": 2.0} if kind in (K.MULCONST, K.ADDCONST) else {}
        if kind is K.PERMUTE:
            attrs = {"order": (0, 1, 3, 2)}
        x = g.op(kind, [x], f"op{i}", **attrs)
    g.output(x)
    return g.build()


def test_elementwise_chain_fits_one_slice(simple_chip):
    """relu -> mulconst -> addconst on [1, 64, 8, 32] f32: one channel per lane, 256 elements.

    One group, one slice: the GDMA loads x (64 rows of 1 KB at 64 B/ns = 1024 ns), the TIU runs
    three ARs of ceil(256 / 16) = 16 cycles, the GDMA stores (65536 B at 32 B/ns = 2048 ns).
    Buffers live as the pipelined rows place them, as tpu-mlir allocates them even for one
    slice: x is loaded for the next slice in the last row (rows 2 and 0), the result stored for
    the previous one in row 0 (rows 2 and 0); row 0 holds x, op0 and op2: 3 KB a lane.
    """
    program, result = _run(_chain((1, 64, 8, 32), [K.RELU, K.MULCONST, K.ADDCONST]), simple_chip)
    assert len(program.groups) == 1
    group = program.groups[0]
    assert group.secs == Secs() and len(group.slices) == 1
    assert [c.kind for c in program.gdma] == ["GDMA_TENSOR"] * 2
    # each timestep row is a barrier: its first TIU command waits for the GDMA queued before
    assert [(c.kind, c.dep) for c in program.tiu] == [("AR", 1), ("AR", 1), ("AR", 1)]
    assert program.gdma[1].dep == 3  # the store waits for the last AR
    assert group.lmem_bytes == 3 * 1024
    assert result.total_ns == pytest.approx(1024 + 3 * 16 + 2048)


def test_chain_split_in_h(simple_chip):
    """relu -> mulconst on [1, 1, 256, 256] f32: one channel, so every element sits in one lane
    (256 KB per tensor) and only h can be cut. Row 0 computes relu while x's slice is read and
    the previous slice's output waits to be stored; row 1 computes the output while x's next
    slice loads and relu's is read: 3 buffers of h/secs * 256 * 4 bytes <= 256 KB in each row,
    so at least 4 slices of 64 rows (3 slices of 86 rows need 264 KB)."""
    graph = _chain((1, 1, 256, 256), [K.RELU, K.MULCONST])
    consumers, outputs = graph.consumers(), set(graph.outputs)

    def build(h):
        return build_group(0, graph.ops, graph, simple_chip, Options(), Secs(h=h), consumers,
                           outputs)

    assert build(3) is None
    assert build(4).lmem_bytes == 3 * 64 * 256 * 4
    program, result = _run(graph, simple_chip)
    (group,) = program.groups
    hsecs = group.secs.h
    assert group.secs.n == group.secs.c == 1 and hsecs >= 4
    assert len(group.slices) == hsecs
    assert sum(s["x"][2] for s in group.slices) == 256
    assert len(program.gdma) == 2 * hsecs  # a load and a store per slice
    assert len(program.tiu) == 2 * hsecs
    row = group_rows(program, result.records)[0]
    assert row.span_ns >= max(row.tiu_ns, row.gdma_ns)


def _convs():
    g = GraphBuilder("convs")
    x = g.input("x", (1, 64, 32, 32))
    for i in range(2):
        w = g.weight(f"w{i}", (64, 64, 3, 3))
        x = g.op(K.CONV2D, [x, w], f"conv{i}", strides=(1, 1), pads=(1, 1, 1, 1))
    g.output(x)
    return g.build()


def test_convolution_pair_halos(simple_chip):
    """Output rows cut in 4: [0,8) [8,16) [16,24) [24,32). A 3x3 conv with pad 1 needs one row
    more on each side, clipped at the edges: conv1's output (conv2's input) rows [0,9) [7,17)
    [15,25) [23,32); x rows [0,10) [6,18) [14,26) [22,32)."""
    graph = assign_precision(_convs(), "f16")
    ops = [op for op in graph.ops if op.kind is K.CONV2D]
    plan = build_group(0, ops, graph, simple_chip, Options(), Secs(h=4), graph.consumers(),
                       set(graph.outputs))
    x, mid = ops[0].inputs[0], ops[0].outputs[0]
    assert [s[ops[1].outputs[0]][2] for s in plan.slices] == [8, 8, 8, 8]
    assert [s[mid][2] for s in plan.slices] == [9, 10, 10, 9]
    assert [s[x][2] for s in plan.slices] == [10, 12, 12, 10]
    assert sorted(plan.held) == ["w0", "w1"]


def _weighted(weight_shape):
    g = GraphBuilder("weighted")
    x = g.input("x", (4, 64, 8, 32))
    w = g.weight("w", weight_shape, TensorKind.CONST)
    y = g.op(K.ADD, [x, w], "add")
    g.output(g.op(K.RELU, [y], "relu"))
    return g.build()


@pytest.mark.parametrize("split", [True, False])
def test_weight_held_or_split(simple_chip, split):
    """A weight as large as the activation: with weight_split it is sliced with x (one load per
    slice); without, it must be held whole, so the group cannot be cut along n."""
    graph = _weighted((4, 64, 8, 32))
    opts = Options(weight_split=split)

    def build(n):
        return build_group(0, graph.ops, graph, simple_chip, opts, Secs(n=n), graph.consumers(),
                           set(graph.outputs))

    if split:
        plan = build(2)
        assert plan.held == [] and [s["w"] for s in plan.slices] == [(2, 64, 8, 32)] * 2
        loads = [t.tensor for row in plan.rows for t in row.transfers if not t.store]
        assert sorted(loads) == ["w", "x"]
    else:
        assert build(2) is None
        assert build(1).held == ["w"]


def test_broadcast_weight_is_held_even_when_split(simple_chip):
    graph = _weighted((1, 64, 8, 32))
    plan = build_group(0, graph.ops, graph, simple_chip, Options(), Secs(n=4),
                       graph.consumers(), set(graph.outputs))
    assert plan.held == ["w"] and len(plan.slices) == 4
    program, _ = _run(graph, simple_chip)
    held_loads = [c for c in program.gdma if c.tensor == "w"]
    assert len(held_loads) == 1  # loaded once, with the first slice


def test_global_op_breaks_the_group(simple_chip):
    """Permute has no local form: relu -> mulconst | permute | relu -> mulconst."""
    graph = _chain((1, 64, 8, 32), [K.RELU, K.MULCONST, K.PERMUTE, K.RELU, K.MULCONST])
    program, _ = _run(graph, simple_chip)
    assert [[op.name for op in g.ops] for g in program.groups] == [["op0", "op1"],
                                                                  ["op3", "op4"]]
    assert [layer.name for layer in program.layers if layer.group < 0] == ["op2"]


def test_groups_off_gives_global_layers(simple_chip):
    graph = _chain((1, 64, 8, 32), [K.RELU, K.MULCONST])
    program, _ = _run(graph, simple_chip, opt=Options(layer_groups=False))
    assert program.groups == [] and len(program.layers) == 2
