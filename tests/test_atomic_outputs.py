"""Outputs are written whole or not at all: a run that fails or is interrupted while writing
leaves every file as it was (or, where it had none, nothing - not even a directory), and an
output place that can never be written is refused before any work."""

import os
import re
from pathlib import Path

import pytest
from profile_cases import grouped_result
from small_graphs import conv_block

import tpusim
from tpusim.cli import main
from tpusim.errors import OutputError
from tpusim.outputs import check_writable, save_figure, write_atomic
from tpusim.profile import report
from tpusim.profile.html import write_html
from tpusim.profile.tables import write_csv

ROOT = Path(__file__).resolve().parents[1]


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` with its bytes (and every entry beside it)."""
    files = {str(p.relative_to(directory)): p.read_bytes()
             for p in sorted(directory.rglob("*")) if p.is_file()}
    return {"files": files, "siblings": sorted(p.name for p in directory.parent.iterdir())}


class Boom(Exception):
    pass


def _fail(*args, **kwargs):
    raise Boom("the writer failed midway")


@pytest.fixture(autouse=True)
def quick_figures(monkeypatch):
    """Figures drawn as a few bytes: what is tested is how files are written, not drawn."""
    def draw(result, paths, **kwargs):
        for path in [paths] if isinstance(paths, Path) else paths:
            Path(path).write_bytes(f"figure of {result.total_ns} ns\n".encode())

    monkeypatch.setattr(report, "plot_timeline", draw)
    monkeypatch.setattr(report, "plot_roofline", draw)


@pytest.mark.parametrize("failure", [Boom, KeyboardInterrupt])
def test_a_writer_failing_midway_leaves_the_old_directory(tmp_path, simple_chip, monkeypatch,
                                                          failure):
    """The HTML, trace, figures and summaries are written before the CSV tables: one table
    failing (or Ctrl-C there) must leave the previous run's files byte for byte, and no
    scratch files."""
    result = grouped_result(simple_chip)
    out = tmp_path / "out"
    report.save_result(result, out)
    (out / "notes.txt").write_text("the user's own file\n")
    before = snapshot(out)
    changed = grouped_result(simple_chip.replace(ddr_gbps=32))

    def fail(*args, **kwargs):
        raise failure("the writer failed midway")

    monkeypatch.setattr(report, "group_table", fail)
    with pytest.raises(failure):
        report.save_result(changed, out)
    assert snapshot(out) == before


def test_a_failed_first_run_creates_nothing(tmp_path, simple_chip, monkeypatch):
    monkeypatch.setattr(report, "roofline_table", _fail)
    with pytest.raises(Boom):
        report.save_result(grouped_result(simple_chip), tmp_path / "new" / "deeper" / "out")
    assert list(tmp_path.iterdir()) == []


def test_cli_run_failing_while_writing_keeps_the_old_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("tpusim.cli.tasks.load_model", lambda *args: conv_block(16, 8))
    out = tmp_path / "out"
    assert main(["run", "block", "--precision", "int8", "--out", str(out)]) == 0
    before = snapshot(out)
    monkeypatch.setattr(report, "engine_table", _fail)
    assert main(["run", "block", "--precision", "f16", "--out", str(out)]) == 1
    assert "internal error: Boom" in capsys.readouterr().err
    assert snapshot(out) == before


def test_write_atomic_keeps_the_old_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old\n")

    def half(tmp: Path) -> None:
        tmp.write_text("new but only ha")
        raise Boom("disk full")

    with pytest.raises(Boom):
        write_atomic(path, half)
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["results.json"]
    write_atomic(path, lambda tmp: tmp.write_text("new\n"))
    assert path.read_text() == "new\n" and os.listdir(tmp_path) == ["results.json"]


def test_write_atomic_gives_the_mode_a_plain_open_would(tmp_path):
    """mkstemp makes private 0600 files; an output must be as readable as any other file."""
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic = tmp_path / "atomic.txt"
    write_atomic(atomic, lambda tmp: tmp.write_text("x"))
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "masked.txt", lambda tmp: tmp.write_text("x"))
    finally:
        os.umask(old)
    assert atomic.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    assert (tmp_path / "masked.txt").stat().st_mode & 0o777 == 0o640


def test_single_file_writers_are_atomic(tmp_path, simple_chip, monkeypatch):
    """write_csv, write_html and every figure (timeline, roofline, sweep, tornado) write to a
    temporary name first: a failure leaves the old file."""
    result = grouped_result(simple_chip)
    for name, write in (("t.csv", lambda p: write_csv(p, (["a"], [[1], [2]]))),
                        ("t.html", lambda p: write_html(result, p))):
        path = tmp_path / name
        path.write_text("old")
        monkeypatch.setattr("tpusim.outputs.os.replace", _fail)
        with pytest.raises(Boom):
            write(path)
        monkeypatch.undo()
        assert path.read_text() == "old" and sorted(os.listdir(tmp_path))[-1] == name
        write(path)
        assert path.read_text() != "old"
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    path = tmp_path / "f.png"
    path.write_bytes(b"old")
    monkeypatch.setattr(fig, "savefig", lambda tmp, **kw: (Path(tmp).write_bytes(b"\x89PN"),
                                                           _fail()))
    with pytest.raises(Boom):
        save_figure(fig, path)
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["f.png", "t.csv", "t.html"]


def test_every_writer_goes_through_the_staging_helpers():
    """Outside tpusim/outputs.py, files are written only into a staged directory or to the
    temporary path write_atomic hands out (both named `tmp`)."""
    writes = re.compile(r"\.write_text\(|\.write_bytes\(|\.savefig\(|open\([^)]*['\"][wax]")
    for path in sorted((ROOT / "tpusim").rglob("*.py")):
        if path.name == "outputs.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if writes.search(line):
                assert "tmp" in line, f"{path.relative_to(ROOT)}:{number}: {line.strip()}"


# ---- output places that can never be written: refused before any work ---------------------


def _no_compile(monkeypatch):
    monkeypatch.setattr("tpusim.cli.tasks.compile", _fail)
    monkeypatch.setattr("tpusim.sweep.work.compile", _fail)


COMMANDS = [
    ["run", "swin-t", "--out"],
    ["compare", "swin-t", "--precisions", "f16", "--out"],
    ["sweep", "swin-t", "--set", "ddr_gbps=32,64", "--executor", "serial", "--out"],
    ["sensitivity", "swin-t", "--params", "ddr_gbps", "--executor", "serial", "--out"],
]
BENCH = [["bench", str(ROOT / "benchmarks" / "suite.toml"), option] for option in ("--out",
                                                                                  "--save")]


@pytest.mark.parametrize(("args", "target"), [
    *((args, "file/out") for args in COMMANDS + BENCH),  # below a file
    *((args, "file") for args in COMMANDS),  # a file where a directory goes
    *((args, "dir") for args in BENCH),  # a directory where a file goes
])
def test_unwritable_output_is_refused_up_front(tmp_path, monkeypatch, capsys, args, target):
    _no_compile(monkeypatch)
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    before = snapshot(tmp_path / "dir")
    assert main([*args, str(tmp_path / target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tpusim: error: cannot write to {tmp_path / target}: ")
    assert err.count("\n") == 1 and snapshot(tmp_path / "dir") == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any directory")
def test_read_only_directory_is_refused(tmp_path, monkeypatch, capsys):
    _no_compile(monkeypatch)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["run", "swin-t", "--out", str(locked / "out")]) == 2
        assert "permission denied" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no procfs")
def test_a_place_no_file_can_be_created_in_is_refused_even_for_root(monkeypatch, capsys):
    """os.access says yes to root everywhere; creating a file in /proc fails for anyone."""
    _no_compile(monkeypatch)
    assert main(["run", "swin-t", "--out", "/proc/tpusim-out"]) == 2
    assert capsys.readouterr().err.startswith("tpusim: error: cannot write to /proc/tpusim-out")


def test_check_writable_accepts_new_and_existing_places(tmp_path):
    check_writable(tmp_path / "a" / "b" / "c")
    check_writable(tmp_path)
    check_writable(tmp_path / "f.json", is_file=True)
    with pytest.raises(OutputError, match="not a regular file"):
        check_writable(tmp_path, is_file=True)
    assert list(tmp_path.iterdir()) == []  # checking creates nothing


def test_result_save_to_a_file_is_an_output_error(tmp_path, simple_chip):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"cannot write to .*file: it is not a directory"):
        grouped_result(simple_chip).save(tmp_path / "file")
    with pytest.raises(OutputError, match=r"cannot write to .*out: Not a directory"):
        tpusim.Result.save(grouped_result(simple_chip), tmp_path / "file" / "out")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
