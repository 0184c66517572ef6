"""Read the text of a tpu-mlir `*_final.mlir` file (gzipped or not) into `mlir_model` data.

A recursive-descent parser over MLIR's generic op form plus the custom forms tpu-mlir prints
(`module`, `func.func`, `call`, `return`). No MLIR bindings: the lexer is one compiled regular
expression matched at the current position. Everything that is not understood raises
`ModelError` naming the file, the line and what was expected; nothing is skipped silently
except attribute values tpusim does not use, which are kept as text (`OpaqueAttr`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from tpusim.errors import ModelError
from tpusim.frontend.mlir_attrs import AttrParser
from tpusim.frontend.mlir_model import (
    FuncArg,
    MlirFunc,
    MlirModule,
    MlirOp,
    TensorType,
)
from tpusim.frontend.text_files import read_text

__all__ = ["parse_final_mlir", "read_final_mlir"]


def read_final_mlir(path: str | Path) -> MlirModule:
    """Parse a `*_final.mlir` file; `.gz` files are read through gzip."""
    return parse_final_mlir(read_text(path, "MLIR file"), str(path))


def parse_final_mlir(text: str, source: str = "<text>") -> MlirModule:
    """Parse the text of a `*_final.mlir` file. `source` names it in error messages."""
    parser = _ModuleParser(text, source)
    try:
        return parser.parse()
    except RecursionError:  # the parser descends once per bracket: thousands of them
        raise ModelError(f"{source}: brackets nested too deeply to read (tpu-mlir writes a "
                         "few levels)") from None


# Location syntax, parsed into a small tree and resolved once the whole file (whose trailer
# defines the `#locN` aliases) has been read; until then an op's `loc` field holds the tree.
_LocSpec = tuple  # ("names", (str, ...)) | ("ref", alias, position) | ("fused", (spec, ...))


class _ModuleParser(AttrParser):
    def __init__(self, text: str, source: str) -> None:
        super().__init__(text, source)
        self._module_locs: list[_LocSpec] = []  # checked at the end; modules keep no location

    def parse(self) -> MlirModule:
        modules: list[MlirModule] = []
        while not self.at_end():
            kind, tok = self.peek()
            if kind == "hash":
                self._alias_definition()
            elif tok == "module":
                modules.append(self._module())
            else:
                self.fail("'module' or an alias definition ('#name = ...')")
        if len(modules) != 1:
            self.fail_at(len(self.text), "exactly one top-level 'module'"
                         if modules else "a 'module'")
        for spec in self._module_locs:
            self._loc_names(spec)
        return self._resolve_module(modules[0])

    # ---- structure ------------------------------------------------------------------------

    def _alias_definition(self) -> None:
        _, name = self.next()
        self.expect("=")
        if self.peek()[1] == "loc":
            self.loc_aliases[name] = self._loc()
        else:
            self.attr_aliases[name] = self.attr_value()

    def _module(self) -> MlirModule:
        self.expect("module")
        name = self.next()[1][1:] if self.peek()[0] == "symbol" else ""
        attrs: dict[str, Any] = {}
        if self.accept("attributes"):
            attrs = self.attr_dict()
        self.expect("{")
        funcs: list[MlirFunc] = []
        modules: list[MlirModule] = []
        while not self.accept("}"):
            tok = self.peek()[1]
            if tok == "module":
                modules.append(self._module())
            elif tok == "func.func":
                funcs.append(self._func())
            else:
                self.fail("'func.func', 'module' or '}' closing the module")
        self._module_locs.append(self._optional_loc())
        return MlirModule(name, attrs, tuple(funcs), tuple(modules), self.source)

    def _func(self) -> MlirFunc:
        line = self.line_of(self.peek_start())
        self.expect("func.func")
        while self.peek()[1] in ("private", "public", "nested"):
            self.next()
        name = self.expect_kind("symbol", "a function name ('@name')")[1:]
        self.expect("(")
        args: list[FuncArg] = []
        while not self.accept(")"):
            if args:
                self.expect(",")
            arg_name = self.expect_kind("value", "an argument ('%arg0: type')")
            self.expect(":")
            arg_type = self.type()
            if self.peek()[1] == "{":
                self.attr_dict()
            args.append(FuncArg(arg_name, arg_type, self._optional_loc()))
        results: tuple[TensorType, ...] = ()
        if self.accept("->"):
            results = self._result_types(allow_attrs=True)
        attrs: dict[str, Any] = {}
        if self.accept("attributes"):
            attrs = self.attr_dict()
        ops: tuple[MlirOp, ...] = ()
        if self.peek()[1] == "{":
            ops = self._region()
        loc = self._optional_loc()
        return MlirFunc(name, tuple(args), results, ops, attrs, loc, line)

    def _region(self) -> tuple[MlirOp, ...]:
        self.expect("{")
        ops: list[MlirOp] = []
        while not self.accept("}"):
            ops.append(self._operation())
        return tuple(ops)

    def _operation(self) -> MlirOp:
        start = self.peek_start()
        line = self.line_of(start)
        results: list[str] = []
        if self.peek()[0] == "value":
            results = self._result_names()
            self.expect("=")
        kind, tok = self.peek()
        if kind == "string":
            op = self._generic_op(results, start, line)
        elif tok in ("call", "func.call"):
            op = self._call(results, line)
        elif tok in ("return", "func.return"):
            op = self._return(results, line)
        else:
            self.fail("an operation ('\"dialect.Op\"(...)', 'call' or 'return') or '}'")
        if len(op.result_types) != len(op.results):
            self.fail_at(start, f"{len(op.results)} result type(s) for {op.name}, "
                                f"found {len(op.result_types)}", found=False)
        return op

    def _result_names(self) -> list[str]:
        names: list[str] = []
        while True:
            token = self.expect_kind("value", "a result name ('%name')")
            base, _, count = token.partition(":")
            if count:
                names += [f"{base}#{i}" for i in range(int(count))]
            elif "#" in token:
                self.fail_previous("a result name without '#'")
            else:
                names.append(token)
            if not self.accept(","):
                return names

    def _generic_op(self, results: list[str], start: int, line: int) -> MlirOp:
        name = self.next()[1][1:-1]
        operands = self._operand_list()
        attrs: dict[str, Any] = {}
        if self.peek()[1] == "<":  # properties: "<{...}>"
            self.next()
            attrs.update(self.attr_dict())
            self.expect(">")
        regions: list[tuple[MlirOp, ...]] = []
        if self.accept("("):
            regions.append(self._region())
            while self.accept(","):
                regions.append(self._region())
            self.expect(")")
        if self.peek()[1] == "{":
            attrs.update(self.attr_dict())
        self.expect(":")
        operand_types = self._type_list()
        self.expect("->")
        result_types = self._result_types(allow_attrs=False)
        if len(operand_types) != len(operands):
            self.fail_previous(f"{len(operands)} operand type(s) for {name}, "
                               f"found {len(operand_types)}", found=False)
        loc = self._optional_loc()
        group_attrs = None
        if name == "tpu.Group":
            group_attrs = self.group_attrs(attrs, regions[0] if regions else (), start)
        return MlirOp(name, tuple(results), operands, result_types=result_types,
                      operand_types=tuple(operand_types), attrs=attrs, regions=tuple(regions),
                      loc=loc, line=line, group_attrs=group_attrs)

    def _call(self, results: list[str], line: int) -> MlirOp:
        self.next()
        callee = self.expect_kind("symbol", "the called function ('@name')")
        operands = self._operand_list()
        self.expect(":")
        operand_types = self._type_list()
        self.expect("->")
        result_types = self._result_types(allow_attrs=False)
        loc = self._optional_loc()
        return MlirOp("func.call", tuple(results), operands, result_types=result_types,
                      operand_types=tuple(operand_types), attrs={"callee": callee[1:]},
                      regions=(), loc=loc, line=line)

    def _return(self, results: list[str], line: int) -> MlirOp:
        self.next()
        operands: list[str] = []
        operand_types: list[TensorType] = []
        if self.peek()[0] == "value":
            operands.append(self.next()[1])
            while self.accept(","):
                operands.append(self.expect_kind("value", "a returned value ('%name')"))
            self.expect(":")
            operand_types = [self.type()]
            while self.accept(","):
                operand_types.append(self.type())
        if len(operands) != len(operand_types):
            self.fail_previous(f"{len(operands)} returned type(s)", found=False)
        loc = self._optional_loc()
        return MlirOp("func.return", tuple(results), tuple(operands), result_types=(),
                      operand_types=tuple(operand_types), attrs={}, regions=(), loc=loc,
                      line=line)

    def _operand_list(self) -> tuple[str, ...]:
        self.expect("(")
        operands: list[str] = []
        while not self.accept(")"):
            if operands:
                self.expect(",")
            token = self.expect_kind("value", "an operand ('%name') or ')'")
            if ":" in token:
                self.fail_previous("an operand ('%name' or '%name#index')")
            operands.append(token)
        return tuple(operands)

    def _type_list(self) -> list[TensorType]:
        self.expect("(")
        types: list[TensorType] = []
        while not self.accept(")"):
            if types:
                self.expect(",")
            types.append(self.type())
        return types

    def _result_types(self, allow_attrs: bool) -> tuple[TensorType, ...]:
        if self.peek()[1] != "(":
            return (self.type(),)
        self.next()
        types: list[TensorType] = []
        while not self.accept(")"):
            if types:
                self.expect(",")
            types.append(self.type())
            if allow_attrs and self.peek()[1] == "{":
                self.attr_dict()
        return tuple(types)

    # ---- locations --------------------------------------------------------------------

    def _optional_loc(self) -> _LocSpec:
        return self._loc() if self.peek()[1] == "loc" else ("names", ())

    def _loc(self) -> _LocSpec:
        self.expect("loc")
        self.expect("(")
        spec = self._loc_body()
        self.expect(")")
        return spec

    def _loc_body(self) -> _LocSpec:
        start = self.peek_start()
        kind, tok = self.next()
        if kind == "hash":
            return ("ref", tok, start)
        if tok == "unknown":
            return ("names", ())
        if kind == "string":
            name = tok[1:-1]
            if self.accept(":"):  # "file":line:col
                line = self.expect_kind("number", "a line number")
                self.expect(":")
                column = self.expect_kind("number", "a column number")
                return ("names", (f"{name}:{line}:{column}",))
            if self.accept("("):  # "name"(child location)
                self._loc_body()
                self.expect(")")
            return ("names", (name,))
        if tok == "fused":
            if self.peek()[1] == "<":
                self.skip_angle()
            self.expect("[")
            parts = [self._loc_body()]
            while self.accept(","):
                parts.append(self._loc_body())
            self.expect("]")
            return ("fused", tuple(parts))
        if tok == "callsite":
            self.expect("(")
            callee = self._loc_body()
            self.expect("at")
            self._loc_body()
            self.expect(")")
            return callee
        self.fail_at(start, "a location (#alias, \"name\", unknown, fused[...])")
        raise AssertionError

    def _loc_names(self, spec: _LocSpec, seen: tuple[str, ...] = ()) -> tuple[str, ...]:
        if spec[0] == "names":
            return spec[1]
        if spec[0] == "fused":
            return tuple(n for part in spec[1] for n in self._loc_names(part, seen))
        alias, position = spec[1], spec[2]
        if alias not in self.loc_aliases:
            self.fail_at(position, f"a definition of location {alias} (the file ends "
                                   "without it: truncated?)", found=False)
        if alias in seen:
            self.fail_at(position, f"location {alias} not to refer to itself", found=False)
        return self._loc_names(self.loc_aliases[alias], (*seen, alias))

    # ---- resolving locations once the whole file has been read ---------------------------

    def _resolve_module(self, module: MlirModule) -> MlirModule:
        funcs = tuple(replace(f, loc=self._loc_names(f.loc),
                              args=tuple(replace(a, loc=self._loc_names(a.loc))
                                         for a in f.args),
                              ops=self._resolve_ops(f.ops)) for f in module.funcs)
        modules = tuple(self._resolve_module(m) for m in module.modules)
        return replace(module, funcs=funcs, modules=modules)

    def _resolve_ops(self, ops: tuple[MlirOp, ...]) -> tuple[MlirOp, ...]:
        return tuple(replace(op, loc=self._loc_names(op.loc),
                             regions=tuple(self._resolve_ops(r) for r in op.regions))
                     for op in ops)
