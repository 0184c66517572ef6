"""Compiler options: the article's optimisations, switched on and off by name.

`before` switches every option off, `after` switches every one on; a comma list names the ones
to switch on, by option name or by the article's step (transposes, grouping, weight_split).
The names are listed in one place, with what each does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tpusim.errors import CompileError

# name -> what it does (shown by `tpusim compare --ablation` and the docs)
OPTIONS: dict[str, str] = {
    # 1. transpose elimination in the attention
    "matmul_permute_split": "MatMul -> Reshape -> Permute -> Slice+Squeeze splits before the "
                            "permute (tpu-mlir MatmulWithPermuteAndSplit)",
    "permute_fuse": "adjacent permutes merge; identity permutes vanish",
    "hdim_is_batch": "batch MatMuls read head-dim-permuted operands directly (not at F32)",
    "permute_cancel": "a permute and its inverse, through ops they commute with, vanish",
    # 2. better layer grouping
    "slice5d_local": "5-D Slice runs inside a layer group when only its d axis is sliced",
    "squeeze_local": "Squeeze runs inside a layer group when dims 0 and 1 are unchanged",
    # 3. weight splitting
    "weight_split": "element-wise ops slice a weight operand with the activation (allow_split)",
}

# The article's three optimisations, as groups of option names.
STUDY_STEPS: dict[str, tuple[str, ...]] = {
    "transposes": ("matmul_permute_split", "permute_fuse", "hdim_is_batch", "permute_cancel"),
    "grouping": ("slice5d_local", "squeeze_local"),
    "weight_split": ("weight_split",),
}


@dataclass(frozen=True)
class Options:
    matmul_permute_split: bool = True
    permute_fuse: bool = True
    hdim_is_batch: bool = True
    permute_cancel: bool = True
    slice5d_local: bool = True
    squeeze_local: bool = True
    weight_split: bool = True
    layer_groups: bool = True  # False: every op runs as a global layer (not an article option)

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(name for name in OPTIONS if getattr(self, name))

    def switched(self, names: tuple[str, ...], on: bool) -> Options:
        return replace(self, **{n: on for n in names})

    def label(self) -> str:
        on = self.enabled
        text = "after" if len(on) == len(OPTIONS) else ",".join(on) if on else "before"
        return text if self.layer_groups else f"{text}, no layer groups"


def parse_options(spec: str | Options | None) -> Options:
    """`before`, `after` (the default) or a comma list of option names to switch on."""
    if isinstance(spec, Options):
        return spec
    text = (spec or "after").strip()
    if text == "after":
        return Options()
    if text == "before":
        return Options(**{name: False for name in OPTIONS})
    names: list[str] = []
    for n in (n.strip() for n in text.split(",") if n.strip()):
        names += STUDY_STEPS.get(n, (n,)) if n not in OPTIONS else (n,)
    unknown = [n for n in names if n not in OPTIONS]
    if unknown:
        raise CompileError(f"unknown optimisation {unknown[0]!r} (expected before, after, "
                           f"or names from: {', '.join([*STUDY_STEPS, *OPTIONS])})")
    return Options(**{name: name in names for name in OPTIONS})
