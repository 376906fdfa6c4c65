"""Orchestration: run every flow on every design (cached by a fingerprint of the Verilog), the
array-size sweep, and the energy runs; write build/reports/{area,energy}.json and synth.md."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path

from . import clockgate, flow_task, flows
from . import designs as D
from .executor import Executor

FLOW_VERSION = 5   # bump when a flow's script changes, so cached results are redone


def log(msg):
    print(f"synth [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def peek(workdir: Path, keys):
    """The cached result in ``workdir`` if its key is one of ``keys``, else None."""
    f = workdir / "result.json"
    if f.exists():
        try:
            data = json.loads(f.read_text())
            if data.get("key") in keys:
                return data["result"]
        except (json.JSONDecodeError, KeyError):
            pass
    return None


def store(workdir: Path, key: str, result) -> None:
    """File ``result`` under ``key``: written whole to a temporary name, then renamed, so that an
    interrupted run never leaves a truncated result.json behind."""
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = workdir / "result.json.tmp"
    tmp.write_text(json.dumps({"key": key, "result": result}, indent=1))
    tmp.replace(workdir / "result.json")


def cached(workdir: Path, key: str, fn, alt_keys=()):
    """``fn()``, unless ``workdir`` holds a result under ``key`` (or an older alias of it)."""
    hit = peek(workdir, (key, *alt_keys))
    if hit is not None:
        return hit
    res = fn()
    store(workdir, key, res)
    return res


@dataclass
class Job:
    """One flow of one design: where its result is filed, under which key, and how to run it."""
    design: str
    flow: str
    workdir: Path
    key: str
    alt_keys: tuple
    src: flows.Source
    params: dict


@dataclass
class Plan:
    """What :func:`measure` does for one design: the jobs to run and the results already known."""
    out: dict
    jobs: list = dc_field(default_factory=list)
    known: dict = dc_field(default_factory=dict)


def plan(design: D.Design, config, verilog_dir: Path, work: Path, liberty: Path,
         fpga=True, pnr=True, hier=True, gating=True) -> Plan:
    """The flows of one design: cached results are read here, the rest become jobs."""
    wd = work / design.name
    try:
        src = design.source(config, verilog_dir, wd / "rtl")
    except D.DesignUnavailable as e:
        return Plan({"unavailable": str(e)})
    src.sram_macros = design.sram_macros
    key = D.fingerprint(src, FLOW_VERSION, Path(liberty).name, False)
    alt = (D.fingerprint(src, FLOW_VERSION, Path(liberty).name, True),)   # keys of earlier runs
    p = Plan({"title": design.title, "top": src.top, "sources": [str(f) for f in src.files]})

    def job(flow, sub, k, alts, run_it=True, **params):
        hit = peek(wd / sub, (k, *alts))
        if hit is not None:
            p.known[flow] = hit
        elif run_it:
            p.jobs.append(Job(design.name, flow, wd / sub, k, alts, src, params))

    job("generic", "generic", key, alt)
    job("asic", "asic", key, alt)
    if gating:      # the same standard-cell flow with clock gating (synth/clockgate.py)
        cg = clockgate.MIN_WIDTH
        job("asic_cg", "asic_cg", key + f"cg{cg}v{clockgate.VERSION}", (), min_width=cg, clock=design.clock)
    if design.group in ("array", "top"):    # without hier: a breakdown made earlier, not redone
        job("blocks", "asic_hier", key, alt, run_it=hier)
    if fpga:        # "cached": report iCE40 results made earlier, run nothing new
        alt_p = tuple(a + f"{pnr}" for a in alt)
        for flow, sub in (("ice40", "ice40_nodsp"), ("ice40_dsp", "ice40_dsp")):
            job(flow, sub, key + f"{pnr}", alt_p, run_it=fpga is True, pnr=pnr, clock=design.clock)
    return p


def run_plans(plans: list[Plan], liberty: Path, ex: Executor) -> list[dict]:
    """Run the jobs of every plan on ``ex``; file each result (here, on the client) as it comes
    back; one dict of results per plan."""
    jobs = [(i, j) for i, p in enumerate(plans) for j in p.jobs]
    ship = ex.remote
    args = []
    for _, j in jobs:
        texts = flow_task.pack(j.src.files, liberty) if ship else None
        args.append((j.flow, [str(f) for f in j.src.files], j.src.top, j.src.sram_macros, str(liberty),
                     j.params, str(j.workdir), ship, texts))
    results = [dict(p.known) for p in plans]
    for n, answer, err in ex.map(flow_task.run_flow, args):
        i, j = jobs[n]
        if err is not None:         # one failing flow must not hide the rest
            results[i][j.flow] = {"error": f"{type(err).__name__}: {err}"}
            log(f"{j.design}: {j.flow} failed: {err}")
            continue
        res = flow_task.unpack(answer, j.workdir)
        store(j.workdir, j.key, res)
        results[i][j.flow] = res
        log(f"{j.design}: {j.flow} done")
    return [{**p.out, **r} if "unavailable" not in p.out else p.out for p, r in zip(plans, results, strict=True)]


def measure_all(requests: list[tuple], liberty: Path, ex: Executor, **kw) -> list[dict]:
    """:func:`plan` for every (design, config, verilog_dir, work) and one :func:`run_plans`."""
    return run_plans([plan(d, c, v, w, liberty, **kw) for d, c, v, w in requests], liberty, ex)


def measure(design: D.Design, config, verilog_dir: Path, work: Path, liberty: Path,
            fpga=True, pnr=True, jobs=1, hier=True, gating=True) -> dict:
    """All area/timing flows on one design; a dict of results (or an 'unavailable' note)."""
    with Executor(jobs=jobs) as ex:
        return measure_all([(design, config, verilog_dir, work)], liberty, ex, fpga=fpga, pnr=pnr,
                           hier=hier, gating=gating)[0]


def summarize(name, m, config, design: D.Design) -> dict:
    """The flat fields of one design's area entry."""
    if "unavailable" in m:
        return {"unavailable": m["unavailable"]}
    g, a = m.get("generic", {}), m.get("asic", {})
    i, idsp = m.get("ice40", {}), m.get("ice40_dsp", {})
    e = {
        "title": m["title"],
        "top": m["top"],
        "area_um2": a.get("area_um2"),
        "area_nand2": a.get("area_nand2"),
        "sequential_area_um2": a.get("sequential_area_um2"),
        "cells": a.get("cells"),
        "transistors": g.get("transistors"),
        "generic_gates": g.get("gates"),
        "flip_flops": g.get("flip_flops"),
        "leakage_nw": a.get("leakage_nw"),
        "asic_comb_delay_ns": a.get("comb_delay_ns"),
        "asic_fmax_mhz": a.get("asic_fmax_mhz"),
        "ice40_luts": i.get("luts"),
        "ice40_carries": i.get("carries"),
        "ice40_ffs": i.get("flip_flops"),
        "ice40_brams": i.get("brams"),
        "fmax_mhz": i.get("fmax_mhz"),
        "fmax_device": i.get("device"),
        "fmax_note": i.get("fmax_note"),
        "ice40_dsp": {k: idsp.get(k) for k in ("luts", "carries", "flip_flops", "dsps", "fmax_mhz", "device", "fmax_note")} if idsp else None,
        "blocks": (m.get("blocks") or {}).get("blocks"),
        "sram_macros": a.get("sram_macros") or None,
        "sram_bits": sum(x["bits"] for x in a.get("sram_macros") or []) or None,
        "cells_by_type": a.get("cells_by_type"),
        "generic_gates_by_type": g.get("gates_by_type"),
    }
    cg = m.get("asic_cg") or {}
    if cg.get("area_um2"):
        e["gated_area_um2"] = cg["area_um2"]
        e["gated"] = {k: cg.get(k) for k in ("area_um2", "area_nand2", "sequential_area_um2", "cells",
                                             "leakage_nw", "comb_delay_ns", "asic_fmax_mhz",
                                             "clock_gating", "area_fixes_um2", "cells_by_type")}
    errs = {k: v["error"] for k, v in m.items() if isinstance(v, dict) and "error" in v}
    if errs:
        e["errors"] = errs
    if design.peak_macs and config is not None:
        pm = design.peak_macs(config)
        e["peak_macs_per_cycle"] = pm
        if e["area_um2"]:
            e["peak_macs_per_cycle_per_mm2"] = pm / (e["area_um2"] * 1e-6)
    return {k: v for k, v in e.items() if v is not None}


def ratios(entries: dict, metric_pairs) -> dict:
    out = {}
    for a, b in D.COMPARISONS:
        ea, eb = entries.get(a, {}), entries.get(b, {})
        if not ea or not eb or "unavailable" in ea or "unavailable" in eb:
            continue
        r = {}
        for key, kind in metric_pairs:
            va, vb = ea.get(key), eb.get(key)
            if va is None or vb is None or not vb:
                continue
            if kind == "reduction":
                r[f"{key}_reduction"] = 1 - va / vb
                r[f"{key}_ratio"] = va / vb
            elif kind == "gain":           # higher is better for a (e.g. throughput/area)
                r[f"{key}_ratio"] = va / vb
            elif kind == "efficiency":     # energy: how many times less a spends
                r[f"{key}_efficiency"] = vb / va
        if r:
            out[f"{a}_vs_{b}"] = r
    return out


AREA_METRICS = [("area_um2", "reduction"), ("gated_area_um2", "reduction"), ("cells", "reduction"), ("transistors", "reduction"),
                ("ice40_luts", "reduction"), ("fmax_mhz", "gain"), ("asic_fmax_mhz", "gain"),
                ("peak_macs_per_cycle_per_mm2", "gain"), ("measured_macs_per_cycle_per_mm2", "gain")]


def steady_state(macs: int, est: dict, macs_long: int, est_long: dict) -> dict:
    """Energy and cycles of one more MAC while the array streams, from two runs of the same tiles
    that differ only in vectors per tile: the fixed costs (weight loading, fill, drain) cancel."""
    dm, dc = macs_long - macs, est_long["cycles"] - est["cycles"]
    if dm <= 0 or dc <= 0:
        raise ValueError(f"the long run must have more MACs and cycles ({macs_long} vs {macs}, "
                         f"{est_long['cycles']} vs {est['cycles']} cycles)")
    per_mac = {}
    for field in ("breakdown_pj", "registers_pj", "named_nets_pj"):
        a, b = est.get(field) or {}, est_long.get(field) or {}
        if a or b:
            per_mac[field.replace("_pj", "_pj_per_mac")] = {
                k: (b.get(k, 0.0) - a.get(k, 0.0)) / dm for k in sorted(set(a) | set(b), key=lambda k: -b.get(k, 0.0))}
    return {"steady_energy_per_mac_pj": (est_long["energy_pj"] - est["energy_pj"]) / dm,
            "steady_macs_per_cycle": dm / dc,
            **{f"steady_{k}": v for k, v in per_mac.items()},
            "steady_run": {"macs": macs_long, "cycles": est_long["cycles"], "energy_pj": est_long["energy_pj"],
                           "check": est_long.get("check")}}


# The FineQ paper's headline (arXiv 2504.19746): "up to 1.79x energy efficiency" for the accelerator.
PAPER_EFFICIENCY = 1.79
# Weight bits an array's weights cost to fetch: FineQ codes travel as one cluster byte per three
# weights (the 3-bit MAC array is fed the same bytes); INT8 weights are a byte each.
FETCH_BITS = {"fineq": 8 / 3, "int8": 8.0}
# Energy comparisons and the goals issue #8 sets for them (FineQ's efficiency over the baseline).
GOALS = {"mac8x8_array": 1.79, "mac8x3_array": 1.0}


def add_fetch_break_even(ratios: dict, energy: dict, target: float = PAPER_EFFICIENCY) -> None:
    """The array measurement leaves out fetching weights. With E pJ per fetched weight bit and one
    fetch per MAC (no reuse: decoding one token), efficiency becomes (e_b + b_b E) / (e_f + b_f E).
    Record the E at which that reaches ``target`` (None: unreachable, as the limit b_b / b_f is
    below it) and that limit. With reuse over M tokens the E needed is M times larger. The
    steady-state pJ/MAC is used when both designs have it (fill and drain are not fetch-related)."""
    for key, r in ratios.items():
        a, b = key.split("_vs_")
        ea, eb = energy.get(a), energy.get(b)
        if not ea or not eb or "error" in ea or "error" in eb:
            continue
        fa, fb = FETCH_BITS[ea["weights"]], FETCH_BITS[eb["weights"]]
        field = "steady_energy_per_mac_pj" if "steady_energy_per_mac_pj" in ea and \
            "steady_energy_per_mac_pj" in eb else "energy_per_mac_pj"
        pa, pb = ea[field], eb[field]
        den, num = fb - target * fa, target * pa - pb
        r["fetch_bits_per_weight"] = [fa, fb]
        r["fetch_efficiency_limit"] = fb / fa
        r["fetch_break_even_target"] = target
        r["fetch_break_even_basis"] = "steady-state" if field.startswith("steady") else "whole-run"
        r["fetch_break_even_pj_per_bit"] = None if den <= 0 else max(num / den, 0.0)


def machine() -> dict:
    def ver(cmd):
        try:
            r = subprocess.run(cmd, check=False, capture_output=True, text=True)
            return (r.stdout.strip() or r.stderr.strip()).splitlines()[0]
        except (OSError, IndexError):
            return None
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    import os
    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "python": sys.version.split()[0],
            "yosys": ver(["yosys", "-V"]), "nextpnr": ver(["nextpnr-ice40", "--version"]),
            "iverilog": ver(["iverilog", "-V"])}
