"""cocotb on the whole accelerator (top.v and its variants), on every selected simulator.

- ``test_top_layer_slice``: a slice of a real layer of the default checkpoint (K not a multiple
  of the array height nor of 3, N not a multiple of its width, real tokens), INT8 and INT32
  outputs, more tokens than the activation buffer holds, the largest K, plus random jobs, under
  random AXI idle cycles and back-pressure; illegal register values and bus errors; reset in the
  middle of a job.
- ``test_top_variants``: the same jobs on every other build of the preset (64- and 128-bit
  buses, the INT8 x INT8 array; the INT8 x 3-bit and radix-2 arrays on Verilator), bit-exact.
- ``test_cycle_model_outside_its_fit``: the cycle model against random jobs it was not fitted
  on (mean error below 2 %, none above 8 %).
- ``test_top_full_layer`` (marker ``slow``, runs only with FINEQ_FULL_LAYER=1): the whole
  384 x 384 attention projection with 8 real tokens on the default preset, no pauses: every
  output bit-exact, the cycle model within 1 %, at least 85 % of the roofline.
"""

import json
import os

import numpy as np
import pytest

from hdl.generate import accelerators
from hdl.soc.accel_config import accel_preset
from verif import simulate
from verif.top_jobs import jobs_to_npz, layer_job, random_job


@pytest.fixture(scope="session")
def top_verilog(verilog):
    """build/verilog/<config>/, where hdl.generate also writes top.v."""
    return verilog


def slice_jobs(golden, config_name):
    cfg = accel_preset(config_name)
    rows, cols = cfg.rows, cfg.cols
    k = min(cfg.max_k, golden["q"].shape[1], 4 * rows + 2)  # K % rows != 0 and K % 3 != 0
    if k % 3 == 0:
        k -= 1
    n = min(golden["q"].shape[0], 2 * cols + 1)
    m = min(golden["x_q"].shape[0], cfg.chunk_m + 1)  # one token more than a chunk
    rng = np.random.default_rng(11)
    return [
        layer_job(golden, n=n, k=k, m=m),
        layer_job(golden, n=n, k=k, m=3, bypass=True),
        random_job(rng, 4, rows + 1, cols + 2, name="random"),
        random_job(rng, 2, cfg.max_k, cols - 1, name="random-max-k"),
        random_job(rng, 2 * cfg.chunk_m + 3, 2 * rows, 1, bypass=True, name="random-chunks"),
        random_job(rng, 3, 5 * rows + 2, cols + 1, name="random-groups", group=2 * rows),
        random_job(rng, 2, 3 * rows, cols, bypass=True, name="random-groups-int32", group=rows),
    ]


def run_slice(sim, config_name, top, vdir, golden, tmp_path, testcase=None):
    jobs = jobs_to_npz(slice_jobs(golden, config_name), tmp_path / "jobs.npz")
    results = tmp_path / "results.json"
    simulate.run(sim, config_name, top, "verif.tb_top", vdir=vdir, testcase=testcase, env={
        "FINEQ_TB_JOBS": str(jobs), "FINEQ_TB_RESULTS": str(results),
    })
    report = json.loads(results.read_text())
    assert [j["mismatches"] for j in report["jobs"]] == [0] * len(report["jobs"])
    for j in report["jobs"]:
        assert 0 < j["busy_cycles"] < j["cycles"], j


@pytest.mark.parametrize("sim", simulate.selected_simulators())
def test_top_layer_slice(sim, config_name, top_verilog, golden, tmp_path):
    run_slice(sim, config_name, "top", top_verilog, golden, tmp_path)


# Every build shares every block but its array kind or bus width with `top`, so `make test` (no
# FINEQ_SIM) runs them on Verilator only and Icarus on `top` (test_top_layer_slice): Icarus takes
# minutes on the wide-bus builds. `make sim` (FINEQ_SIM set) runs every build on every simulator.
VARIANT_RUNS = [(sim, v) for v in accelerators("tiny") if v != "top" for sim in simulate.selected_simulators()
                if "FINEQ_SIM" in os.environ or sim == "verilator"]


@pytest.mark.parametrize("sim,variant", VARIANT_RUNS)
def test_top_variants(sim, variant, config_name, top_verilog, golden, tmp_path):
    if variant not in accelerators(config_name):
        pytest.skip(f"{config_name} has no build {variant}")
    run_slice(sim, config_name, variant, top_verilog, golden, tmp_path, testcase="run_jobs")


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("FINEQ_FULL_LAYER"),
                    reason="full 384 x 384 layer: set FINEQ_FULL_LAYER=1 (make bench runs the layer on both simulators through verif.top_perf)")
@pytest.mark.parametrize("sim", simulate.selected_simulators())
def test_top_full_layer(sim, tmp_path):
    """The whole MiniLM layer with 8 tokens on the default preset: bit-exact, near its roofline,
    and the cycle model within 1 %."""
    from verif.top_perf import layer_jobs, measure, run_jobs_on

    cfg = accel_preset("default")
    jobs = layer_jobs("minilm", [8], cfg)
    record, = measure(jobs, run_jobs_on(sim, cfg, jobs, tmp_path), cfg, sim, "minilm")
    assert record["mismatches"] == 0
    assert abs(record["model_error"]) < 0.01, record
    assert record["roofline_efficiency"] > 0.85, record


@pytest.mark.parametrize("kind", ["fineq", "mac8x8"])
def test_cycle_model_outside_its_fit(kind, tmp_path):
    """The cycle model (fitted on other random jobs, `verif.top_perf --calibrate`) against 14
    random tiny jobs it was not fitted on, on the 32-bit builds, no pauses: cycles are the same
    on both simulators, so Verilator alone."""
    from verif.top_perf import KINDS, model_error, model_jobs, run_jobs_on

    cfg = accel_preset("tiny", kind=KINDS[kind], bus_bytes=4)
    jobs = model_jobs(np.random.default_rng(99), cfg, 14, "check")
    report = run_jobs_on("verilator", cfg, jobs, tmp_path)
    assert [j["mismatches"] for j in report["jobs"]] == [0] * len(jobs)
    errors = np.abs([model_error(job, cfg, r["cycles"])[1] for job, r in zip(jobs, report["jobs"], strict=True)])
    assert errors.mean() < 0.02 and errors.max() < 0.08, errors
