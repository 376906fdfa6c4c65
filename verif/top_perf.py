"""Whole real layers through the accelerator: cycles, roofline efficiency, the cycle model
(build/reports/perf.json and perf.md with a plot).

    python -m verif.top_perf [--sim verilator icarus] [--config default] [--tokens 1 8 64 256]
                             [--buses 4 16] [--kinds fineq mac8x8] [--layers minilm]

For every layer, array kind and bus width it runs the layer with each token count through the
generated top level (cocotb, cocotbext-axi memory, no pauses), checks every output against
quant.core.golden, and records the CYCLES register, the cycle model (hdl.sw.cycle_model) and the
roofline: ideal = max(compute bound sum_t M * P_t, bytes moved / bus bytes per cycle), with the
bytes of every operand counted once. ``--calibrate`` fits the model's latencies on small tiny
jobs; ``--validate`` measures it on jobs outside the fit.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from hdl.datapath.config import ArrayKind
from hdl.generate import accelerators
from hdl.soc.accel_config import ACCEL_PRESETS, AcceleratorConfig, accel_preset
from hdl.sw.cycle_model import LATENCY, ideal_cycles, latency_dict, model_cycles, useful_pulses
from quant.core import cli_policy, paths
from quant.core import markdown as md
from quant.core.format import unpack_clusters

__all__ = ["run_jobs_on", "measure", "main", "LAYERS"]

KINDS = {"fineq": ArrayKind.FINEQ, "mac8x8": ArrayKind.MAC8X8, "mac8x3": ArrayKind.MAC8X3}
# Layers by short name: golden-vector file and the `python -m quant vectors` arguments.
LAYERS = {
    "minilm": ("minilm-layer0-query-full-m256.npz",
               ["--tokens", "256"]),
    # Gemma-3-270M layer 0 (weights: the Q4_K_M GGUF dequantized, then fineq-v2 with groups of
    # 96; per-token activations of real text): the MLP's down-projection (K = 2048) and the
    # attention's query projection
    "gemma-down": ("gemma-l0-down_proj-v2-m256.npz",
                   ["--model", "gemma3-270m", "--layer", "model.layers.0.mlp.down_proj",
                    "--tokens", "256", "--method", "fineq-v2-emin-g96"]),
    "gemma-q": ("gemma-l0-q_proj-v2-m256.npz",
                ["--model", "gemma3-270m", "--layer", "model.layers.0.self_attn.q_proj",
                 "--tokens", "256", "--method", "fineq-v2-emin-g96"]),
}


def variant_of(cfg: AcceleratorConfig) -> str:
    builds = accelerators(cfg.name)
    for stem, c in builds.items():
        if c == cfg:
            return stem
    raise ValueError(f"{cfg.name} has no build with {cfg.kind.name} and a {8 * cfg.bus_bytes}-bit "
                     f"bus; builds: {', '.join(builds)}")


def run_jobs_on(sim: str, cfg: AcceleratorConfig, jobs, out_dir: Path, *, pause: float = 0.0,
                testcase="run_jobs", reuse: bool = False) -> dict:
    """Run ``jobs`` through the build ``cfg`` on ``sim``; the testbench's results plus times.
    With ``reuse``, an earlier run's results in ``out_dir`` stand if it ran the same jobs on the
    same Verilog (and no pauses)."""
    from verif import simulate
    from verif.top_jobs import jobs_to_npz

    simulate.use_verilator()
    top = variant_of(cfg)
    vdir = simulate.verilog_dir(cfg.name)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / f"results-{sim}.json"
    earlier = out_dir / "jobs.npz"
    earlier = _npz_arrays(earlier) if reuse and not pause and results.exists() and earlier.exists() else None
    jobs_path = jobs_to_npz(jobs, out_dir / "jobs.npz")
    if earlier is not None and _same_arrays(earlier, _npz_arrays(jobs_path)) \
            and results.stat().st_mtime > (vdir / f"{top}.v").stat().st_mtime:
        print(f"top_perf: reusing {results}", flush=True)
        return json.loads(results.read_text())
    results.unlink(missing_ok=True)
    t0 = time.perf_counter()
    _, _, build_s = simulate.build(sim, cfg.name, top, vdir=vdir)
    simulate.run(sim, cfg.name, top, "verif.tb_top", vdir=vdir, testcase=testcase, quiet=True,
                 name=f"perf-{out_dir.name}", env={
                     "FINEQ_TB_JOBS": str(jobs_path), "FINEQ_TB_RESULTS": str(results),
                     "FINEQ_TB_PAUSE": str(pause)})
    if not results.exists():
        log = paths.build_dir("sim", cfg.name, sim, top, "runs", f"perf-{out_dir.name}", "sim.log").absolute()
        raise RuntimeError(f"the testbench failed before writing its results; see {log}")
    report = json.loads(results.read_text())
    report["wall_s"] = time.perf_counter() - t0
    report["build_s"] = build_s
    return report


def _npz_arrays(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _same_arrays(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def job_weights(job, cfg):
    """Decoded integer weights [N, K] of a job as the build runs it."""
    if cfg.kind is ArrayKind.MAC8X8 and job.w8 is not None:
        return job.w8.astype(np.int64)
    return unpack_clusters(job.clusters, job.k)


def measure(jobs, results, cfg: AcceleratorConfig, sim: str, layer: str) -> list[dict]:
    """One record per job: measured and modelled cycles, the roofline, utilization."""
    out = []
    for job, r in zip(jobs, results["jobs"], strict=True):
        q = job_weights(job, cfg)
        m = job.x.shape[0]
        bypass = job.rq is None
        group = job.group if job.factors is not None and cfg.group_scales else 0
        roof = ideal_cycles(q, m, cfg, bypass, group)
        model = model_cycles(q, m, cfg, bypass, group)
        out.append({
            "layer": layer, "kind": cfg.kind.name.lower(), "bus_bits": 8 * cfg.bus_bytes,
            "simulator": sim, "m": m, "k": job.k, "n": q.shape[0], "bypass": bypass,
            "mismatches": r["mismatches"], "outputs": m * q.shape[0],
            "cycles": r["cycles"], "model_cycles": model, "model_error": model / r["cycles"] - 1,
            "ideal_cycles": roof["ideal"], "compute_bound": roof["compute"],
            "bandwidth_bound": roof["bandwidth"], "bound": roof["bound"],
            "roofline_efficiency": roof["ideal"] / r["cycles"],
            "dataflow_cycles": roof["dataflow"], "dataflow_efficiency": roof["dataflow"] / r["cycles"],
            "busy_cycles": r["busy_cycles"], "stall_cycles": r["stall_cycles"],
            "utilization": useful_pulses(q, m) / (cfg.rows * cfg.cols * r["cycles"]),
            "sim_seconds": r["wall_s"],
        })
    return out


def layer_jobs(layer: str, tokens, cfg: AcceleratorConfig):
    from verif.top_jobs import ensure_layer_vectors, layer_job
    from verif.vectors import load_golden

    path, args = LAYERS[layer]
    v = load_golden(ensure_layer_vectors(path, args))
    avail = v["x_q"].shape[0]
    jobs = []
    for m in tokens:
        if m > avail:
            raise ValueError(f"{layer} vectors hold {avail} tokens, {m} asked")
        job = layer_job(v, m=m, name=f"{layer} M={m}")
        if cfg.kind is ArrayKind.MAC8X8:
            # the INT8 twin runs the same integers as INT8 weights: its cycles do not depend on
            # the values (every beat is one cycle), and the results stay checkable
            job.w8 = unpack_clusters(job.clusters, job.k).astype(np.int8)
            job.factors, job.group = None, 0  # INT8 weights carry their own per-row scale
        jobs.append(job)
    return jobs


def run_sweep(sim, config, layers, tokens, buses, kinds, reuse=False) -> list[dict]:
    records = []
    for layer in layers:
        for kind in kinds:
            for bus in buses:
                cfg = accel_preset(config, kind=KINDS[kind], bus_bytes=bus)
                jobs = layer_jobs(layer, tokens, cfg)
                out_dir = paths.build_dir("perf", f"{config}-{layer}-{kind}-b{8 * bus}").absolute()
                print(f"top_perf: {layer} on {variant_of(cfg)} ({sim}), M = "
                      f"{', '.join(map(str, tokens))} ...", flush=True)
                rep = run_jobs_on(sim, cfg, jobs, out_dir, reuse=reuse)
                for rec in measure(jobs, rep, cfg, sim, layer):
                    records.append(rec)
                    print(f"  M={rec['m']:4d}: {rec['cycles']:9,d} cycles, ideal "
                          f"{rec['ideal_cycles']:9,d} ({rec['bound']}), efficiency "
                          f"{rec['roofline_efficiency']:.3f}, model {rec['model_error']:+.2%}, "
                          f"{rec['mismatches']} mismatches", flush=True)
    return records


def write_reports(records: list[dict], config: str) -> dict:
    reports = paths.build_dir("reports")
    reports.mkdir(parents=True, exist_ok=True)
    data = {"config": config, "latency": latency_dict(LATENCY), "jobs": records,
            "mismatches": sum(r["mismatches"] for r in records)}
    (reports / "perf.json").write_text(json.dumps(data, indent=2) + "\n")
    png = plot(records, reports / "perf_roofline.png")
    (reports / "perf.md").write_text(markdown(records, config, png))
    return data


def verdict(records: list[dict]) -> str:
    worst = min(records, key=lambda r: r["roofline_efficiency"])
    ok = all(r["roofline_efficiency"] >= 0.85 for r in records)
    err = max(abs(r["model_error"]) for r in records)
    return (f"{'Every' if ok else 'Not every'} job reaches 85 % of its roofline: the lowest is "
            f"{worst['roofline_efficiency']:.1%} ({worst['layer']}, {worst['kind']}, "
            f"{worst['bus_bits']}-bit bus, M = {worst['m']}, {worst['bound']}-bound), and against "
            f"the bound of this dataflow (weights read once per chunk of tokens) the lowest is "
            f"{min(r['dataflow_efficiency'] for r in records):.1%}; the cycle "
            f"model is within {err:.1%} of every measurement; "
            f"{sum(r['mismatches'] for r in records)} mismatches in "
            f"{sum(r['outputs'] for r in records):,} outputs.")


def markdown(records: list[dict], config: str, png) -> str:
    headers = ["layer", "array", "bus", "M", "cycles", "ideal", "bound", "efficiency", "dataflow eff.", "model",
               "model error", "utilization", "mismatches"]
    rows = [[r["layer"], r["kind"], r["bus_bits"], r["m"], f"{r['cycles']:,}", f"{r['ideal_cycles']:,}", r["bound"],
             f"{r['roofline_efficiency']:.3f}", f"{r['dataflow_efficiency']:.3f}", f"{r['model_cycles']:,}",
             f"{r['model_error']:+.2%}",
             f"{r['utilization']:.3f}", r["mismatches"]] for r in records]
    lines = [f"# Accelerator performance ({config} preset)", "", verdict(records), "",
             md.table(headers, rows), "", *md.legend(LEGEND)]
    speedups = speedup_rows(records)
    if speedups:
        lines += ["", "## FineQ against the INT8-weight twin (same preset, same bus)", "",
                  md.table(["layer", "bus", "M", "FineQ cycles", "INT8 cycles", "speed-up"], speedups), "",
                  *md.legend({"speed-up": ("INT8-twin cycles / FineQ cycles on the same layer, bus and M", "higher")})]
    if png:
        lines += ["", f"![efficiency and cycles against M]({png.name})"]
    return "\n".join(lines) + "\n"


LEGEND = {
    "bus": ("AXI data width in bits", None),
    "M": ("tokens (activation rows) in the job", None),
    "cycles": ("measured CYCLES register, START to DONE, cocotbext-axi memory without pauses", "lower"),
    "ideal": ("roofline cycles: max(the compute bound, sum over tiles of M * P; the bandwidth bound, bytes of "
              "every operand once / bus bytes per cycle)", None),
    "bound": ("which bound sets the ideal: compute or bandwidth", None),
    "efficiency": ("ideal / cycles; 1 is the roofline", "higher"),
    "dataflow eff.": ("the same bound with the weights and parameters read once per chunk of tokens, as this "
                      "design does, / cycles", "higher"),
    "model": ("cycles predicted by hdl.sw.cycle_model", None),
    "model error": ("model / cycles - 1", "closer to 0"),
    "utilization": ("PE-cycles that add or multiply a real product / all PE-cycles", "higher"),
    "mismatches": ("outputs that differ from quant.core.golden", "must be 0: anything else is a bug."),
}


def speedup_rows(records) -> list[list]:
    index = {(r["layer"], r["kind"], r["bus_bits"], r["m"]): r for r in records}
    out = []
    for (layer, kind, bus, m), r in index.items():
        twin = index.get((layer, "mac8x8", bus, m))
        if kind == "fineq" and twin:
            out.append([layer, bus, m, f"{r['cycles']:,}", f"{twin['cycles']:,}",
                        f"{twin['cycles'] / r['cycles']:.2f}x"])
    return out


def plot(records, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = sorted({(r["layer"], r["kind"], r["bus_bits"]) for r in records})
    for i, key in enumerate(series):
        rs = sorted((r for r in records if (r["layer"], r["kind"], r["bus_bits"]) == key),
                    key=lambda r: r["m"])
        label = f"{key[0]} {key[1]} {key[2]}-bit"
        style = "-" if key[1] == "fineq" else "--"
        ms = [r["m"] for r in rs]
        ax1.plot(ms, [r["roofline_efficiency"] for r in rs], style, marker="o", color=f"C{i}", label=label)
        ax2.plot(ms, [r["cycles"] for r in rs], style, marker="o", color=f"C{i}", label=label)
    ax1.axhline(0.85, color="grey", ls=":", label="goal 0.85")
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("tokens M")
        ax.grid(alpha=0.3)
    ax1.set_ylabel("roofline efficiency (ideal / measured)")
    ax1.set_ylim(0, 1.05)
    ax2.set_yscale("log")
    ax2.set_ylabel("cycles (measured)")
    ax1.legend(fontsize=7, loc="lower right")
    fig.suptitle("Accelerator: efficiency and cycles against tokens (solid FineQ, dashed INT8 twin)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# The tiny builds the cycle model is fitted and checked on, and how many random jobs each runs.
MODEL_BUILDS = [("fineq", 4), ("fineq", 16), ("mac8x8", 4), ("mac8x8", 16)]
MODEL_JOBS = 14


def model_jobs(rng: np.random.Generator, cfg: AcceleratorConfig, count: int, tag: str):
    """Random job shapes around the tiny preset's limits: one to three chunks of tokens, one to
    four K tiles and blocks, partial tiles, INT8 and INT32 outputs, fineq-v1 and fineq-v2."""
    from verif.top_jobs import random_job

    jobs = []
    for i in range(count):
        m = int(rng.integers(1, 3 * cfg.chunk_m + 1))
        k = int(rng.integers(1, 4 * cfg.rows + 1))
        n = int(rng.integers(1, 4 * cfg.cols + 1))
        bypass = bool(rng.random() < 0.3)
        group = 0
        if cfg.group_scales and not bypass and rng.random() < 0.4:
            group = int(rng.choice([g for g in (6, 12, 24) if g % cfg.rows == 0 and g % 3 == 0]))
            k = max(k, group + 1)
        job = random_job(rng, m, k, n, bypass=bypass, group=group, name=f"{tag}{i} {m}x{k}x{n}")
        if cfg.kind is ArrayKind.MAC8X8:
            job.w8 = unpack_clusters(job.clusters, job.k).astype(np.int8)
            job.factors, job.group = None, 0
        jobs.append(job)
    return jobs


def measured_model_jobs(sim: str, fit: bool) -> list:
    """(job, build, measured cycles) of the fit (or check) jobs: one simulation per build."""
    rows = []
    for b, (kind, bus) in enumerate(MODEL_BUILDS):
        cfg = accel_preset("tiny", kind=KINDS[kind], bus_bytes=bus)
        rng = np.random.default_rng((17 if fit else 23) * 100 + b)
        jobs = model_jobs(rng, cfg, MODEL_JOBS, "fit" if fit else "check")
        out = paths.build_dir("perf", f"model-{'fit' if fit else 'check'}-{kind}-b{8 * bus}").absolute()
        rep = run_jobs_on(sim, cfg, jobs, out)
        bad = sum(r["mismatches"] for r in rep["jobs"])
        if bad:
            raise RuntimeError(f"{bad} mismatching results on {cfg.variant}: see {out}")
        rows += [(job, cfg, r["cycles"]) for job, r in zip(jobs, rep["jobs"], strict=True)]
    return rows


def model_error(job, cfg, cycles, lat=LATENCY) -> tuple[int, float]:
    q = job_weights(job, cfg)
    g = job.group if job.factors is not None and cfg.group_scales else 0
    model = model_cycles(q, job.x.shape[0], cfg, job.rq is None, g, lat)
    return model, model / cycles - 1


def model_check(sim: str, *, fit: bool) -> int:
    """Run the fit (or check) jobs on the tiny builds and compare them with the model; with
    ``fit``, search the latencies that minimise the largest relative error."""
    rows = measured_model_jobs(sim, fit)
    lat = _fit(rows) if fit else LATENCY
    errors = []
    for job, cfg, cycles in rows:
        model, err = model_error(job, cfg, cycles, lat)
        errors.append(err)
        print(f"{cfg.variant:16s} {job.name:22s} {'INT32' if job.rq is None else 'INT8 '} group "
              f"{job.group:2d}: measured {cycles:6d}, model {model:6d} ({err:+.2%})")
    errors = np.abs(errors)
    print(f"{'fit' if fit else 'check'} jobs: {len(rows)}; model error: mean {errors.mean():.2%}, "
          f"largest {errors.max():.2%}" + (f"; fitted latencies {latency_dict(lat)}" if fit else ""))
    return 0


def _fit(rows):
    """Coordinate search over the latencies (small integers): least mean error, then least
    largest error."""
    from dataclasses import replace

    def cost(lat):
        errs = np.abs([model_error(job, cfg, cycles, lat)[1] for job, cfg, cycles in rows])
        return errs.mean(), errs.max()

    lat, best = LATENCY, cost(LATENCY)
    for _ in range(3):
        for name in latency_dict(lat):
            for value in range(0, 2 * getattr(LATENCY, name) + 12):
                trial = replace(lat, **{name: value})
                c = cost(trial)
                if c < best:
                    lat, best = trial, c
    return lat


def _record_key(r: dict) -> tuple:
    return r["layer"], r["kind"], r["bus_bits"], r["m"], r["simulator"]


def paper_layer() -> tuple[np.ndarray, int]:
    """A LLaMA-2-7B-shaped MLP down-projection (N = 4096, K = 11008) for the cycle model alone:
    Gemma-3-270M's fineq-v2 down_proj weights tiled to that shape, so its tiles have the beat
    lengths of real FineQ weights."""
    from verif.top_jobs import ensure_layer_vectors
    from verif.vectors import load_golden

    v = load_golden(ensure_layer_vectors(*LAYERS["gemma-down"]))
    return np.tile(v["q"], (-(-4096 // v["q"].shape[0]), -(-11008 // v["q"].shape[1])))[:4096, :11008], 96


def paper_sweep(tokens, buses, kinds) -> int:
    """The ``large`` preset on the LLaMA-2-7B-sized layer through the cycle model (no simulation:
    a 4096 x 11008 layer would take hours in cocotb): cycles, roofline, dataflow bound."""
    q, group = paper_layer()
    records = []
    for kind in kinds:
        for bus in buses:
            cfg = accel_preset("large", kind=KINDS[kind], bus_bytes=bus)
            g = group if cfg.group_scales else 0
            for m in tokens:
                roof = ideal_cycles(q, m, cfg, False, g)
                cycles = model_cycles(q, m, cfg, False, g)
                records.append({"layer": "llama2-7b-down (model)", "kind": kind, "bus_bits": 8 * bus, "m": m,
                                "model_cycles": cycles, "ideal_cycles": roof["ideal"], "bound": roof["bound"],
                                "model_efficiency": roof["ideal"] / cycles,
                                "dataflow_efficiency": roof["dataflow"] / cycles})
                print(f"  {kind} {8 * bus}-bit M={m}: {cycles:,} model cycles, ideal {roof['ideal']:,} "
                      f"({roof['bound']}), efficiency {roof['ideal'] / cycles:.3f}", flush=True)
    reports = paths.build_dir("reports")
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "perf_paper.json").write_text(json.dumps({"config": "large", "jobs": records}, indent=2) + "\n")
    lines = ["# LLaMA-2-7B-sized layer on the large preset (cycle model only)", "",
             paper_verdict(records), "",
             "- `model cycles`: hdl.sw.cycle_model (fitted on tiny jobs, within 0.2 % of whole simulated "
             "layers on the default preset); lower is better.",
             "- `efficiency` = roofline / model cycles; `dataflow eff.` against the bound with weights "
             "read once per chunk of tokens; higher is better.", "",
             "| array | bus | M | model cycles | ideal | bound | efficiency | dataflow eff. |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['kind']} | {r['bus_bits']} | {r['m']} | {r['model_cycles']:,} | {r['ideal_cycles']:,} "
              f"| {r['bound']} | {r['model_efficiency']:.3f} | {r['dataflow_efficiency']:.3f} |" for r in records]
    (reports / "perf_paper.md").write_text("\n".join(lines) + "\n")
    print(f"top_perf: wrote {reports / 'perf_paper.md'}")
    return 0


def paper_verdict(records) -> str:
    index = {(r["kind"], r["bus_bits"], r["m"]): r["model_cycles"] for r in records}
    parts = [f"{index[('mac8x8', b, m)] / c:.2f}x at M = {m} on the {b}-bit bus"
             for (k, b, m), c in index.items() if k == "fineq" and ("mac8x8", b, m) in index]
    if not parts:
        return "Only one array kind was modelled."
    return ("FineQ's speed-up over the INT8 twin (INT8 cycles / FineQ cycles; above 1: FineQ faster): "
            + "; ".join(parts) + ". Decode is bandwidth-bound, where FineQ's smaller weights win; prefill "
            "on the wide bus is compute-bound, where FineQ's beat of up to 4 cycles per vector loses to "
            "the MAC's single cycle.")


def main(argv=None) -> int:
    parser = cli_policy.parser("python -m verif.top_perf", __doc__)
    parser.add_argument("--sim", nargs="+", default=["verilator"], choices=["verilator", "icarus"],
                        help="simulators (default: verilator)")
    parser.add_argument("--config", default="default", choices=sorted(ACCEL_PRESETS), help="preset (default: default)")
    parser.add_argument("--tokens", type=int, nargs="+", default=[1, 8, 64, 256], help="token counts M per layer")
    parser.add_argument("--buses", type=int, nargs="+", default=[4, 16], choices=[4, 8, 16],
                        help="AXI data width in bytes (default: 4 16)")
    parser.add_argument("--kinds", nargs="+", default=["fineq", "mac8x8"], choices=list(KINDS),
                        help="array kinds (default: fineq and its INT8 twin mac8x8)")
    parser.add_argument("--layers", nargs="+", default=list(LAYERS), choices=list(LAYERS),
                        help="real layers (default: all; golden vectors made on first use)")
    parser.add_argument("--calibrate", action="store_true",
                        help="fit the cycle model's latencies on small tiny jobs")
    parser.add_argument("--validate", action="store_true",
                        help="the cycle model against tiny jobs outside the fit")
    parser.add_argument("--reuse", action="store_true",
                        help="keep an earlier run's results where it ran the same jobs on the same Verilog")
    parser.add_argument("--append", action="store_true",
                        help="add these runs to build/reports/perf.json (same preset) instead of replacing it")
    parser.add_argument("--paper", action="store_true",
                        help="the large preset on a LLaMA-2-7B-sized layer, through the cycle model only")
    args = parser.parse_args(argv)
    return cli_policy.run(lambda: sweep(args))


def sweep(args) -> int:
    cli_policy.output_path(paths.build_dir("reports"), folder=True, what="the report folder")
    if args.paper:
        return paper_sweep(args.tokens, args.buses, args.kinds)
    if args.calibrate or args.validate:
        return model_check(args.sim[0], fit=args.calibrate)
    for kind in args.kinds:  # every build exists, before any simulation
        for bus in args.buses:
            variant_of(accel_preset(args.config, kind=KINDS[kind], bus_bytes=bus))
    records = [r for sim in args.sim
               for r in run_sweep(sim, args.config, args.layers, args.tokens, args.buses, args.kinds, args.reuse)]
    report = paths.build_dir("reports", "perf.json")
    if args.append and report.exists():
        new = {_record_key(r) for r in records}
        earlier = json.loads(report.read_text())
        if earlier["config"] == args.config:
            records = [r for r in earlier["jobs"] if _record_key(r) not in new] + records
    data = write_reports(records, args.config)
    print(verdict(records))
    print(f"top_perf: wrote {paths.build_dir('reports', 'perf.json')} and {paths.build_dir('reports', 'perf.md')}")
    return 0 if data["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
