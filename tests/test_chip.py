import pytest

from tpusim.errors import ChipProfileError
from tpusim.hw.chip import field_names, list_chips, load_chip
from tpusim.ir.dtypes import DType


def test_bm1684x_constants(chip):
    assert chip.npu_count == 64
    assert chip.lmem_bytes_per_npu == 256 * 1024 and chip.lmem_banks == 16
    assert chip.lmem_bytes == 16 * 1024 * 1024 and chip.lmem_bank_bytes == 16 * 1024
    assert [chip.eu_num(d) for d in (DType.F32, DType.F16, DType.BF16, DType.INT8)] == \
        [16, 32, 32, 64]
    assert [chip.ic_num(d) for d in (DType.F32, DType.F16, DType.INT8)] == [1, 32, 64]
    assert chip.cube_macs_per_cycle(DType.INT8) == 16384
    assert chip.cube_macs_per_cycle(DType.F32) == 1024
    assert chip.peak_tops(DType.INT8) == pytest.approx(32.768)
    assert chip.tiu_mhz == chip.gdma_mhz == 1000
    assert chip.ddr_gbps == 64
    assert "bm1684x" in list_chips()


def _profile(tmp_path, text, name="variant.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_inherits_and_overrides(tmp_path, chip):
    path = _profile(tmp_path, 'inherits = "bm1684x"\nname = "fast"\nddr_gbps = 128\n')
    fast = load_chip(path)
    assert fast.ddr_gbps == 128 and fast.name == "fast"
    assert fast.npu_count == chip.npu_count


@pytest.mark.parametrize("text, words", [
    ('inherits = "bm1684x"\nddr_gbps = -64\n', "'ddr_gbps' must be > 0"),
    ('inherits = "bm1684x"\nddr_read_efficiency = 1.5\n', "'ddr_read_efficiency' must be in"),
    ('inherits = "bm1684x"\nnpu_count = 6.5\n', "'npu_count' must be an integer"),
    ('inherits = "bm1684x"\nddr_gbsp = 64\n', "unknown field 'ddr_gbsp'"),
    ('inherits = "bm1684x"\ntiu_mhz = "fast"\n', "'tiu_mhz' must be a number"),
    ('name = "x"\ndescription = "y"\n', "missing field 'npu_count'"),
    ('name = "x\n', "not valid TOML"),
    ('inherits = "nochip"\n', "unknown chip 'nochip'"),
])
def test_bad_profiles_name_the_problem(tmp_path, text, words):
    with pytest.raises(ChipProfileError, match=words.replace("(", r"\(")):
        load_chip(_profile(tmp_path, text))


def test_inheritance_cycle(tmp_path):
    _profile(tmp_path, 'inherits = "b"\n', "a.toml")
    _profile(tmp_path, 'inherits = "a"\n', "b.toml")
    with pytest.raises(ChipProfileError, match="cycle"):
        load_chip(tmp_path / "a.toml")


@pytest.mark.parametrize("parent", ["base", "base.toml", "./base.toml", "sub/../base.toml"])
def test_a_parent_is_found_next_to_its_child_however_it_is_spelled(tmp_path, monkeypatch,
                                                                   parent):
    (tmp_path / "sub").mkdir()
    _profile(tmp_path, 'inherits = "bm1684x"\nname = "base"\nddr_gbps = 32\n', "base.toml")
    child = _profile(tmp_path, f'inherits = "{parent}"\nname = "child"\n', "child.toml")
    monkeypatch.chdir(tmp_path / "sub")  # not where the profiles are
    assert load_chip(child).ddr_gbps == 32


@pytest.mark.parametrize("field", ["ddr_gbps", "npu_count"])
def test_a_number_too_large_for_a_float_is_a_profile_error(tmp_path, field):
    words = f"'{field}' must be between 1e-06 and 1e\\+15, got a number of 400 digits"
    with pytest.raises(ChipProfileError, match=words):
        load_chip(_profile(tmp_path, f'inherits = "bm1684x"\n{field} = {"9" * 400}\n'))


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(ChipProfileError, match="not found"):
        load_chip(tmp_path / "none.toml")
    with pytest.raises(ChipProfileError, match="unknown chip"):
        load_chip("bm9999")


def test_replace_checks_values(chip):
    assert chip.replace(ddr_gbps=32).ddr_gbps == 32
    with pytest.raises(ChipProfileError, match="ddr_gbps"):
        chip.replace(ddr_gbps=0)
    with pytest.raises(ChipProfileError, match="unknown chip field"):
        chip.replace(bandwidth=1)


def test_every_field_has_a_source_comment():
    text = (load_chip.__globals__["_builtin_dir"]() / "bm1684x.toml").read_text()
    lines = text.splitlines()
    for name in field_names():
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{name} ="))
        if name in ("name", "description"):
            continue
        while index > 0 and "=" in lines[index - 1] and not lines[index - 1].startswith("#"):
            index -= 1  # fields listed together share the comment above them
        assert lines[index - 1].startswith("#"), f"{name} has no comment above it"
