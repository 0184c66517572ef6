from pathlib import Path

import pytest

from tpusim.sim.invariants import program_problems, violations


@pytest.fixture(scope="module")
def swin_runs(swin_t):
    return {p: swin_t(p) for p in ("f32", "f16", "bf16", "int8")}


@pytest.mark.parametrize("precision", ["f32", "f16", "bf16", "int8"])
def test_swin_t_invariants(swin_runs, precision):
    assert violations(swin_runs[precision]) == []


def test_lower_precision_is_faster(swin_runs):
    ms = {p: r.total_ms for p, r in swin_runs.items()}
    assert ms["f32"] > ms["f16"] > ms["int8"]
    assert ms["bf16"] == pytest.approx(ms["f16"], rel=0.05)


def test_int8_moves_fewer_bytes(swin_runs):
    ddr = {p: r.summary()["ddr_bytes"] for p, r in swin_runs.items()}
    assert ddr["f32"] > ddr["f16"] > ddr["int8"]


def test_violations_are_detected(swin_runs):
    run = swin_runs["f16"]
    broken = type(run)(run.program, run.chip, [*run.records], run.sim_wall_s)
    first = broken.records[0]
    broken.records[0] = type(first)(**{**{s: getattr(first, s) for s in first.__slots__},
                                       "bytes": first.bytes + 1})
    assert any("bytes" in v for v in violations(broken))


@pytest.mark.parametrize("precision", ["f16", "int8"])
def test_swin_t_runs_in_layer_groups(swin_t, precision):
    from tpusim.profile.summary import group_rows

    run = swin_t(precision, timing="vendor")  # beside tpu-mlir's formula, priced as it prices
    rows = group_rows(run.program, run.records)
    assert len(rows) >= 30
    for row in rows:
        assert row.span_ns >= max(row.tiu_ns, row.gdma_ns) - 1e-6
    # GDMA overlaps TIU inside groups: the software pipeline of sliced groups, and loads moved
    # into rows with TIU time to spare (tpu-mlir compiles Swin-T INT8 in single slices)
    assert max(r.parallelism for r in rows) > 1.02
    # the simulation of a group stays close to tpu-mlir's own formula for it
    ratios = sorted(r.estimate_ratio for r in rows)
    assert 0.9 < ratios[len(ratios) // 2] < 1.1


SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.mark.parametrize("model", ["swin-t", "swin-s", "swin-b", "resnet18.onnx",
                                   "swin_t.onnx"])
@pytest.mark.parametrize("precision", ["f32", "f16", "int8"])
def test_built_in_and_shared_models_place_every_buffer_and_wait_for_every_read(chip, model,
                                                                              precision):
    """No two live buffers of a group overlap, all lie inside local memory, every command
    waits for what it reads (the networks of ../shared/silicon: test_vendor_networks.py)."""
    from tpusim.api import compile
    from tpusim.frontend.load import load_model

    path = SHARED / "onnx" / model
    if model.endswith(".onnx") and not path.is_file():
        pytest.skip(f"{model} is not in ../shared/onnx")
    program = compile(load_model(str(path) if model.endswith(".onnx") else model), chip,
                      precision)
    assert program_problems(program, chip) == []
    assert all(plan.lmem is not None for plan in program.groups)


def test_tpu_mlir_programs_keep_their_addresses_apart(chip):
    """tpu-mlir's own allocation (each op's out_addr) in its programs: no overlap under the
    lifetimes tpusim gives their buffers, and every read waited for."""
    from tpusim.api import load_program

    files = sorted((SHARED / "tpu-mlir").rglob("*_final.mlir*"))
    if not files:
        pytest.skip("tpu-mlir's programs are not in ../shared/tpu-mlir")
    for path in files:
        program = load_program(path, chip)
        assert program_problems(program, chip) == [], path.name
