"""The TIU instruction sequences of tpu-mlir's BM1684X kernels, one function per operator.

Read off the vendor's single-operator programs (tpu-mlir/micro): which instructions a kernel
issues per tile, over which view, and how many EU passes each takes. Global kernels and the
same operators inside layer groups share them; where the two differ, `local` says which.

Views are (n, c, h, w) with c over the lanes. Row-wise kernels (softmax, layer norm) work on
`rows` line-aligned rows of `w` elements per lane channel: a full pass over them costs B EU
groups per lane, a pass over one statistic per row costs L = rows.
"""

from __future__ import annotations

from tpusim.hw.chip import Chip
from tpusim.ir.dtypes import DType
from tpusim.ir.graph import Op
from tpusim.ir.ops import BINARY, TRANSCENDENTAL, OpKind
from tpusim.lower.commands import Arith, Broadcast, Lookup, Pool, Special, TiuWork

View = tuple[int, int, int, int]
F32, INT16, INT32 = DType.F32, DType.INT16, DType.INT32
_SIMPLE = frozenset({OpKind.MULCONST, OpKind.ADDCONST, OpKind.RELU, OpKind.CLIP, OpKind.ABS,
                     OpKind.MAX, OpKind.MIN})


# EU passes of the ARs that reduce an exponential's argument before the SFU evaluates it
_EXP_REDUCTION = (1, 2, 1, 1, 1, 1, 2, 1, 0.5, 0.5, 1)


def elementwise(op: Op, view: View, dtype: DType, chip: Chip) -> list[TiuWork]:
    """An element-wise op over a view, computed in `dtype` (not a Cast)."""
    kind = op.kind

    def ar(passes: float = 1, dt: DType = dtype, name: str = kind.value.lower()) -> Arith:
        return Arith(*view, dt, name, passes)

    if op.attr("lut"):
        return [Lookup(*view, dtype)]
    if kind in (OpKind.ADD, OpKind.SUB, OpKind.MUL) and dtype is DType.INT8:
        # int8 arithmetic runs at the int16 rate, rescaling its operands in extra passes
        # (vendor: 3 ARs for an add, 2 for a mul, alone or in a group)
        count = 2 if kind is OpKind.MUL else 3
        return [ar(1, INT16) for _ in range(count)]
    if kind is OpKind.DIV:
        return [ar(chip.ar_divide_passes, F32)]
    if kind is OpKind.WHERE:  # one compare-and-select pass
        return [Arith(*view, dtype, "select", 1, kind="FUSED_CMP")]
    if kind in BINARY or kind in _SIMPLE:
        return [ar()]
    if kind is OpKind.HARDSIGMOID:
        return [ar(name="mul_add"), ar(name="clamp")]
    if kind is OpKind.HARDSWISH:
        return [ar(name="mul_add"), ar(name="clamp"), ar(name="mul")]
    if kind is OpKind.GELU:
        return gelu(view, chip)
    if kind is OpKind.ERF and not op.attr("lut"):
        return erf(view, chip)
    if kind in (OpKind.SIGMOID, OpKind.SILU):
        # 1 / (1 + exp(-x)), times x for SiLU: the exponential's argument reduced in 12 EU
        # passes before the SFU, then 1 + e, the reciprocal, the product (vendor: YOLOv5's
        # Active(SILU) in f32, STATIC_BC, 11 AR, SFU, 4 AR a slice)
        works: list[TiuWork] = [Broadcast(1, 1, dtype, "STATIC_BC"),
                                *[ar(p, name="exp") for p in _EXP_REDUCTION],
                                Special(*view, dtype, "exp"), ar(2, name="add"), ar(name="add"),
                                ar(chip.ar_divide_passes, F32, "divide")]
        return works + ([ar(2, name="mul")] if kind is OpKind.SILU else [])
    if kind is OpKind.TANH:  # 1 - 2 / (1 + exp(2x))
        return [ar(name="neg"), Special(*view, dtype, "exp"), ar(name="add"),
                ar(chip.ar_divide_passes, F32, "divide"), ar(name="mul")]
    if kind in TRANSCENDENTAL:
        return [Special(*view, dtype, kind.value.lower())]
    return [ar()]


def resize(op: Op, view: View, dtype: DType) -> list[TiuWork]:
    """Nearest-neighbour upsampling copies each output from one input; linear interpolation
    weighs 2 neighbours per resized axis (4 in a bilinear 2-D resize), one EU pass each."""
    if op.attr("mode", "nearest") == "nearest":
        return [Arith(*view, dtype, "copy")]
    axes = sum(1 for s in op.attr("scales") if s != 1)
    return [Pool(*view, 2 ** max(1, axes), dtype, "interpolate")]


def cast(src: DType, dst: DType, view: View, local: bool) -> list[TiuWork]:
    """A Cast. Quantising to int8 scales, rounds and saturates in three ARs at f32; leaving int8
    is one dequantise (RQDQ); float to float is one AR at the wider type."""
    if dst is DType.INT8 and src.is_float:
        first = 2 if local else 1
        return [Arith(*view, F32, "scale", first), Arith(*view, F32, "round", 2),
                Arith(*view, F32, "saturate", 1)]
    if src is DType.INT8 and dst.is_float:
        return [Arith(*view, F32, "dequant", 1, kind="RQDQ")]
    wide = src if src.bytes > dst.bytes else dst
    return [Arith(*view, wide, "cast")]


def requant(view: View, local: bool) -> list[TiuWork]:
    """int32 cube results back to int8: 2 passes at the int32 rate in global kernels, 1 in a
    group (where the bias add shares the first)."""
    return [Arith(*view, INT32, "requant", 1 if local else 2, kind="RQDQ")]


def bias_add(view: View, dtype: DType) -> list[TiuWork]:
    """A bias added to cube results: 2 passes (at int32 for int8 products)."""
    return [Arith(*view, INT32 if dtype is DType.INT8 else dtype, "bias", 2)]


def erf(view: View, chip: Chip) -> list[TiuWork]:
    """erf in f32, by a polynomial and an exp (the erf of `gelu`; vendor: Swin-T's F16 program
    computes its decomposed GELUs' Active(ERF) at about 74 EU passes an element)."""
    def ar(passes: float) -> Arith:
        return Arith(*view, F32, "erf", passes)

    def cmp() -> Arith:
        return Arith(*view, F32, "select", 2, kind="FUSED_CMP")

    static = Broadcast(1, 1, F32, "STATIC_BC")
    return [static, static, *[ar(1)] * 4, ar(chip.ar_divide_passes), Special(*view, F32, "exp"),
            ar(1), ar(1), ar(2), *[ar(1)] * 4, ar(2), ar(1), ar(0.5), ar(0.5), ar(1),
            Special(*view, F32, "exp"), ar(2), ar(1), ar(1), cmp(), cmp(), ar(1)]


def gelu(view: View, chip: Chip) -> list[TiuWork]:
    """x/2 (1 + erf(x/sqrt 2)) in f32: erf, then 1 + erf, times x, halved: 81 EU passes an
    element (vendor: 24 AR, 2 SFU, 2 FUSED_CMP, 2 STATIC_BC per tile)."""
    return [*erf(view, chip), *[Arith(*view, F32, "erf", passes) for passes in (1, 1, 2)]]


def _row_reduce(n: int, c: int, rows: int, w: int, dtype: DType, eu: int, op: str,
                two_stage: bool) -> list[TiuWork]:
    """A reduction of each row to one value: in one PorD with a w-wide window, or in two (each
    EU group to one value, then the groups)."""
    if not two_stage:
        return [Pool(n, c, rows, 1, w, dtype, op, aligned=True)]
    groups = -(-w // eu)
    return [Pool(n, c, rows, eu, groups, dtype, op, aligned=True),
            Pool(n, c, rows, 1, eu, dtype, op, aligned=True)]


def softmax(n: int, c: int, rows: int, w: int, dtype: DType, chip: Chip) -> list[TiuWork]:
    """Softmax over rows of w: max, subtract, exp, sum (at f32), reciprocal, scale.
    Vendor F16 tile: 18 AR, 4 PorD, 1 SFU; F32: 16 AR."""
    eu = chip.eu_num(dtype)

    def full(passes: float) -> Arith:
        return Arith(n, c, rows, w, dtype, "softmax", passes, aligned=True)

    def stat(passes: float) -> Arith:
        return Arith(n, c, rows, 1, dtype, "softmax", passes, aligned=True)

    halves = [] if dtype is F32 else [full(0.5 if dtype is DType.F16 else 1)] * 2
    return [stat(1), *_row_reduce(n, c, rows, w, dtype, eu, "max", True), *[full(1)] * 6,
            full(2), full(1), *halves, full(1), Special(n, c, rows, w, dtype, "exp",
                                                         aligned=True),
            full(2), full(2), stat(1),
            *_row_reduce(n, c, rows, w, F32, chip.eu_num(F32), "sum", True),
            stat(chip.ar_divide_passes), full(1), full(1)]


def layernorm(n: int, c: int, rows: int, w: int, dtype: DType, chip: Chip,
              local: bool) -> list[TiuWork]:
    """Layer norm over rows of w: mean, variance, rsqrt, normalise, scale and shift.
    Vendor F16 global: 10 AR, 2 PorD, SFU, FUSED_CMP, 2 LANE_BC; in a group the reductions
    take two stages and two statistics passes go."""
    eu = chip.eu_num(dtype)

    def full(passes: float) -> Arith:
        return Arith(n, c, rows, w, dtype, "layernorm", passes, aligned=True)

    def stat(passes: float, kind: str = "AR") -> Arith:
        return Arith(n, c, rows, 1, dtype, "layernorm", passes, aligned=True, kind=kind)

    mean = _row_reduce(n, c, rows, w, dtype, eu, "mean", local)
    after_reduce = [] if local else [stat(1)]
    broadcast = Broadcast(2, w, dtype)
    widen = [full(1)] if dtype is DType.BF16 else []  # bf16 statistics go through f32 once more
    return [full(2), *mean, *after_reduce, full(2), full(2), full(2), *mean, *after_reduce,
            Special(n, c, rows, 1, dtype, "rsqrt", aligned=True), stat(2, "FUSED_CMP"),
            *widen, stat(1), full(1), broadcast, full(2), broadcast, full(2)]


def pool_reduce(n: int, c: int, length: int, dtype: DType, op: str, chip: Chip) -> list[TiuWork]:
    """A global pooling / reduction of `length` elements per (n, c) into one."""
    if dtype is DType.INT8:
        return [Pool(n, c, 1, 1, length, dtype, op)]
    return [Arith(n, c, 1, length, F32, "cast"),
            *_row_reduce(n, c, 1, length, F32, chip.eu_num(F32), op, True)]
