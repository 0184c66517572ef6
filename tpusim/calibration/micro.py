"""The vendor's single-operator programs (tpu-mlir/micro in the shared data) as tpusim graphs.

Each row of cases.csv is one operator compiled by tpu-mlir 1.30.2 at one precision, either
alone with inputs and outputs already in the mode's dtype ("stripped": a global layer) or with
f32 inputs and outputs ("f32_io_cast": tpu-mlir adds Casts and usually groups them).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tpusim.errors import ModelError
from tpusim.ir.graph import Graph, GraphBuilder, TensorKind
from tpusim.ir.ops import OpKind as K

_LIST = re.compile(r"(w|b)?\[([0-9,\s]+)\]")


@dataclass(frozen=True)
class Case:
    name: str
    mode: str  # F32, F16, BF16, INT8
    io: str  # stripped or f32_io_cast
    op: str
    shapes: str
    attrs: str
    total_cycles: int
    tiu_cycles: int
    gdma_cycles: int
    n_tiu: int
    n_gdma: int
    grouped: bool

    @property
    def precision(self) -> str:
        return self.mode.lower()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.mode, self.io)


def read_table(path: Path) -> list[dict[str, str]]:
    """The rows of one of tpu-mlir's CSV tables; a file that cannot be read as UTF-8 CSV is a
    ModelError naming it."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ModelError(f"{path}: not a UTF-8 CSV table ({exc})") from None


def read_cases(folder: Path) -> list[Case]:
    path = Path(folder) / "cases.csv"
    rows = read_table(path)
    with table_rows(path):
        cases = [Case(r["case"], r["mode"], r["io"], r["op"], r["input_shapes"], r["attrs"],
                      int(r["total_cycles"]), int(r["tiu_cycles"]), int(r["gdma_cycles"]),
                      int(r["n_tiu"]), int(r["n_gdma"]), r["layer_group"] == "group")
                 for r in rows if r["status"] == "ok"]
    for case in cases:  # errors are relative to the vendor's total
        if case.total_cycles <= 0:
            raise ModelError(f"{path}: case {case.name!r} ({case.mode}) has total_cycles "
                             f"{case.total_cycles}, expected > 0")
    return cases


@contextmanager
def table_rows(path: Path) -> Iterator[None]:
    """A row of tpu-mlir's CSV tables without a column tpusim reads, or with a value of the
    wrong kind: a ModelError naming the file."""
    try:
        yield
    except KeyError as exc:
        raise ModelError(f"{path}: not the table tpusim expects (no column {exc})") from None
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{path}: not the table tpusim expects ({exc})") from None


def _lists(text: str) -> list[tuple[str, tuple[int, ...]]]:
    return [(tag, tuple(int(d) for d in dims.split(","))) for tag, dims in _LIST.findall(text)]


def _int_attr(attrs: str, key: str, default: int) -> int:
    m = re.search(rf"\b{key}(\d+)", attrs)
    return int(m.group(1)) if m else default


def case_graph(case: Case) -> Graph:
    """The case's operator as a one-op graph (f32 everywhere; compile sets the dtypes)."""
    try:
        return _case_graph(case)
    except (IndexError, KeyError, TypeError, ValueError):  # shapes or attrs that do not parse
        raise ModelError(f"cannot build operator {case.op!r} from shapes {case.shapes!r} and "
                         f"attrs {case.attrs!r}") from None


def _case_graph(case: Case) -> Graph:
    g = GraphBuilder(case.name)
    lists = _lists(case.shapes)
    acts = [s for tag, s in lists if not tag]
    weights = [s for tag, s in lists if tag == "w"]
    bias = [s for tag, s in lists if tag == "b"]
    op = case.op
    if op.startswith("MatMul"):
        x = g.input("x", acts[0])
        if op == "MatMul(batched)":  # activation x activation
            ins = [x, g.input("y", acts[1])]
        else:
            w = g.weight("w", weights[0] if weights else acts[1])
            ins = [x, w] + ([g.weight("bias", bias[0])] if bias else [])
        out = g.op(K.MATMUL, ins, "matmul")
    elif op == "Conv":
        x = g.input("x", acts[0])
        w = g.weight("w", weights[0])
        s, p = _int_attr(case.attrs, "s", 1), _int_attr(case.attrs, "p", 0)
        ins = [x, w] + ([g.weight("bias", (weights[0][0],))] if "bias" in case.attrs else [])
        out = g.op(K.CONV2D, ins, "conv", strides=(s, s), pads=(p, p, p, p), dilations=(1, 1),
                   group=_int_attr(case.attrs, "g", 1))
    elif op in ("Add", "Mul"):
        x = g.input("x", acts[0])
        other = g.weight("w", weights[0], TensorKind.CONST) if weights else g.input("y",
                                                                                   acts[1])
        out = g.op(K.ADD if op == "Add" else K.MUL, [x, other], op.lower())
    elif op == "Softmax":
        out = g.op(K.SOFTMAX, [g.input("x", acts[0])], "softmax",
                   axis=_int_attr(case.attrs, "axis=", 3))
    elif op == "LayerNorm":
        x = g.input("x", acts[0])
        dim = acts[0][-1]
        out = g.op(K.LAYERNORM, [x, g.weight("gamma", (dim,)), g.weight("beta", (dim,))],
                   "layernorm", axis=-1, eps=1e-5)
    elif op in ("GELU", "Relu"):
        out = g.op(K.GELU if op == "GELU" else K.RELU, [g.input("x", acts[0])], op.lower())
    elif op == "Permute":
        order = tuple(int(d) for d in re.findall(r"\d+", case.attrs.split("=", 1)[1]))
        out = g.op(K.PERMUTE, [g.input("x", acts[0])], "permute", order=order)
    elif op in ("MaxPool", "AvgPool(global)"):
        k, s, p = (_int_attr(case.attrs, t, 0) for t in ("k", "s", "p"))
        out = g.op(K.MAXPOOL if op == "MaxPool" else K.AVGPOOL, [g.input("x", acts[0])],
                   "pool", kernel=(k, k), strides=(s, s), pads=(p, p, p, p))
    else:
        raise ModelError(f"case {case.name}: no graph for operator {op!r}")
    g.output(out)
    return g.build()
