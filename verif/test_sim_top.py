"""cocotb on the whole accelerator (top.v), on every selected simulator.

- ``test_top_layer_slice``: a slice of a real layer of the default checkpoint (K not a multiple
  of the array height nor of 3, N not a multiple of its width, real tokens), INT8 and INT32
  outputs, plus a random job, under random AXI idle cycles and back-pressure; illegal register
  values and bus errors; reset in the middle of a job.
- ``test_top_full_layer`` (marker ``slow``, runs only with FINEQ_FULL_LAYER=1): the whole
  384 x 384 attention projection with 8 real tokens on the default configuration, no pauses;
  every output bit-exact, cycles within 5 % of the model; writes build/reports/perf.json.
"""

import json
import os

import numpy as np
import pytest

from hdl.soc.accel_config import accel_preset
from verif import simulate
from verif.top_jobs import (ensure_layer_vectors, jobs_to_npz, layer_job, random_job)
from verif.vectors import load_golden


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
    m = min(cfg.max_m, golden["x_q"].shape[0], 5)
    rng = np.random.default_rng(11)
    return [
        layer_job(golden, n=n, k=k, m=m),
        layer_job(golden, n=n, k=k, m=min(m, 3), bypass=True),
        random_job(rng, min(cfg.max_m, 4), min(cfg.max_k, rows + 1), cols + 2, name="random"),
    ]


@pytest.mark.parametrize("sim", simulate.selected_simulators())
def test_top_layer_slice(sim, config_name, top_verilog, golden, tmp_path):
    jobs = jobs_to_npz(slice_jobs(golden, config_name), tmp_path / "jobs.npz")
    results = tmp_path / "results.json"
    simulate.run(sim, config_name, "top", "verif.tb_top", vdir=top_verilog, env={
        "FINEQ_TB_JOBS": str(jobs), "FINEQ_TB_RESULTS": str(results),
    })
    report = json.loads(results.read_text())
    assert [j["mismatches"] for j in report["jobs"]] == [0, 0, 0]
    for j in report["jobs"]:
        assert 0 < j["busy_cycles"] < j["cycles"], j


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("FINEQ_FULL_LAYER"),
                    reason="full 384 x 384 layer: set FINEQ_FULL_LAYER=1 (make demo / make bench)")
@pytest.mark.parametrize("sim", simulate.selected_simulators())
def test_top_full_layer(sim, tmp_path):
    from verif.top_perf import run_full_layer

    report = run_full_layer(sim, "default", out_dir=tmp_path)
    assert report["mismatches"] == 0
    assert abs(report["cycles"] / report["model_cycles"] - 1) < 0.05, report
