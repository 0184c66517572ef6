"""The wheel ships every subpackage and data file (pyproject lists packages explicitly because
the chip profiles live outside the package tree)."""

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "tpusim").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject's packages: {sorted(found - listed)}"


def test_structural_sweep_fields_exist():
    from tpusim.hw.chip import field_names
    from tpusim.sweep.params import STRUCTURAL_FIELDS

    assert set(field_names()) >= STRUCTURAL_FIELDS


def test_every_example_file_ships():
    """`tpusim examples` copies tpusim/examples/ from the installed package: each of its files
    must match a package-data pattern (setuptools globs do not recurse)."""
    from fnmatch import fnmatch

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["tpusim"]
    files = [p.relative_to(ROOT / "tpusim").as_posix()
             for p in (ROOT / "tpusim" / "examples").rglob("*") if p.is_file()]
    assert files and all(any(fnmatch(f, pat) and f.count("/") == pat.count("/")
                             for pat in patterns) for f in files), files
