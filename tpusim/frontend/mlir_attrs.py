"""Tokens, types and attribute values of MLIR text, for `mlir_text`'s parser.

`AttrParser` holds the text and a position; `peek`/`next` match one compiled regular expression
there (whitespace and `//` comments skipped), so parsing costs one regex call per token. Types
and attributes are parsed into `mlir_model` values: `TensorType`, `LayerGroupInfo`, `GroupAttrs`,
plain Python values (int, float, bool, str, tuple, dict) and `OpaqueAttr` for the rest.
"""

from __future__ import annotations

import re
import struct
from typing import Any, NoReturn

from tpusim.errors import ModelError
from tpusim.frontend.mlir_model import GroupAttrs, LayerGroupInfo, MlirOp, OpaqueAttr, TensorType

_TOKEN = re.compile(r"""(?:\s+|//[^\n]*)*(?:
     (?P<string>"(?:[^"\\\n]|\\.)*")
    |(?P<number>[-+]?(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))
    |(?P<value>%[\w$.-]+(?:\#\d+|:\d+)?)
    |(?P<symbol>@[\w$.-]+)
    |(?P<hash>\#[\w$.-]+)
    |(?P<bang>![\w$.]+)
    |(?P<ident>[A-Za-z_][\w$.]*)
    |(?P<punct>->|[(){}\[\]<>,:=?*^+])
    |(?P<end>\Z)
)""", re.X)
_SPACE = re.compile(r"(?:\s+|//[^\n]*)*")
_DIMS = re.compile(r"\s*((?:(?:\d+|\?)x)*)")
_ANGLE_PARTS = re.compile(r'"(?:[^"\\\n]|\\.)*"|->|[<>]')
_ELEMENT = re.compile(r"[su]?i\d+|bf16|f16|f32|f64|tf32|f8E\w+|index")
_UNIFORM = re.compile(r"!quant\.uniform<([iu])(\d+)(?:<[^>]*>)?:")
_CALIBRATED = re.compile(r"!quant\.calibrated<(bf16|f16|f32)<")
_ESCAPE = re.compile(r"\\([0-9a-fA-F]{2}|.)")
_OPAQUE_WORDS = frozenset({"dense", "dense_resource", "sparse", "affine_map", "affine_set",
                           "strided", "distinct", "opaque"})

# The common shape of a #tpu.lg body ("key = 1, key = [0, 2], key = true"), read in one regex
# call; anything else goes through the token parser, which reports errors precisely.
_LG_ITEM = r"\w+ = (?:-?\d+|true|false|\[(?:-?\d+(?:, -?\d+)*)?\])"
_LG_BODY = re.compile(rf"<({_LG_ITEM}(?:, {_LG_ITEM})*)>")
_LG_FIELD = re.compile(r"(\w+) = (?:(-?\d+)|(true|false)|\[([^\]]*)\])")

_LG_INTS = ("out_addr", "out_size", "buffer_addr", "buffer_size", "id", "stage", "slice_idx",
            "group_type")
_LG_BOOLS = ("eu_align", "can_merge")
_LG_LISTS = ("in_hslice_offset", "n_idx", "n_slice", "c_idx", "c_slice", "d_idx", "d_slice",
             "h_idx", "h_slice", "w_idx", "w_slice")
_GROUP_INTS = ("nsecs", "csecs", "dsecs", "hsecs", "wsecs", "swpipl_stage_num", "group_type")
_GROUP_LISTS = ("self_up_overlap_op", "self_down_overlap_op", "other_up_overlap_op",
                "other_down_overlap_op")


def quant_dtype(text: str) -> str | None:
    """The storage dtype of a `!quant...` type ("si8" for `<i8:f32, s>`), None if unknown."""
    uniform = _UNIFORM.match(text)
    if uniform:
        return ("si" if uniform[1] == "i" else "ui") + uniform[2]
    calibrated = _CALIBRATED.match(text)
    return calibrated[1] if calibrated else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_FLOAT_CODES = {"f16": ("e", 2), "bf16": ("f", 4), "f32": ("f", 4), "f64": ("d", 8)}


def _float_from_bits(bits: int, dtype: str) -> float:
    code, size = _FLOAT_CODES[dtype]
    if dtype == "bf16":
        bits <<= 16
    return struct.unpack(f">{code}", (bits & (1 << 8 * size) - 1).to_bytes(size, "big"))[0]


def _number(token: str) -> int | float:
    if "0x" in token.lower():
        return int(token, 16)
    if any(c in token for c in ".eE"):
        return float(token)
    return int(token)


class AttrParser:
    """A cursor over MLIR text with the token, type and attribute rules."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.loc_aliases: dict[str, Any] = {}
        self.attr_aliases: dict[str, Any] = {}
        self._peek_at = -1  # the position the token below was scanned from
        self._kind = self._token = ""
        self._start = self._end = 0
        self._last_start = 0
        self._line_pos = 0
        self._line_no = 1

    # ---- tokens ---------------------------------------------------------------------------

    def _scan(self) -> None:
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            self.fail_at(_SPACE.match(self.text, self.pos).end(), "a token")
        kind = match.lastgroup or "end"
        self._peek_at, self._kind, self._token = self.pos, kind, match[kind]
        self._start, self._end = match.start(kind), match.end()

    def peek(self) -> tuple[str, str]:
        """(kind, text) of the next token, without consuming it."""
        if self._peek_at != self.pos:
            self._scan()
        return self._kind, self._token

    def next(self) -> tuple[str, str]:
        if self._peek_at != self.pos:
            self._scan()
        self._last_start, self.pos = self._start, self._end
        return self._kind, self._token

    def peek_start(self) -> int:
        if self._peek_at != self.pos:
            self._scan()
        return self._start

    def at_end(self) -> bool:
        return self.peek()[0] == "end"

    def accept(self, text: str) -> bool:
        """Consume the next token if it is `text` (never a string: those keep their quotes)."""
        if self._peek_at != self.pos:
            self._scan()
        if self._token == text:
            self._last_start, self.pos = self._start, self._end
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            self.fail(repr(text))

    def expect_kind(self, kind: str, what: str) -> str:
        if self.peek()[0] != kind:
            self.fail(what)
        return self.next()[1]

    # ---- errors ---------------------------------------------------------------------------

    def line_of(self, pos: int) -> int:
        if pos < self._line_pos:
            return self.text.count("\n", 0, pos) + 1
        self._line_no += self.text.count("\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line_no

    def fail_at(self, pos: int, what: str, found: bool = True) -> NoReturn:
        message = f"{self.source}:{self.line_of(pos)}: expected {what}"
        if found:
            token = _TOKEN.match(self.text, pos)
            shown = token.group(token.lastgroup or "end") if token else self.text[pos:pos + 1]
            message += f", found {shown[:40]!r}" if shown else ", found the end of the file"
        raise ModelError(message)

    def fail(self, what: str) -> NoReturn:
        self.fail_at(self.peek_start(), what)

    def fail_previous(self, what: str, found: bool = True) -> NoReturn:
        self.fail_at(self._last_start, what, found)

    def skip_angle(self) -> str:
        """Consume a balanced `<...>` (strings and `->` inside are respected); return it."""
        if self.peek()[1] != "<":
            self.fail("'<'")
        start = self.peek_start()
        depth = 0
        for part in _ANGLE_PARTS.finditer(self.text, start):
            if part[0] == "<":
                depth += 1
            elif part[0] == ">":
                depth -= 1
                if depth == 0:
                    self.pos = part.end()
                    return self.text[start:self.pos]
        self.fail_at(len(self.text), f"'>' closing the '<' of line {self.line_of(start)}")

    # ---- types ----------------------------------------------------------------------------

    def type(self) -> TensorType:
        kind, token = self.next()
        if token == "tensor" and kind == "ident":
            self.expect("<")
            dims = _DIMS.match(self.text, self.pos)
            self.pos = dims.end()
            shape = tuple(-1 if d == "?" else int(d) for d in dims[1].split("x")[:-1])
            dtype, quant = self._element_type()
            address = None
            if self.accept(","):
                encoding = self.attr_value()
                address = encoding if _is_int(encoding) else None
            self.expect(">")
            return TensorType(shape, dtype, address, quant)
        if token == "none" and kind == "ident":
            return TensorType((), "none")
        if kind == "bang" or (kind == "ident" and _ELEMENT.fullmatch(token)):
            self.pos = self._last_start
            dtype, quant = self._element_type()
            return TensorType((), dtype, None, quant)
        self.fail_previous("a type (tensor<...>, none or an element type)")

    def _element_type(self) -> tuple[str, str | None]:
        kind, token = self.next()
        if kind == "ident" and _ELEMENT.fullmatch(token):
            return token, None
        if kind == "bang" and token.startswith("!quant."):
            text = token + self.skip_angle()
            dtype = quant_dtype(text)
            if dtype is None:
                self.fail_previous("a !quant.uniform or !quant.calibrated type", found=False)
            return dtype, text
        self.fail_previous("an element type (f32, f16, bf16, si8, i32, !quant..., ...)")

    # ---- attributes -----------------------------------------------------------------------

    def attr_dict(self) -> dict[str, Any]:
        """`{name = value, flag, ...}`; a name without a value (a unit attribute) is True."""
        self.expect("{")
        attrs: dict[str, Any] = {}
        while not self.accept("}"):
            if attrs:
                self.expect(",")
            kind, key = self.next()
            if kind == "string":
                key = key[1:-1]
            elif kind != "ident":
                self.fail_previous("an attribute name or '}'")
            attrs[key] = self.attr_value() if self.accept("=") else True
        return attrs

    def attr_value(self) -> Any:
        start = self.peek_start()
        kind, token = self.next()
        if kind == "string":
            return _ESCAPE.sub(lambda m: chr(int(m[1], 16)) if len(m[1]) == 2 else m[1],
                               token[1:-1])
        if kind == "number":
            value = _number(token)
            if self.accept(":"):
                typed = self.type()
                if token.lower().lstrip("+-").startswith("0x") and typed.dtype in _FLOAT_CODES:
                    value = _float_from_bits(value, typed.dtype)  # how MLIR prints nan, inf
            return value
        if token == "[":
            items: list[Any] = []
            while not self.accept("]"):
                if items:
                    self.expect(",")
                items.append(self.attr_value())
            return tuple(items)
        if token == "{":
            self.pos = start
            return self.attr_dict()
        if kind == "hash":
            return self._hash_attr(start, token)
        if kind == "symbol":
            return OpaqueAttr(token)
        if kind == "bang":
            self.pos = start
            return self.type()
        if kind == "ident":
            return self._word_attr(start, token)
        self.fail_at(start, "an attribute value")

    def _word_attr(self, start: int, token: str) -> Any:
        if token in ("true", "false"):
            return token == "true"
        if token == "unit":
            return True
        if token == "array":
            return self._dense_array()
        if token in _OPAQUE_WORDS:
            text = token + self.skip_angle()
            if self.accept(":"):
                type_start = self.peek_start()
                self.type()
                text += " : " + self.text[type_start:self.pos]
            return OpaqueAttr(text)
        if token in ("tensor", "none") or _ELEMENT.fullmatch(token):
            self.pos = start
            return self.type()
        self.fail_at(start, "an attribute value")

    def _hash_attr(self, start: int, token: str) -> Any:
        if self.peek()[1] == "<":
            if token == "#tpu.lg":
                return self._layer_group_info(start)
            return OpaqueAttr(token + self.skip_angle())
        if token not in self.attr_aliases:
            self.fail_at(start, f"attribute alias {token} to be defined before its use",
                         found=False)
        return self.attr_aliases[token]

    def _dense_array(self) -> tuple[Any, ...]:
        """`array<i32: 1, -2>` (or `array<i32>`) as a tuple of numbers."""
        self.expect("<")
        self._element_type()
        items: list[Any] = []
        if self.accept(":"):
            while True:
                kind, token = self.next()
                if kind == "number":
                    items.append(_number(token))
                elif token in ("true", "false"):
                    items.append(token == "true")
                else:
                    self.fail_previous("a number in array<...>")
                if not self.accept(","):
                    break
        self.expect(">")
        return tuple(items)

    # ---- the tpu-mlir attributes tpusim reads --------------------------------------------

    def _layer_group_info(self, start: int) -> LayerGroupInfo:
        fields: dict[str, Any] = {}
        fast = _LG_BODY.match(self.text, self.pos)
        if fast is not None:
            for key, number, flag, items in _LG_FIELD.findall(fast[1]):
                fields[key] = (int(number) if number else flag == "true" if flag
                               else tuple(int(i) for i in items.split(", ")) if items else ())
            self.pos = fast.end()
        else:
            self.expect("<")
            while not self.accept(">"):
                if fields:
                    self.expect(",")
                key = self.expect_kind("ident", "a #tpu.lg field name or '>'")
                self.expect("=")
                fields[key] = self.attr_value()
        where = "#tpu.lg<...>"
        values = {key: self._take(fields, key, _is_int, "an integer", where, start)
                  for key in _LG_INTS}
        values |= {key: self._take(fields, key, lambda v: isinstance(v, bool), "true or false",
                                   where, start) for key in _LG_BOOLS}
        values |= {key: self._take(fields, key, _is_int_tuple, "a list of integers", where,
                                   start) for key in _LG_LISTS}
        for axis in "ncdhw":
            if len(values[f"{axis}_idx"]) != len(values[f"{axis}_slice"]):
                self.fail_at(start, f"as many {axis}_idx as {axis}_slice entries in {where}",
                             found=False)
        return LayerGroupInfo(**values, extra=fields)

    def group_attrs(self, attrs: dict[str, Any], body: tuple[MlirOp, ...],
                    start: int) -> GroupAttrs:
        """The attributes of a `tpu.Group` op, checked against its body's `ginfo` ids."""
        fields = dict(attrs)
        where = "the attributes of tpu.Group"
        values: dict[str, Any] = {key: self._take(fields, key, _is_int, "an integer", where, start)
                                  for key in _GROUP_INTS}
        values["flow"] = self._take(fields, "flow", _is_int_tuple, "a list of integers", where,
                                    start)
        for key in _GROUP_LISTS:
            if key in fields:
                values[key] = self._take(fields, key, lambda v: isinstance(v, tuple), "a list",
                                         where, start)
        group = GroupAttrs(**values, extra=fields)
        markers = [n for n in group.flow if n < 0]
        if not group.flow or group.flow[0] >= 0 or markers != list(range(-1, -len(markers) - 1,
                                                                              -1)):
            self.fail_at(start, "flow to be timesteps -1, -2, ... each followed by op ids",
                         found=False)
        ids = [op.ginfo.id for op in body if op.ginfo is not None]
        unmarked = [op.name for op in body if op.ginfo is None and op.name != "tpu.Yield"]
        flow_ids = [n for n in group.flow if n >= 0]
        if unmarked or sorted(ids) != sorted(flow_ids) or len(set(ids)) != len(ids):
            self.fail_at(start, "a tpu.Group whose flow lists every op of its body once "
                         f"(ginfo ids {sorted(ids)}, flow ids {sorted(flow_ids)}, "
                         f"ops without ginfo {unmarked})", found=False)
        return group

    def _take(self, fields: dict[str, Any], key: str, check: Any, what: str, where: str,
              start: int) -> Any:
        if key not in fields:
            self.fail_at(start, f"field {key!r} in {where}", found=False)
        value = fields.pop(key)
        if not check(value):
            self.fail_at(start, f"{what} for {key!r} in {where}, found {value!r}", found=False)
        return value


def _is_int_tuple(value: Any) -> bool:
    return isinstance(value, tuple) and all(_is_int(v) for v in value)
