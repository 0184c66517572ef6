"""The compile cache: a program compiled once is read back equal; the key holds what the
compiler reads and nothing else; damaged entries, concurrent writers, a full or read-only
disk, and the size bound."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from small_graphs import conv_block

from tpusim import cache
from tpusim.api import compile
from tpusim.cli import main
from tpusim.options import parse_options


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TPUSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TPUSIM_NO_CACHE", raising=False)
    return tmp_path / "cache"


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.program")) if folder.is_dir() else []


def test_a_program_is_compiled_once_and_read_back_equal(chip, cache_dir, monkeypatch):
    graph = conv_block()
    first = compile(graph, chip, "f16")
    assert len(entries(cache_dir)) == 1
    import tpusim.compiler

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(tpusim.compiler, "compile_graph", no_compile)
    again = compile(graph, chip, "f16")
    assert (again.tiu, again.gdma, again.layers) == (first.tiu, first.gdma, first.layers)
    assert [g.secs for g in again.groups] == [g.secs for g in first.groups]


def test_the_key_is_what_the_compiler_reads(chip):
    graph, after = conv_block(), parse_options("after")
    base = cache.key(graph, chip, "f16", after, "f32", 1000)
    same = [cache.key(graph, chip.replace(name="other", chip_contention=0.0), "f16", after,
                      "f32", 1000)]
    other = [cache.key(graph, chip.replace(lmem_banks=8), "f16", after, "f32", 1000),
             cache.key(graph, chip.replace(ddr_read_efficiency=0.5), "f16", after, "f32", 1000),
             cache.key(graph, chip, "int8", after, "f32", 1000),
             cache.key(graph, chip, "f16", parse_options("before"), "f32", 1000),
             cache.key(graph, chip, "f16", after, "native", 1000),
             cache.key(graph, chip, "f16", after, "f32", 999),
             cache.key(conv_block(channels=32), chip, "f16", after, "f32", 1000)]
    assert same == [base] and base not in other and len(set(other)) == len(other)


def test_a_damaged_entry_is_named_dropped_and_rebuilt(chip, cache_dir, capsys):
    graph = conv_block()
    good = compile(graph, chip, "f16")
    (entry,) = entries(cache_dir)
    entry.write_bytes(b"not a pickle")
    again = compile(graph, chip, "f16")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ignoring the damaged compile cache entry" in err
    assert again.tiu == good.tiu and entries(cache_dir) == [entry]
    assert compile(graph, chip, "f16").tiu == good.tiu and capsys.readouterr().err == ""


def test_off_by_environment_or_argument(chip, cache_dir, monkeypatch):
    compile(conv_block(), chip, "f16", cache=False)
    monkeypatch.setenv("TPUSIM_NO_CACHE", "1")
    compile(conv_block(), chip, "f16")
    assert entries(cache_dir) == [] and not cache.info().enabled


def test_an_unwritable_cache_warns_once_and_compiles(chip, tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("")  # the cache directory cannot be made under a file
    monkeypatch.setenv("TPUSIM_CACHE_DIR", str(blocked / "cache"))
    monkeypatch.setattr(cache, "_warned", set())
    for _ in range(2):
        assert compile(conv_block(), chip, "f16").tiu
    err = capsys.readouterr().err
    assert err.count("cannot write the compile cache") == 1


def test_the_oldest_entries_leave_first(chip, cache_dir, monkeypatch):
    for channels in (32, 48, 64):
        compile(conv_block(channels=channels), chip, "f16")
    largest = max(entries(cache_dir), key=lambda p: p.stat().st_size)
    os.utime(largest, (1, 1))  # the oldest, too
    monkeypatch.setattr(cache, "MAX_BYTES", sum(p.stat().st_size for p in entries(cache_dir)))
    compile(conv_block(channels=16), chip, "f16")  # the smallest: one entry must leave
    assert largest not in entries(cache_dir) and len(entries(cache_dir)) == 3


def test_processes_writing_at_once_leave_one_good_entry(cache_dir):
    code = ("import sys; sys.path.insert(0, 'tests'); from small_graphs import conv_block; "
            "import tpusim; print(len(tpusim.compile(conv_block(96, 40), 'bm1684x', 'f16').tiu))")
    env = {**os.environ, "TPUSIM_CACHE_DIR": str(cache_dir)}
    root = Path(__file__).resolve().parents[1]
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=root,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len({out for out, _ in outs}) == 1 and all(err == "" for _, err in outs)
    assert len(entries(cache_dir)) == 1 and not list(cache_dir.glob(".*"))  # no leftovers


def test_cache_command(chip, cache_dir, capsys):
    compile(conv_block(), chip, "f16")
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache_dir) in out and "on; 1 compiled program," in out
    assert main(["cache", "clear"]) == 0
    assert "removed 1 compiled program from" in capsys.readouterr().out
    assert entries(cache_dir) == []
    assert main(["run", "swin-t", "--no-cache", "--json"]) == 0
    assert entries(cache_dir) == []
