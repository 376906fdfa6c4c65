"""Energy per token of the whole accelerator on real LLM layers: FineQ against the same
accelerator with INT8 weights (and with the INT8 x 3-bit and radix-2 arrays).

    python -m synth.token_energy [--layers gemma-down gemma-q minilm] [--tokens 1 64 256]
                                 [--kinds fineq mac8x8 mac8x3 fineq_r2] [--bus 4]
                                 [--dram 2 4 5 10 20 40] [--size 12] [--rtl-check]

Writes build/reports/token_energy.json, token_energy.md and two plots. Energy of one job =

    array   tile_loads * tile_pj + busy_cycles * busy_cycle_pj + idle_cycles * idle_cycle_pj
    vector unit   outputs * element_pj
    buffers       sum over buffers of accesses * width * SRAM pJ/bit (synth/memory.py)
    DRAM          (read + written bits) * DRAM pJ/bit (swept)

The per-event energies are *measured* (synth/gate_rates.py: gated gate-level runs of the
arrays at the accelerator's size and of the vector unit, on real data); the event counts are
*counted* from the job structure (synth/job_counts.py: the cycle model's cycles, the RTL's tile
order, the AXI words of the image, checked against a simulated top level with --rtl-check);
the SRAM and DRAM figures are *cited* (synth/memory.py). Not in any figure: the controller,
DMA, gearbox, decoder, weight path, packer and register logic of the top level (not measured
at gate level), and wires and clock tree (docs/synthesis.md section 3).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import memory
from .job_counts import JobCounts, job_counts

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "build" / "reports"
KINDS = ("fineq", "mac8x8", "mac8x3", "fineq_r2")
ARRAY_OF = {"fineq": "fineq_array", "mac8x8": "mac8x8_array", "mac8x3": "mac8x3_array",
            "fineq_r2": "fineq_r2_array"}
DRAM_FIGURES = (2.0, 4.0, 5.0, 10.0, 20.0, 40.0)
GOAL_DECODE = 2.5            # issue #11: FineQ accelerator >= 2.5x as efficient at decode
REFERENCE_DRAM = 20.0        # the bar plot's DRAM figure (DDR3, Horowitz 2014)
PARTS = ("array_busy", "array_tiles", "array_idle", "vector_unit", "sram", "dram")


def job_energy(c: JobCounts, rates, vu_element_pj: float, dram_pj_per_bit: float,
               scale: float = memory.NODE_SCALE) -> dict:
    """Energy (pJ) of one job by part; ``rates`` an ArrayRates (or anything with busy_cycle_pj,
    tile_pj and idle_cycle_pj)."""
    mem = memory.memory_energy(memory.AccessCounts(c.dram_read_bits, c.dram_write_bits, c.sram),
                               dram_pj_per_bit, scale)
    parts = {
        "array_busy": c.busy_cycles * rates.busy_cycle_pj,
        "array_tiles": c.tile_loads * rates.tile_pj,
        "array_idle": max(c.cycles - c.busy_cycles, 0) * rates.idle_cycle_pj,
        "vector_unit": c.outputs * vu_element_pj,
        "sram": mem["sram_pj"],
        "dram": mem["dram_pj"],
    }
    return {"parts_pj": parts, "total_pj": sum(parts.values()),
            "sram_by_buffer_pj": mem["sram_by_buffer_pj"], "dram_pj_per_bit": dram_pj_per_bit}


def layer_q(name: str):
    """(integer FineQ codes [N, K], the layer's job maker) of a layer of verif.top_perf.LAYERS."""
    from verif.top_jobs import ensure_layer_vectors, layer_job
    from verif.top_perf import LAYERS
    from verif.vectors import load_golden

    path, args = LAYERS[name]
    v = load_golden(ensure_layer_vectors(path, args))
    return v, (lambda m: layer_job(v, m=m, name=f"{name} M={m}"))


def counts_for(kind: str, q, m: int, group: int, size_cfg) -> JobCounts:
    from hdl.datapath.config import ArrayKind
    cfg = dataclasses.replace(size_cfg, kind=ArrayKind[kind.upper()])
    return job_counts(q, m, cfg, bypass=False, group=group)


def evaluate(layers: dict, tokens, kinds, cfg, rates: dict, vu_pj: float, figures) -> list[dict]:
    """One record per (layer, M, kind): counts, energy by part at every DRAM figure, per token."""
    out = []
    for lname, (q, group) in layers.items():
        for m in tokens:
            for kind in kinds:
                c = counts_for(kind, q, m, group, cfg)
                r = rates[ARRAY_OF[kind]]
                per_fig = {}
                for e in figures:
                    je = job_energy(c, r, vu_pj, e)
                    per_fig[str(e)] = {"total_pj_per_token": je["total_pj"] / m,
                                       "parts_pj_per_token": {k: v / m for k, v in je["parts_pj"].items()},
                                       "sram_by_buffer_pj_per_token": {k: v / m for k, v in
                                                                       je["sram_by_buffer_pj"].items()}}
                out.append({"layer": lname, "m": m, "kind": kind, "counts": c.to_dict(),
                            "energy": per_fig})
    return out


def ratios(records: list[dict], figures, baseline="mac8x8", subject="fineq") -> list[dict]:
    idx = {(r["layer"], r["m"], r["kind"]): r for r in records}
    out = []
    for (layer, m, kind), r in idx.items():
        if kind != subject or (layer, m, baseline) not in idx:
            continue
        b = idx[(layer, m, baseline)]
        out.append({"layer": layer, "m": m, "subject": subject, "baseline": baseline,
                    "efficiency": {str(e): b["energy"][str(e)]["total_pj_per_token"]
                                   / r["energy"][str(e)]["total_pj_per_token"] for e in figures}})
    return out


# ------------------------------------------------------------------------------------------------
# RTL cross-check: the counted AXI words against a simulated top level


def _traffic_key(jobs_npz: Path, top_v: Path) -> str:
    """Hash of the jobs' arrays (not the .npz bytes: zip entries carry times), the Verilog and
    the testbench."""
    h = hashlib.sha256()
    with np.load(jobs_npz, allow_pickle=False) as z:
        for name in sorted(z.files):
            h.update(name.encode() + np.ascontiguousarray(z[name]).tobytes())
    for f in (top_v, ROOT / "verif" / "tb_traffic.py"):
        h.update(Path(f).read_bytes())
    return h.hexdigest()


def rtl_traffic(cfg, jobs, out_dir: Path, sim: str = "verilator") -> list[dict]:
    """Run ``jobs`` on build ``cfg`` with verif/tb_traffic.py; its per-job AXI counts."""
    from verif import simulate
    from verif.top_jobs import jobs_to_npz
    from verif.top_perf import variant_of

    if sim == "verilator":
        simulate.use_verilator()
    top = variant_of(cfg)
    vdir = simulate.verilog_dir(cfg.name)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / f"traffic-{sim}.json"
    jobs_path = jobs_to_npz(jobs, out_dir / "jobs.npz")
    # the same jobs on the same Verilog and testbench: the counts of the last run stand
    key = _traffic_key(jobs_path, vdir / f"{top}.v")
    if results.exists() and json.loads(results.read_text()).get("key") == key:
        return json.loads(results.read_text())["jobs"]
    results.unlink(missing_ok=True)
    simulate.build(sim, cfg.name, top, vdir=vdir)
    simulate.run(sim, cfg.name, top, "verif.tb_traffic", vdir=vdir, testcase="count_traffic",
                 quiet=True, name=f"traffic-{out_dir.name}",
                 env={"FINEQ_TB_JOBS": str(jobs_path), "FINEQ_TB_RESULTS": str(results)})
    if not results.exists():
        raise RuntimeError(f"the traffic testbench wrote no results (see build/sim/{cfg.name})")
    data = json.loads(results.read_text())
    results.write_text(json.dumps({**data, "key": key}, indent=1))
    return data["jobs"]


def compare_traffic(counts: JobCounts, measured: dict) -> dict:
    """Counted against measured AXI words; every field must agree exactly."""
    rows = {
        "weights": (counts.read_words["weights"], measured["ar_beats"].get("weights", 0)),
        "activations": (counts.read_words["activations"], measured["ar_beats"].get("activations", 0)),
        "params": (counts.read_words["params"], measured["ar_beats"].get("params", 0)),
        "read_beats": (sum(counts.read_words.values()), measured["r_beats"]),
        "write_beats": (counts.write_words, measured["w_beats"]),
        "write_bytes": (counts.write_bytes, measured["w_strobe_bytes"]),
        "cycles": (counts.cycles, measured["cycles"]),
        "busy_cycles": (counts.busy_cycles, measured["busy_cycles"]),
    }
    exact = all(a == b for k, (a, b) in rows.items() if k not in ("cycles", "busy_cycles"))
    return {"fields": {k: {"counted": a, "measured": b} for k, (a, b) in rows.items()},
            "exact": exact, "cycle_error": rows["cycles"][0] / rows["cycles"][1] - 1,
            "other_reads": measured["ar_beats"].get("other", 0)}


# ------------------------------------------------------------------------------------------------
# report

COMPARISONS = (("fineq", "mac8x8"), ("fineq_r2", "mac8x8"), ("mac8x3", "mac8x8"), ("fineq", "mac8x3"))
NAMES = {"fineq": "FineQ", "mac8x8": "INT8 x INT8", "mac8x3": "INT8 x 3-bit", "fineq_r2": "FineQ radix-2"}


def _nj(pj):
    return f"{pj / 1000:,.1f}"


def verdicts(data: dict) -> list[str]:
    """One sentence per comparison and layer at decode (M = 1); for FineQ against INT8 also at
    the largest prefill (per token, prefill M = 64 and 256 differ by < 1 %: both stream the
    weights once per chunk of ``chunk_m`` tokens)."""
    figs = data["dram_figures"]
    ref = str(REFERENCE_DRAM) if REFERENCE_DRAM in figs else str(figs[-1])
    recs = {(r["layer"], r["m"], r["kind"]): r for r in data["records"]}
    out = []
    m_max = max(r["m"] for r in data["records"])
    for subj, base in COMPARISONS:
        main = (subj, base) == COMPARISONS[0]   # the headline: decode and the largest prefill
        for r in (x for x in data["ratios"] if x["subject"] == subj and x["baseline"] == base
                  and (x["m"] == 1 or (main and x["m"] == m_max))):
            eff = r["efficiency"]
            lo, hi = min(eff.values()), max(eff.values())
            s, b = recs[(r["layer"], r["m"], subj)], recs[(r["layer"], r["m"], base)]
            ps, pb = s["energy"][ref]["parts_pj_per_token"], b["energy"][ref]["parts_pj_per_token"]
            ts, tb = s["energy"][ref]["total_pj_per_token"], b["energy"][ref]["total_pj_per_token"]
            winner = NAMES[subj] if eff[ref] >= 1 else NAMES[base]
            phase = "decode" if r["m"] == 1 else f"prefill M = {r['m']}"
            goal = ""
            if subj in ("fineq", "fineq_r2") and base == "mac8x8" and r["m"] == 1:
                met = [float(e) for e, v in eff.items() if v >= GOAL_DECODE]
                goal = (f" The >= {GOAL_DECODE}x goal is {'met from ' + format(min(met), 'g') + ' pJ/bit on' if met else 'not met at any DRAM figure'}.")
            d_share_s, d_share_b = ps["dram"] / ts, pb["dram"] / tb
            out.append(
                f"**{r['layer']}, {phase}, {NAMES[subj]} against {NAMES[base]}: {winner} wins by "
                f"{max(eff[ref], 1 / eff[ref]):.2f}x at {float(ref):g} pJ/bit** ({NAMES[subj]} is "
                f"{lo:.2f}x-{hi:.2f}x as efficient over {figs[0]:g}-{figs[-1]:g} pJ/bit); DRAM is "
                f"{d_share_s:.0%} of {NAMES[subj]}'s {_nj(ts)} nJ/token and {d_share_b:.0%} of "
                f"{NAMES[base]}'s {_nj(tb)}; the arrays spend {_nj(sum(ps[k] for k in PARTS[:3]))} "
                f"against {_nj(sum(pb[k] for k in PARTS[:3]))} nJ/token, the buffers "
                f"{_nj(ps['sram'])} against {_nj(pb['sram'])}.{goal}")
    return out


def markdown(data: dict, pngs) -> str:
    figs = data["dram_figures"]
    ref = str(REFERENCE_DRAM) if REFERENCE_DRAM in figs else str(figs[-1])
    L = [(f"# Energy per token of the whole accelerator ({data['config']} preset, "
          f"{data['array']}, {8 * data['bus_bytes']}-bit bus)"), "",
         ("Energy of a layer's job divided by its tokens M: the arrays and the vector unit at gate "
         "level (measured per event, gated netlists, OSU 0.18 um), the buffers and DRAM from "
         "synth/memory.py's cited figures, every event counted from the job (synth/job_counts.py). "
         "Not included: the controller, DMA, gearbox, decoder, weight path, packer and registers "
         "(not measured at gate level), wires and clock tree."), "", "## Verdicts", ""]
    L += [f"- {v}" for v in verdicts(data)]
    L += ["", "## Measured energies per event (gated gate-level runs)", "",
          "| array | busy cycle pJ | tile load pJ | idle cycle pJ | steady pJ/MAC | workload beats |",
          "|---|---:|---:|---:|---:|---|"]
    for name, r in data["rates"].items():
        L.append(f"| `{name}` | {r['busy_cycle_pj']:.1f} | {r['tile_pj']:.1f} | {r['idle_cycle_pj']:.2f} "
                 f"| {r['steady_pj_per_mac']:.2f} | {', '.join(map(str, r['workload_beats']))} |")
    vu = data["vector_unit"]
    L += ["", (f"Vector unit (gated): {vu['element_pj']:.2f} pJ per output element ({vu['check']}, "
               f"{vu['workload']}). Source: {next(iter(data['rates'].values()))['source']}."), "",
          "## Memory model (synth/memory.py)", "",
          "| buffer | capacity B | width bits | pJ/bit | pJ/access |", "|---|---:|---:|---:|---:|"]
    for b in data["buffers"]:
        L.append(f"| {b['name']} | {b['capacity_bytes']:,} | {b['width_bits']} | {b['pj_per_bit']:.3f} "
                 f"| {b['pj_per_bit'] * b['width_bits']:.1f} |")
    L += ["", f"SRAM: {data['sram_source']}", "", "DRAM (per bit, swept): " + "; ".join(
        f"{e:g} pJ/bit" + (f" ({memory.DRAM_SOURCES[e]})" if e in memory.DRAM_SOURCES else "") for e in figs) + ".",
          "", f"## Energy per token by part (nJ/token, DRAM at {float(ref):g} pJ/bit)", "",
          "| layer | M | array | weights B/token | array busy | tile loads | array idle | vector unit | buffers | DRAM | total |",
          "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["records"]:
        p, c = r["energy"][ref]["parts_pj_per_token"], r["counts"]
        wbytes = c["read_words"]["weights"] * c["bus_bytes"] / c["m"]
        L.append(f"| {r['layer']} | {r['m']} | {NAMES[r['kind']]} | {wbytes:,.0f} | "
                 + " | ".join(_nj(p[k]) for k in PARTS) + f" | **{_nj(r['energy'][ref]['total_pj_per_token'])}** |")
    L += ["", "## Efficiency against the DRAM figure (baseline energy / subject energy per token)", "",
          "| layer | M | comparison | " + " | ".join(f"{e:g} pJ/bit" for e in figs) + " |",
          "|---|---:|---|" + "---:|" * len(figs)]
    for r in data["ratios"]:
        L.append(f"| {r['layer']} | {r['m']} | {NAMES[r['subject']]} vs {NAMES[r['baseline']]} | "
                 + " | ".join(f"{r['efficiency'][str(e)]:.2f}x" for e in figs) + " |")
    L += ["", "## Counts of the jobs (synth/job_counts.py)", "",
          "| layer | M | array | chunks | tile loads | busy cycles | cycles (model) | DRAM read B | written B | canonical weight B |",
          "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["records"]:
        c = r["counts"]
        L.append(f"| {r['layer']} | {r['m']} | {NAMES[r['kind']]} | {c['chunks']} | {c['tile_loads']:,} | "
                 f"{c['busy_cycles']:,} | {c['cycles']:,} | {c['dram_read_bits'] // 8:,} | "
                 f"{c['dram_write_bits'] // 8:,} | {c['canonical_bytes']['weights']:,} |")
    chk = data.get("rtl_check")
    if chk:
        L += ["", "## Counts against a simulated top level (verif/tb_traffic.py)", "",
              "| job | build | AXI words and strobed bytes | cycles: model / RTL |", "|---|---|---|---|"]
        for j in chk:
            L.append(f"| {j['job']} | {j['build']} | {'all equal' if j['exact'] else 'DIFFER: ' + json.dumps(j['fields'])} "
                     f"| {j['fields']['cycles']['counted']:,} / {j['fields']['cycles']['measured']:,} "
                     f"({j['cycle_error']:+.1%}) |")
    L += [""] + [f"![{p.stem}]({p.name})" for p in pngs]
    return "\n".join(L) + "\n"


def plots(data: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = data["dram_figures"]
    ref = str(REFERENCE_DRAM) if REFERENCE_DRAM in figs else str(figs[-1])
    layers = list(dict.fromkeys(r["layer"] for r in data["records"]))
    fig, axes = plt.subplots(1, len(layers), figsize=(5.5 * len(layers), 4.8), squeeze=False)
    for ax, layer in zip(axes[0], layers, strict=True):
        recs = [r for r in data["records"] if r["layer"] == layer]
        labels = [f"M={r['m']}\n{NAMES[r['kind']].replace('INT8 x ', '')}" for r in recs]
        bottom = np.zeros(len(recs))
        for i, part in enumerate(PARTS):
            vals = np.array([r["energy"][ref]["parts_pj_per_token"][part] / 1000 for r in recs])
            ax.bar(range(len(recs)), vals, bottom=bottom, label=part.replace("_", " "), color=f"C{i}")
            bottom += vals
        ax.set_xticks(range(len(recs)), labels, fontsize=6, rotation=90)
        ax.set_ylabel("nJ per token")
        ax.set_title(f"{layer} (DRAM {float(ref):g} pJ/bit)", fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    p1 = out / "token_energy_breakdown.png"
    fig.savefig(p1, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, r in enumerate(x for x in data["ratios"] if x["baseline"] == "mac8x8" and x["subject"] == "fineq"):
        ax.plot(figs, [r["efficiency"][str(e)] for e in figs], marker="o", color=f"C{i}",
                ls="-" if r["m"] == 1 else "--", label=f"{r['layer']} M={r['m']}")
    ax.axhline(GOAL_DECODE, color="grey", ls=":", label=f"decode goal {GOAL_DECODE}x")
    ax.set_xscale("log")
    ax.set_xlabel("DRAM energy, pJ/bit")
    ax.set_ylabel("INT8 accelerator energy / FineQ energy per token")
    ax.set_title("FineQ against the INT8-weight accelerator", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    p2 = out / "token_energy_ratio.png"
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    return [p1, p2]


# ------------------------------------------------------------------------------------------------
# CLI


def _check_args(args):
    from hdl.soc.accel_config import BUS_BYTES
    from verif.top_perf import LAYERS
    bad = [x for x in args.layers if x not in LAYERS]
    if bad:
        return f"unknown layer(s) {bad}; choose from {', '.join(LAYERS)}"
    if any(m < 1 for m in args.tokens):
        return f"--tokens must be positive integers, not {args.tokens}"
    if args.bus not in BUS_BYTES:
        return f"--bus must be one of {BUS_BYTES} (bytes), not {args.bus}"
    if any(e < 0 for e in args.dram):
        return f"--dram figures must be >= 0 pJ/bit, not {args.dram}"
    if "mac8x8" not in args.kinds:
        return "--kinds must include mac8x8 (the baseline every ratio is taken against)"
    return None   # a layer's golden vectors are written on demand (verif.top_jobs.ensure_layer_vectors)


def rtl_check(cfg, layers_v: dict, sim: str) -> list[dict]:
    """Slices of the real layers on the FineQ and INT8 builds: counted against measured."""
    from hdl.datapath.config import ArrayKind
    from quant.core.format import unpack_clusters
    from verif.top_jobs import layer_job

    out = []
    for kind in (ArrayKind.FINEQ, ArrayKind.MAC8X8):
        c = dataclasses.replace(cfg, kind=kind)
        jobs = []
        for lname, v in layers_v.items():
            n, k = 2 * c.cols + 1, 16 * c.rows
            # M = 1 in bypass: a per-token output scale of one token can be degenerate on a slice
            for m, bypass in ((1, True), (2, False), (c.chunk_m + 1, False)):
                j = layer_job(v, n=n, k=k, m=m, bypass=bypass,
                              name=f"{lname}[:{n}, :{k}] M={m}{' INT32' if bypass else ''}")
                if kind is ArrayKind.MAC8X8:
                    j.w8 = unpack_clusters(j.clusters, j.k).astype(np.int8)
                    j.factors, j.group = None, 0
                jobs.append(j)
        res = rtl_traffic(c, jobs, ROOT / "build" / "perf" / f"traffic-{c.name}-{kind.name.lower()}", sim)
        for j, r in zip(jobs, res, strict=True):
            q = j.w8.astype(np.int64) if j.w8 is not None else unpack_clusters(j.clusters, j.k)
            cnt = job_counts(q, j.x.shape[0], c, bypass=j.rq is None,
                             group=j.group if j.factors is not None else 0)
            out.append({"job": j.name, "build": c.variant, "mismatches": r["mismatches"],
                        **compare_traffic(cnt, r)})
    return out


def merge_into_energy_json(data: dict, path: Path) -> bool:
    """Add the per-token efficiencies to synth's energy.json (key ``per_token_accelerator``),
    when that report exists: the issue asks for one energy report."""
    if not path.exists():
        return False
    en = json.loads(path.read_text())
    en["per_token_accelerator"] = {
        "report": "token_energy.json", "config": data["config"], "array": data["array"],
        "bus_bytes": data["bus_bytes"], "netlists": "gated", "dram_figures": data["dram_figures"],
        "ratios": data["ratios"]}
    path.write_text(json.dumps(en, indent=1, default=float) + "\n")
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m synth.token_energy", description=__doc__.split("\n")[0])
    p.add_argument("--config", default="default", choices=["default"],
                   help="accelerator preset (the gate-level runs are at its array size)")
    p.add_argument("--layers", nargs="+", default=["gemma-down", "gemma-q", "minilm"])
    p.add_argument("--tokens", type=int, nargs="+", default=[1, 64, 256])
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    p.add_argument("--bus", type=int, default=4, help="AXI data width in bytes (4, 8, 16)")
    p.add_argument("--dram", type=float, nargs="+", default=list(DRAM_FIGURES), help="DRAM pJ/bit sweep")
    p.add_argument("--rtl-check", action="store_true",
                   help="also run slices of the layers on the simulated top level and compare the counts")
    p.add_argument("--sim", default="icarus", choices=["icarus", "verilator"])
    p.add_argument("--out", type=Path, default=REPORTS)
    args = p.parse_args(argv)
    err = _check_args(args)
    if err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from hdl.soc.accel_config import accel_preset
    from quant.core.format import unpack_clusters

    from . import gate_rates

    t0 = time.time()
    cfg = accel_preset(args.config, bus_bytes=args.bus)
    figures = sorted(set(args.dram))
    loaded = {}
    for lname in args.layers:   # first, so that a layer that cannot be made stops before any run
        try:
            loaded[lname] = layer_q(lname)
        except RuntimeError as e:   # `python -m quant vectors` failed, e.g. the model is not installed
            print(f"error: the golden vectors of {lname} could not be written: {e}", file=sys.stderr)
            return 2
    rates = gate_rates.array_rates([ARRAY_OF[k] for k in args.kinds], cfg.array, cfg.rows)
    layers, layers_v, vu = {}, {}, None
    for lname, (v, make) in loaded.items():
        job = make(2)
        q = unpack_clusters(job.clusters, job.k)
        layers[lname], layers_v[lname] = (q, job.group if job.factors is not None else 0), v
        if vu is None:
            from quant.core import golden
            acc = (golden.int_gemm(job.x, q) if job.factors is None
                   else golden.int_gemm_grouped(job.x, q, job.factors, job.group))
            vu = gate_rates.vector_unit_rate(cfg.array, acc, job.rq, f"{lname}, 2 tokens")
    records = evaluate(layers, args.tokens, args.kinds, cfg, rates, vu["element_pj"], figures)
    rat = [x for s, b in COMPARISONS if s in args.kinds and b in args.kinds
           for x in ratios(records, figures, baseline=b, subject=s)]
    sample = records[0]["counts"]["sram"]
    data = {"config": args.config, "array": f"{cfg.rows} x {cfg.cols}", "bus_bytes": args.bus,
            "dram_figures": figures, "goal_decode": GOAL_DECODE,
            "rates": {k: r.to_dict() for k, r in rates.items()}, "vector_unit": vu,
            "buffers": [{**s, "pj_per_bit": memory.sram_pj_per_bit(s["capacity_bytes"])} for s in sample],
            "sram_source": ("Horowitz, ISSCC 2014 (45 nm, 0.9 V: 64-bit read 10 pJ from 8 KB, 20 pJ "
                            "from 32 KB, 100 pJ from 1 MB), log-log in capacity (extrapolated below "
                            f"8 KB), write = read, x{memory.NODE_SCALE:g} to 0.18 um / 1.8 V by C V^2 "
                            "(an assumption)"),
            "method": __doc__, "records": records, "ratios": rat}
    if args.rtl_check:
        data["rtl_check"] = rtl_check(cfg, layers_v, args.sim)
    args.out.mkdir(parents=True, exist_ok=True)
    pngs = plots(data, args.out)
    (args.out / "token_energy.json").write_text(json.dumps(data, indent=1, default=float) + "\n")
    (args.out / "token_energy.md").write_text(markdown(data, pngs))
    merge_into_energy_json(data, args.out / "energy.json")
    for v in verdicts(data):
        print(v.replace("**", ""))
    print(f"token_energy: wrote {args.out / 'token_energy.json'} and token_energy.md ({time.time() - t0:.0f} s)")
    bad = [c for c in data.get("rtl_check", []) if not c["exact"] or c["mismatches"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
