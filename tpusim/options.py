"""Compiler options: the article's optimisations, switched on and off by name.

`before` switches every option off, `after` switches every one on; a comma list names the ones
to switch on. The names are listed in one place, with what each does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from tpusim.errors import CompileError

# name -> what it does (shown by `tpusim compare --ablation` and the docs)
OPTIONS: dict[str, str] = {
    "slice5d_local": "5-D Slice runs inside a layer group when only its d axis is sliced",
    "squeeze_local": "Squeeze runs inside a layer group when dims 0 and 1 are unchanged",
    "weight_split": "element-wise ops slice a weight operand with the activation (allow_split)",
}


@dataclass(frozen=True)
class Options:
    slice5d_local: bool = True
    squeeze_local: bool = True
    weight_split: bool = True
    layer_groups: bool = True  # False: every op runs as a global layer (not an article option)

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(name for name in OPTIONS if getattr(self, name))

    def label(self) -> str:
        on = self.enabled
        if len(on) == len(OPTIONS):
            return "after"
        return ",".join(on) if on else "before"


def parse_options(spec: str | Options | None) -> Options:
    """`before`, `after` (the default) or a comma list of option names to switch on."""
    if isinstance(spec, Options):
        return spec
    text = (spec or "after").strip()
    if text == "after":
        return Options()
    if text == "before":
        return Options(**{name: False for name in OPTIONS})
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in OPTIONS]
    if unknown:
        raise CompileError(f"unknown optimisation {unknown[0]!r} "
                           f"(expected before, after, or names from: {', '.join(OPTIONS)})")
    return Options(**{name: name in names for name in OPTIONS})


def option_fields() -> list[str]:
    return [f.name for f in fields(Options)]
