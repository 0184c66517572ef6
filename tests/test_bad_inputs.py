"""Bad input of every kind through the command line: each ends in one line on stderr naming
the file, operator or field and what was expected, exit code 2, no traceback, and no output
written. (The cases are grouped by kind; `CASES` is the table the issue asks for.)"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from tpusim.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT.parent / "shared" / "tpu-mlir" / "fixtures" / "add_wt_1x3136x96__INT8__f32_io_cast"
CASES_HEADER = ("case,mode,io,op,input_shapes,attrs,status,total_cycles,n_tiu,n_gdma,tiu_cycles,"
                "gdma_cycles,layer_group\n")
DEEP = "[" * 100_000 + "]" * 100_000  # a parser that descends per bracket: RecursionError
SUITE_ENTRY = '[[entry]]\nname = "relu"\nop = "Relu"\nshapes = "[1,64,8,8]"\nprecision = "f16"\n'


def _onnx_bytes() -> bytes:
    onnx_models = pytest.importorskip("onnx_models")
    m = onnx_models.model([onnx_models.node("Relu", ["x"], "y")], onnx_models.X, {"y": None})
    return m.SerializeToString()


def _onnx_unknown() -> bytes:
    onnx_models = pytest.importorskip("onnx_models")
    return onnx_models.model([onnx_models.node("Celu", ["x"], "y")], onnx_models.X,
                             {"y": None}).SerializeToString()


def _onnx_symbolic() -> bytes:
    onnx_models = pytest.importorskip("onnx_models")
    return onnx_models.model([onnx_models.node("Relu", ["x"], "y")], {"x": [1, "h", 4, 4]},
                             {"y": None}).SerializeToString()


def _mlir() -> str:
    if not FIXTURE.is_dir():
        pytest.skip("shared tpu-mlir/ absent")
    return next(FIXTURE.glob("*_final.mlir")).read_text()


def _profile() -> str:
    if not FIXTURE.is_dir():
        pytest.skip("shared tpu-mlir/ absent")
    return (FIXTURE / "compiler_profile_0.txt").read_text()


def chip(text: str) -> str:
    return 'inherits = "bm1684x"\nname = "bad"\n' + text


# kind -> [(label, files {name: content (str, bytes or a callable giving one)}, arguments
#           ({name} is the file's path, {out} an output path), words the message must hold)]
CASES: dict[str, list[tuple[str, dict, list[str], str]]] = {
    "model name or path": [
        ("unknown built-in", {}, ["run", "swin-x"], "unknown model 'swin-x' (built-in models:"),
        ("empty name", {}, ["run", ""], "unknown model ''"),
        ("missing .onnx", {}, ["run", "missing.onnx"], "model file not found: missing.onnx"),
        ("missing dir", {}, ["run", "no/such/m.onnx"], "model file not found: no/such/m.onnx"),
        ("a directory", {"d.onnx/keep": "x"}, ["run", "{d.onnx}"], "model file not found"),
        ("unknown kind", {"m.txt": "hello"}, ["run", "{m.txt}"], "not a model tpusim reads"),
        ("missing final.mlir", {}, ["run", "gone_final.mlir"], "model file not found"),
        ("compare missing", {}, ["compare", "missing.onnx"], "model file not found"),
        ("sweep unknown", {}, ["sweep", "swin-q", "--set", "ddr_gbps=32,64"],
         "unknown model 'swin-q'"),
    ],
    "ONNX file": [
        ("empty", {"e.onnx": b""}, ["run", "{e.onnx}"], "e.onnx: not an ONNX model"),
        ("text", {"t.onnx": "hello\n"}, ["run", "{t.onnx}"], "t.onnx: not a"),
        ("garbage", {"g.onnx": bytes(range(256)) * 8}, ["run", "{g.onnx}"], "g.onnx: not a"),
        ("truncated", {"c.onnx": lambda: _onnx_bytes()[:40]}, ["run", "{c.onnx}"], "c.onnx: "),
        ("truncated, compare", {"c.onnx": lambda: _onnx_bytes()[:-9]},
         ["compare", "{c.onnx}"], "c.onnx: "),
        ("unknown operator", {"u.onnx": _onnx_unknown}, ["run", "{u.onnx}"],
         "u.onnx: node 'y' (Celu): operator Celu is not supported"),
        ("symbolic dim", {"s.onnx": _onnx_symbolic}, ["run", "{s.onnx}"],
         "has a symbolic dimension 'h' at axis 1"),
        ("bad --unknown-ops", {}, ["run", "swin-t", "--unknown-ops", "maybe"],
         "argument --unknown-ops: invalid choice: 'maybe'"),
    ],
    "final.mlir": [
        ("truncated", {"t_final.mlir": lambda: _mlir()[:2000]}, ["run", "{t_final.mlir}"],
         "t_final.mlir:"),
        ("garbage", {"g_final.mlir": "%%% not mlir"}, ["run", "{g_final.mlir}"],
         "g_final.mlir:1: expected a token, found '%'"),
        ("not UTF-8", {"u_final.mlir": b"module {\xff\xfe}"}, ["run", "{u_final.mlir}"],
         "u_final.mlir: cannot read this MLIR file"),
        ("damaged gzip", {"z_final.mlir.gz": lambda: gzip.compress(_mlir().encode())[:300]},
         ["run", "{z_final.mlir.gz}"], "z_final.mlir.gz: cannot read this MLIR file"),
        ("other chip", {"o_final.mlir": lambda: _mlir().replace('"bm1684x"', '"bm1688"')},
         ["run", "{o_final.mlir}"], "compiled for chip bm1688, but the chip profile is"),
        ("store from outside", {"s_final.mlir": lambda: _mlir().replace(
            '"tpu.Store"(%7, %0)', '"tpu.Store"(%1, %0)')}, ["run", "{s_final.mlir}"],
         "tpu.Store writes %1, which the group neither loads nor computes"),
        ("batch change", {"b_final.mlir": _mlir}, ["run", "{b_final.mlir}", "--batch", "4"],
         "compiled for batch 1; --batch cannot change a compiled program"),
        ("not compilable", {"c_final.mlir": _mlir}, ["compare", "{c_final.mlir}"],
         "cannot be compiled again"),
        ("nested too deeply", {"n_final.mlir": "module attributes {a = " + DEEP + "} {\n}\n"},
         ["run", "{n_final.mlir}"], "n_final.mlir: brackets nested too deeply to read"),
    ],
    "vendor profile": [
        ("missing", {"p_final.mlir": _mlir}, ["run", "{p_final.mlir}", "--vendor-profile",
                                              "gone.txt"], "gone.txt: cannot read this profile"),
        ("truncated", {"p_final.mlir": _mlir, "cut.txt": lambda: _profile()[:700]},
         ["run", "{p_final.mlir}", "--vendor-profile", "{cut.txt}"], "cut.txt:"),
        ("garbage", {"p_final.mlir": _mlir, "junk.txt": "hello\nworld\n"},
         ["run", "{p_final.mlir}", "--vendor-profile", "{junk.txt}"],
         "junk.txt:3: expected the 'ENGINE_BD ... ENGINE_GDMA' header line"),
        ("with a built-in model", {"prof.txt": _profile},
         ["run", "swin-t", "--vendor-profile", "{prof.txt}"],
         "--vendor-profile goes with a program tpu-mlir compiled"),
    ],
    "chip profile": [
        ("400 digits", {"c.toml": chip("ddr_gbps = " + "9" * 400 + "\n")},
         ["run", "swin-t", "--chip", "{c.toml}"],
         "c.toml: field 'ddr_gbps' must be between 1e-06 and 1e+15, got a number of 400 digits"),
        ("negative", {"c.toml": chip("ddr_gbps = -64.0\n")}, ["run", "swin-t", "--chip",
                                                               "{c.toml}"],
         "c.toml: field 'ddr_gbps' must be > 0, got -64.0"),
        ("zero", {"c.toml": chip("tiu_mhz = 0\n")}, ["run", "swin-t", "--chip", "{c.toml}"],
         "field 'tiu_mhz' must be > 0"),
        ("absurd", {"c.toml": chip("tiu_mhz = 1e-300\n")}, ["run", "swin-t", "--chip",
                                                             "{c.toml}"],
         "field 'tiu_mhz' must be between 1e-06 and 1e+15"),
        ("nan", {"c.toml": chip("ddr_gbps = nan\n")}, ["run", "swin-t", "--chip", "{c.toml}"],
         "field 'ddr_gbps' must be a finite number, got nan"),
        ("inf", {"c.toml": chip("gdma_mhz = inf\n")}, ["run", "swin-t", "--chip", "{c.toml}"],
         "field 'gdma_mhz' must be a finite number"),
        ("fraction", {"c.toml": chip("ddr_read_efficiency = 1.5\n")},
         ["run", "swin-t", "--chip", "{c.toml}"], "'ddr_read_efficiency' must be in (0, 1]"),
        ("not an integer", {"c.toml": chip("npu_count = 6.5\n")},
         ["run", "swin-t", "--chip", "{c.toml}"], "field 'npu_count' must be an integer"),
        ("string", {"c.toml": chip('tiu_mhz = "fast"\n')}, ["run", "swin-t", "--chip",
                                                             "{c.toml}"],
         "field 'tiu_mhz' must be a number, got 'fast'"),
        ("boolean", {"c.toml": chip("npu_count = true\n")}, ["run", "swin-t", "--chip",
                                                              "{c.toml}"],
         "field 'npu_count' must be a number, got True"),
        ("array", {"c.toml": chip("eu_bytes = [64]\n")}, ["run", "swin-t", "--chip",
                                                           "{c.toml}"],
         "field 'eu_bytes' must be a number, got [64]"),
        ("name not a string", {"c.toml": 'inherits = "bm1684x"\nname = 5\n'},
         ["run", "swin-t", "--chip", "{c.toml}"], "field 'name' must be a string"),
        ("unknown field", {"c.toml": chip("ddr_gbsp = 64\n")},
         ["run", "swin-t", "--chip", "{c.toml}"], "c.toml: unknown field 'ddr_gbsp'"),
        ("missing field", {"c.toml": 'name = "x"\ndescription = "y"\n'},
         ["run", "swin-t", "--chip", "{c.toml}"], "c.toml: missing field 'npu_count'"),
        ("banks", {"c.toml": chip("lmem_banks = 3\n")}, ["run", "swin-t", "--chip", "{c.toml}"],
         "lmem_bytes_per_npu must be a multiple of lmem_banks"),
        ("eu width", {"c.toml": chip("eu_bytes = 2\n")}, ["run", "swin-t", "--chip", "{c.toml}"],
         "eu_bytes must hold at least one f32 element"),
        ("duplicate key", {"c.toml": chip("tiu_mhz = 1\ntiu_mhz = 2\n")},
         ["run", "swin-t", "--chip", "{c.toml}"], "c.toml is not valid TOML"),
        ("bad TOML", {"c.toml": 'name = "x\n'}, ["run", "swin-t", "--chip", "{c.toml}"],
         "is not valid TOML"),
        ("not UTF-8", {"c.toml": b"name = \"\xff\"\n"}, ["run", "swin-t", "--chip",
                                                          "{c.toml}"],
         "cannot read chip profile"),
        ("unknown parent", {"c.toml": 'inherits = "nochip"\n'},
         ["run", "swin-t", "--chip", "{c.toml}"], "unknown chip 'nochip'"),
        ("inherits a number", {"c.toml": "inherits = 5\n"}, ["run", "swin-t", "--chip",
                                                              "{c.toml}"],
         "'inherits' must be a chip name or path"),
        ("cycle", {"a.toml": 'inherits = "b"\n', "b.toml": 'inherits = "a"\n'},
         ["run", "swin-t", "--chip", "{a.toml}"], "inheritance cycle: a.toml -> b.toml -> a"),
        ("nested too deeply", {"c.toml": chip("x = " + DEEP + "\n")},
         ["run", "swin-t", "--chip", "{c.toml}"], "values nested too deeply"),
        ("missing file", {}, ["run", "swin-t", "--chip", "gone.toml"],
         "chip profile file not found: gone.toml"),
        ("unknown chip", {}, ["run", "swin-t", "--chip", "bm9999"], "unknown chip 'bm9999'"),
        ("chips --show", {}, ["chips", "--show", "bm9999"], "unknown chip 'bm9999'"),
        ("sweep value", {}, ["sweep", "swin-t", "--set", "ddr_gbps=0,64"],
         "field 'ddr_gbps' must be > 0"),
    ],
    "benchmark suite": [
        ("missing", {}, ["bench", "gone.toml"], "cannot read benchmark suite gone.toml"),
        ("bad TOML", {"s.toml": "[[entry]\n"}, ["bench", "{s.toml}"], "is not valid TOML"),
        ("unknown key", {"s.toml": "tolerence = 0.1\n"}, ["bench", "{s.toml}"],
         "s.toml: unknown key 'tolerence'"),
        ("tolerance", {"s.toml": 'tolerance = "small"\n'}, ["bench", "{s.toml}"],
         "'tolerance' must be a number >= 0, got 'small'"),
        ("chip type", {"s.toml": "chip = 5\n"}, ["bench", "{s.toml}"],
         "'chip' must be a chip name or profile path, got 5"),
        ("entry not a table", {"s.toml": "entry = [1, 2]\n"}, ["bench", "{s.toml}"],
         "entry 1 must be a table"),
        ("entry a table", {"s.toml": "[entry]\nname = 'x'\n"}, ["bench", "{s.toml}"],
         "'entry' must be an array of tables"),
        ("unknown field", {"s.toml": SUITE_ENTRY + 'modle = "swin-t"\n'}, ["bench", "{s.toml}"],
         "entry 1 has unknown field 'modle'"),
        ("missing fields", {"s.toml": '[[entry]]\nname = "x"\n'}, ["bench", "{s.toml}"],
         "entry 1 needs a name, a precision and a model or an op"),
        ("batch type", {"s.toml": SUITE_ENTRY + 'batch = "two"\n'}, ["bench", "{s.toml}"],
         "entry 1: 'batch' must be an integer, got 'two'"),
        ("batch zero", {"s.toml": SUITE_ENTRY + "batch = 0\n"}, ["bench", "{s.toml}"],
         "entry 1: 'batch' must be >= 1, got 0"),
        ("precision", {"s.toml": SUITE_ENTRY.replace("f16", "f8")}, ["bench", "{s.toml}"],
         "entry 1 (relu): unknown precision 'f8'"),
        ("opt", {"s.toml": SUITE_ENTRY + 'opt = "fastest"\n'}, ["bench", "{s.toml}"],
         "entry 1 (relu): unknown optimisation 'fastest'"),
        ("io", {"s.toml": SUITE_ENTRY + 'io = "f64"\n'}, ["bench", "{s.toml}"],
         "'io' must be f32 or native, got 'f64'"),
        ("repeated names", {"s.toml": SUITE_ENTRY * 2}, ["bench", "{s.toml}"],
         "entry names repeat"),
        ("shapes", {"s.toml": SUITE_ENTRY.replace("[1,64,8,8]", "[1,,8]")}, ["bench", "{s.toml}"],
         "benchmark entry 'relu': cannot build operator 'Relu' from shapes '[1,,8]'"),
        ("operator", {"s.toml": SUITE_ENTRY.replace('"Relu"', '"Frob"')}, ["bench", "{s.toml}"],
         "no graph for operator 'Frob'"),
        ("huge shape", {"s.toml": SUITE_ENTRY.replace("[1,64,8,8]", "[1,64,8,8000000000]")},
         ["bench", "{s.toml}"], "more than the bound of 1,099,511,627,776 (max_elements)"),
        ("model", {"s.toml": '[[entry]]\nname = "m"\nmodel = "swin-q"\nprecision = "f16"\n'},
         ["bench", "{s.toml}"], "unknown model 'swin-q'"),
        ("baseline missing", {"s.toml": SUITE_ENTRY}, ["bench", "{s.toml}", "--check",
                                                       "gone.json"],
         "cannot read baseline gone.json"),
        ("baseline not JSON", {"s.toml": SUITE_ENTRY, "b.json": "{"},
         ["bench", "{s.toml}", "--check", "{b.json}"], "b.json is not valid JSON"),
        ("nested too deeply", {"s.toml": "x = " + DEEP + "\n"}, ["bench", "{s.toml}"],
         "s.toml: values nested too deeply"),
        ("baseline nested too deeply", {"s.toml": SUITE_ENTRY, "b.json": DEEP},
         ["bench", "{s.toml}", "--check", "{b.json}"], "b.json: values nested too deeply"),
        ("baseline shape", {"s.toml": SUITE_ENTRY, "b.json": '{"entries": {"relu": 1}}'},
         ["bench", "{s.toml}", "--check", "{b.json}"],
         "entry 'relu' has no numeric chip_ms or vendor_ms"),
    ],
    "command-line argument": [
        ("no command", {}, [], "give a command: run, compare, diff, chips, speed"),
        ("unknown command", {}, ["simulate"], "argument command: invalid choice: 'simulate'"),
        ("no model", {}, ["run"], "the following arguments are required: model"),
        ("unknown option", {}, ["run", "swin-t", "--fast"], "unrecognized arguments: --fast"),
        ("precision", {}, ["run", "swin-t", "--precision", "f8"], "unknown precision 'f8'"),
        ("opt", {}, ["run", "swin-t", "--opt", "fastest"], "unknown optimisation 'fastest'"),
        ("batch zero", {}, ["run", "swin-t", "--batch", "0"], "batch size must be >= 1, got 0"),
        ("batch text", {}, ["run", "swin-t", "--batch", "two"],
         "argument --batch: invalid int value: 'two'"),
        ("batch huge", {}, ["run", "swin-t", "--batch", "100000000"],
         "more than the bound of 1,099,511,627,776 (max_elements)"),
        ("batch of 400 digits", {}, ["run", "swin-t", "--batch", "9" * 400],
         "batch size must be at most 1,099,511,627,776 (max_elements), got a number of 400"),
        ("sweep of a 400-digit count", {}, ["sweep", "swin-t", "--set", "npu_count=" + "9" * 400],
         "field 'npu_count' must be between 1e-06 and 1e+15, got a number of 400 digits"),
        ("max-commands", {}, ["run", "swin-t", "--max-commands", "0"],
         "argument --max-commands: expected a positive integer, got '0'"),
        ("precisions empty", {}, ["compare", "swin-t", "--precisions", ","],
         "--precisions names no precision"),
        ("precisions bad", {}, ["compare", "swin-t", "--precisions", "f16,f9"],
         "unknown precision 'f9'"),
        ("set field", {}, ["sweep", "swin-t", "--set", "ddr_gbp=1,2"],
         "unknown sweep parameter 'ddr_gbp'"),
        ("set syntax", {}, ["sweep", "swin-t", "--set", "ddr_gbps"],
         "expected FIELD=v1,v2,... or FIELD=lo:hi:n"),
        ("set twice", {}, ["sweep", "swin-t", "--set", "ddr_gbps=32", "--set", "ddr_gbps=64"],
         "--set ddr_gbps is given twice"),
        ("set too many", {}, ["sweep", "swin-t", "--set", "ddr_gbps=1:2:100000000"],
         "more than 100,000 values"),
        ("sweep too large", {}, ["sweep", "swin-t", "--set", "ddr_gbps=1:2:1000", "--set",
                                 "tiu_mhz=1:2:1000"], "the sweep has 1,000,000 points"),
        ("executor", {}, ["sweep", "swin-t", "--set", "ddr_gbps=32,64", "--executor", "gpu"],
         "unknown executor 'gpu'"),
        ("delta", {}, ["sensitivity", "swin-t", "--delta", "2"], "delta must be between 0 and 1"),
        ("params", {}, ["sensitivity", "swin-t", "--params", "name"], "'name' is not one"),
    ],
    "calibration data": [
        ("no folder", {}, ["validate", "--data", "gone"], "gone: not tpu-mlir's output folder"),
        ("no column", {"d/micro/cases.csv": "case,mode\nx,F16\n"},
         ["validate", "--data", "{d}"], "cases.csv: not the table tpusim expects (no column"),
        ("bad number", {"d/micro/cases.csv": CASES_HEADER + "x,F16,stripped,Relu,\"[1,2]\",,"
                                                            "ok,x1,1,1,1,1,global\n"},
         ["validate", "--data", "{d}", "--no-article"], "invalid literal for int()"),
        ("bad shapes", {"d/micro/cases.csv": CASES_HEADER + "x,F16,stripped,Relu,\"[1,,2]\",,"
                                                            "ok,1,1,1,1,1,global\n"},
         ["validate", "--data", "{d}", "--no-article"],
         "case 'x' (F16): cannot build operator 'Relu' from shapes '[1,,2]'"),
        ("fit, no column", {"d/micro/cases.csv": "case\n", "d/micro/commands.csv": "a,b\n1,2\n"},
         ["fit", "--data", "{d}"], "commands.csv: not the table tpusim expects (no column"),
        ("fit, no commands", {"d/micro/cases.csv": CASES_HEADER}, ["fit", "--data", "{d}"],
         "d: not tpu-mlir's output folder (no micro/commands.csv in it)"),
        ("not UTF-8", {"d/micro/cases.csv": b"case,mode\n\xff\xfe,F16\n"},
         ["validate", "--data", "{d}"], "cases.csv: not a UTF-8 CSV table"),
        ("fit, not UTF-8", {"d/micro/commands.csv": b"\xff\xfe\n"}, ["fit", "--data", "{d}"],
         "commands.csv: not a UTF-8 CSV table"),
        ("zero cycles", {"d/micro/cases.csv": CASES_HEADER + "x,F16,stripped,Relu,\"[1,2]\",,"
                                                             "ok,0,1,1,1,1,global\n"},
         ["validate", "--data", "{d}", "--no-article"],
         "case 'x' (F16) has total_cycles 0, expected > 0"),
        ("speed batches", {}, ["speed", "swin-t", "--batches", "x"],
         "--batches 'x': expected batch sizes such as 1,4,16"),
    ],
    "impossible program": [
        ("no split fits", {"tiny.toml": chip("lmem_bytes_per_npu = 1024\n")},
         ["run", "swin-t", "--chip", "{tiny.toml}"],
         "op 'embed.conv': does not fit local memory even split to single rows"),
        ("no split fits, bench", {"tiny.toml": chip("lmem_bytes_per_npu = 1024\n"),
                                  "s.toml": SUITE_ENTRY.replace("Relu", "Softmax").replace(
                                      "[1,64,8,8]", "[1,64,8,100000]")},
         ["bench", "{s.toml}", "--chip", "{tiny.toml}"], "does not fit local memory"),
        ("command bound", {}, ["run", "swin-t", "--max-commands", "100"],
         "as a global layer: more than 100 commands (max_commands; raise it with"),
        ("command bound, compare", {}, ["compare", "swin-t", "--max-commands", "100"],
         "more than 100 commands"),
        ("command bound, bench", {"s.toml": SUITE_ENTRY}, ["bench", "{s.toml}",
                                                           "--max-commands", "1"],
         "more than 1 commands"),
        ("command bound, compiled", {"m_final.mlir": _mlir},
         ["run", "{m_final.mlir}", "--max-commands", "3"], "more than 3 commands"),
    ],
}
OUT = {"run", "compare", "sweep", "sensitivity"}  # commands that take --out DIR


def _params() -> list:
    return [pytest.param(files, args, words, id=f"{kind}: {label}")
            for kind, cases in CASES.items() for label, files, args, words in cases]


def _materialise(tmp_path: Path, files: dict, args: list[str]) -> list[str]:
    paths = {}
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        content = content() if callable(content) else content
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        paths[name.split("/")[0]] = str(tmp_path / name.split("/")[0])
    for name, path in paths.items():
        args = [a.replace("{" + name + "}", path) for a in args]
    return args


@pytest.mark.parametrize(("files", "args", "words"), _params())
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, capsys, files,
                                                        args, words):
    monkeypatch.chdir(tmp_path)  # relative names ("gone.toml") are looked for here
    argv = _materialise(tmp_path, files, args)
    out = tmp_path / "out"
    if argv and (argv[0] in OUT or argv[0] == "bench"):
        argv += ["--out", str(out)]
    before = sorted(p.name for p in tmp_path.iterdir())
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and ": error: " in err and words in err, err
    assert "Traceback" not in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("argv, words", [
    (["run", "swin-t", "--chip", "gone.toml", "--out", "o"], "chip profile file not found"),
    (["run", "m.onnx", "--out", "o"], "m.onnx: not an ONNX model"),
    (["run", "swin-t", "--max-commands", "100", "--out", "o"], "more than 100 commands"),
])
def test_as_a_process_no_traceback(tmp_path, argv, words):
    """The same through `python -m tpusim`: exit status 2, one line, nothing written."""
    (tmp_path / "m.onnx").write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "tpusim", *argv], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and words in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
