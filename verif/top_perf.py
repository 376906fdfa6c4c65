"""Cycle model of the accelerator and the full-layer measurement (build/reports/perf.json).

    python -m verif.top_perf [--sim icarus verilator] [--config default] [--tokens 8]

runs the whole 384 x 384 attention query projection of MiniLM layer 0 with real tokens through
top.v (cocotb, cocotbext-axi memory, no pauses), checks every output against quant.golden, and
compares the measured CYCLES register with :func:`model_cycles`. The model (docs/accelerator.md)
is a sum over the controller's phases; its five overhead constants were measured once on small
``tiny`` jobs (``calibrate``) and are then used unchanged for every configuration and job.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from hdl.soc.accel_config import AcceleratorConfig, accel_preset
from quant.format import unpack_clusters

__all__ = ["OVERHEAD", "model_cycles", "tile_beats", "useful_pulses", "run_jobs_on",
           "run_full_layer", "main"]

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "build" / "reports"

# Fixed overheads in cycles (see docs/accelerator.md, "Cycle model"); measured with the
# cocotbext-axi AxiRam (no pauses) by `python -m verif.top_perf --calibrate`.
OVERHEAD = {
    "job": 11,  # start, setup, DMA latency of the activation load, finish
    "block": 8,  # per block of cols channels: weight-load latency, compute start and end
    "params": 3,  # per block, requantization-word load latency (not in bypass)
    "tile": 1,  # per K tile: hand-over between tiles in the array
    "row": 11,  # per output row segment: write-burst set-up and response
}


def tile_beats(q: np.ndarray, cfg: AcceleratorConfig) -> np.ndarray:
    """Beat length P of every (N block, K tile): max(1, max |q|) over the loaded tile."""
    n, k = q.shape
    rows, cols = cfg.rows, cfg.cols
    nb, kt = math.ceil(n / cols), math.ceil(k / rows)
    pad = np.zeros((nb * cols, kt * rows), dtype=np.int64)
    pad[:n, :k] = np.abs(q)
    p = pad.reshape(nb, cols, kt, rows).max(axis=(1, 3))
    if not cfg.array.adaptive_phases:
        return np.full_like(p, cfg.array.code_length)
    return np.maximum(p, 1)


def model_terms(q: np.ndarray, m: int, cfg: AcceleratorConfig, bypass: bool) -> dict:
    """The data-dependent terms of the model, in cycles (without the fixed overheads)."""
    n, k = q.shape
    rows, cols = cfg.rows, cfg.cols
    xpr = math.ceil(k / 4)
    wpr = math.ceil(math.ceil(k / 3) / 4)
    kt = math.ceil(k / rows)
    nb = math.ceil(n / cols)
    cw = [min(cols, n - b * cols) for b in range(nb)]
    p = tile_beats(q, cfg)
    return {
        "setup": kt,  # counting the K tiles
        "load_x": 4 * m * xpr,  # one byte per cycle through the unpacker, padding included
        "load_w": sum(4 * c * wpr for c in cw),
        "load_p": 0 if bypass else sum(2 * c for c in cw),
        "compute": int(sum(cols + (m + rows + cols - 1) * p[b, t]
                           for b in range(nb) for t in range(kt))),
        "write": m * sum(cw),  # one element per cycle through the vector unit
        "counts": {"blocks": nb, "tiles": nb * kt, "rows": nb * m, "param_loads": 0 if bypass else nb},
    }


def model_cycles(q: np.ndarray, m: int, cfg: AcceleratorConfig, bypass: bool,
                 overhead: dict = OVERHEAD) -> int:
    t = model_terms(q, m, cfg, bypass)
    c = t["counts"]
    return int(t["setup"] + t["load_x"] + t["load_w"] + t["load_p"] + t["compute"] + t["write"]
               + overhead["job"] + overhead["block"] * c["blocks"]
               + overhead["params"] * c["param_loads"] + overhead["tile"] * c["tiles"]
               + overhead["row"] * c["rows"])


def useful_pulses(q: np.ndarray, m: int) -> int:
    """PE-cycles that add or subtract an activation: m * sum |q| (one pulse per unit of |q|)."""
    return int(m * np.abs(q.astype(np.int64)).sum())


def run_jobs_on(sim: str, config: str, jobs, out_dir: Path, *, pause: float = 0.0,
                testcase="run_jobs") -> dict:
    """Run ``jobs`` through top.v on ``sim``; return the testbench's results plus wall time."""
    from verif import simulate
    from verif.top_jobs import jobs_to_npz

    simulate.use_verilator()
    vdir = simulate.verilog_dir(config)  # hdl.generate writes top.v there too
    out_dir = Path(out_dir).resolve()  # the simulator runs in its own folder
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs_path = jobs_to_npz(jobs, out_dir / "jobs.npz")
    results = out_dir / f"results-{sim}.json"
    t0 = time.perf_counter()
    _, _, build_s = simulate.build(sim, config, "top", vdir=vdir)
    simulate.run(sim, config, "top", "verif.tb_top", vdir=vdir, testcase=testcase,
                 name=f"perf-{out_dir.name}", env={
                     "FINEQ_TB_JOBS": str(jobs_path), "FINEQ_TB_RESULTS": str(results),
                     "FINEQ_TB_PAUSE": str(pause)})
    report = json.loads(results.read_text())
    report["wall_s"] = time.perf_counter() - t0
    report["build_s"] = build_s
    return report


def calibrate(sim: str = "verilator", out_dir: Path = ROOT / "build" / "perf" / "calibrate"):
    """Measure the fixed overheads on small tiny jobs (least squares over varied shapes)."""
    from verif.top_jobs import random_job

    cfg = accel_preset("tiny")
    rng = np.random.default_rng(5)
    shapes = [(1, 6, 4), (2, 6, 4), (4, 12, 4), (1, 30, 4), (3, 6, 8), (2, 18, 12), (5, 7, 9),
              (8, 96, 4), (1, 6, 20), (6, 50, 10)]
    jobs = [random_job(rng, m, k, n, bypass=(i % 3 == 2), name=f"cal{i}")
            for i, (m, k, n) in enumerate(shapes)]
    report = run_jobs_on(sim, "tiny", jobs, out_dir)
    rows, target = [], []
    for job, r in zip(jobs, report["jobs"]):
        q = unpack_clusters(job.clusters, job.k)
        t = model_terms(q, job.x.shape[0], cfg, job.rq is None)
        c = t["counts"]
        rows.append([1, c["blocks"], c["param_loads"], c["tiles"], c["rows"]])
        base = t["setup"] + t["load_x"] + t["load_w"] + t["load_p"] + t["compute"] + t["write"]
        target.append(r["cycles"] - base)
    coef, *_ = np.linalg.lstsq(np.array(rows, float), np.array(target, float), rcond=None)
    fitted = dict(zip(OVERHEAD, (int(round(v)) for v in coef)))
    residual = [t - int(np.dot(rw, list(fitted.values()))) for rw, t in zip(rows, target)]
    return fitted, residual, report


def validate(sim: str = "verilator") -> list[dict]:
    """Model against measurement on real-layer jobs that played no part in the calibration."""
    from verif.top_jobs import ensure_layer_vectors, layer_job
    from verif.vectors import load_golden

    cfg = accel_preset("tiny")
    v = load_golden(ensure_layer_vectors())
    jobs = [layer_job(v, n=40, k=96, m=8), layer_job(v, n=37, k=95, m=5, bypass=True)]
    report = run_jobs_on(sim, "tiny", jobs, ROOT / "build" / "perf" / "tiny-validate")
    out = []
    for job, r in zip(jobs, report["jobs"]):
        q = unpack_clusters(job.clusters, job.k)
        m = job.x.shape[0]
        model = model_cycles(q, m, cfg, job.rq is None)
        out.append({"job": job.name, "mismatches": r["mismatches"], "cycles": r["cycles"],
                    "model_cycles": model, "ratio": r["cycles"] / model,
                    "utilization": useful_pulses(q, m) / (cfg.rows * cfg.cols * r["cycles"])})
    return out


def run_full_layer(sim: str, config: str = "default", *, tokens: int = 8,
                   out_dir: Path | None = None, write_report: bool = True) -> dict:
    """The whole default layer through top.v on ``sim``; returns (and records) the figures."""
    from verif.top_jobs import ensure_layer_vectors, layer_job
    from verif.vectors import load_golden

    cfg = accel_preset(config)
    v = load_golden(ensure_layer_vectors())
    m = min(tokens, cfg.max_m, v["x_q"].shape[0])
    job = layer_job(v, m=m)
    out_dir = Path(out_dir or ROOT / "build" / "perf" / f"{config}-full-layer")
    report = run_jobs_on(sim, config, [job], out_dir)
    r = report["jobs"][0]
    q = unpack_clusters(job.clusters, job.k)
    model = model_cycles(q, m, cfg, bypass=False)
    pulses = useful_pulses(q, m)
    capacity = cfg.rows * cfg.cols * r["cycles"]
    out = {
        "simulator": sim, "config": config, "layer": job.name,
        "m": r["m"], "k": r["k"], "n": r["n"],
        "mismatches": r["mismatches"], "outputs": r["m"] * r["n"],
        "cycles": r["cycles"], "model_cycles": model, "model_ratio": r["cycles"] / model,
        "busy_cycles": r["busy_cycles"], "stall_cycles": r["stall_cycles"],
        "utilization": pulses / capacity,
        "useful_pulse_cycles": pulses, "pe_cycles": capacity,
        "array_busy_fraction": r["busy_cycles"] / r["cycles"],
        "model_terms": model_terms(q, m, cfg, False), "overhead": OVERHEAD,
        "sim_seconds": r["wall_s"], "total_seconds": report["wall_s"],
        "build_seconds": report["build_s"],
    }
    if write_report:
        REPORTS.mkdir(parents=True, exist_ok=True)
        path = REPORTS / "perf.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        data[sim] = out
        # Top-level fields for the full layer (the contract), from the latest run.
        data.update({k: out[k] for k in ("mismatches", "cycles", "model_cycles", "utilization")})
        path.write_text(json.dumps(data, indent=2) + "\n")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verif.top_perf", description=__doc__.split("\n")[0])
    parser.add_argument("--sim", nargs="+", default=["icarus", "verilator"])
    parser.add_argument("--config", default="default")
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--calibrate", action="store_true", help="measure the fixed overheads")
    parser.add_argument("--validate", action="store_true",
                        help="model against measurement on tiny real-layer jobs")
    args = parser.parse_args(argv)
    if args.validate:
        for r in validate(args.sim[0]):
            print(r)
        return 0
    if args.calibrate:
        fitted, residual, _ = calibrate(args.sim[0])
        print("overheads:", fitted)
        print("residuals (cycles):", residual)
        return 0
    for sim in args.sim:
        r = run_full_layer(sim, args.config, tokens=args.tokens)
        print(f"{sim}: {r['layer']}: M={r['m']} K={r['k']} N={r['n']}, {r['mismatches']} mismatches "
              f"of {r['outputs']}; {r['cycles']} cycles, model {r['model_cycles']} "
              f"(ratio {r['model_ratio']:.4f}); utilization {r['utilization']:.4f}; "
              f"array busy {r['array_busy_fraction']:.3f}; simulation {r['sim_seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
