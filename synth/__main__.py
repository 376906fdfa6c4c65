"""python -m synth --config NAME: area, timing and energy of the FineQ array against MAC arrays.

Writes build/reports/area.json, build/reports/energy.json and build/reports/synth.md (with plots);
intermediate files go to build/synth/<config>/. Results are cached per design and flow by a
fingerprint of the Verilog, so a second run only redoes what changed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import clockgate, executor, flows, liberty, report, run, tech
from . import designs as D
from . import energy as E
from . import workload as W

ROOT = Path(__file__).resolve().parent.parent

# Which weights each array multiplies in the energy run: (label, workload weights). The first is
# the design's own entry; the others are controls reported under "<design>[<label>]".
ENERGY_WEIGHTS = {
    "fineq_array": [("fineq", "fineq")],
    "mac8x3_array": [("fineq", "fineq")],
    "fineq_r2_array": [("fineq", "fineq")],
    "mac8x8_array": [("int8", "int8"), ("fineq codes", "fineq")],
}


ENERGY_RATIOS = [("energy_per_mac_pj", "efficiency"), ("energy_per_cycle_pj", "reduction"),
                 ("energy_per_mac_without_clocking_pj", "efficiency"), ("macs_per_cycle", "gain"),
                 ("steady_energy_per_mac_pj", "efficiency"), ("steady_macs_per_cycle", "gain")]
E_VARIANTS = ("ungated", "gated")


VARIANTS = {"ungated": "asic", "gated": "asic_cg"}   # energy variant -> standard-cell result folder


@dataclass
class EnergyCase:
    """One gate-level energy run's fixed inputs: a design's netlist and how to check it."""
    key: str            # report key, e.g. "mac8x8_array[fineq codes]"
    variant: str        # "ungated" or "gated"
    weights: str        # workload weights: "fineq" or "int8"
    design: D.Design
    src: flows.Source
    ports: list
    wbits: int
    asic_res: dict
    workdir: Path
    label: str = ""


def energy_once(c: EnergyCase, config, wl, tiles: int, nvec: int, sub: str, library, cells_v, *key_extra):
    """One gate-level simulation of ``c`` on ``tiles`` x ``nvec`` of the workload (cached)."""
    run.log(f"energy{c.label}: {c.key} ({c.variant}): {tiles} tiles x {nvec} vectors of "
            f"{wl.layer}, {c.weights} weights, gate-level simulation")
    ar = W.array_run(wl, config.rows, config.cols, c.wbits, c.weights, tiles, nvec,
                     config.act_width, config.acc_width)
    fp = D.fingerprint(c.src, run.FLOW_VERSION, "energy", c.variant, c.weights, tiles, nvec,
                       wl.source, E.CLOCK_MHZ, E.NOMINAL_SLEW_NS, E.SEQ_DELAY_NS, E.SEQ_MODELS, *key_extra)

    def simulate_and_check():
        sim = E.simulate(Path(c.asic_res["netlist_v"]), cells_v, c.src.top, c.ports, ar.words,
                         ar.expect, c.workdir / sub, clock=c.design.clock, reset=c.design.reset)
        ok, msg = ar.check(sim["outputs"])
        if not ok:
            raise E.EnergyError(f"{c.key} ({c.variant}): gate-level outputs are wrong: {msg}")
        est = E.estimate(Path(c.asic_res["netlist_json"]), c.src.top, library, sim["toggles"],
                         sim["cycles"], clock=c.design.clock)
        est["check"] = msg
        return est
    return ar, run.cached(c.workdir / sub, fp, simulate_and_check)


def weight_statistics(name: str, weights: str, wl, ar, config) -> dict:
    """Beat length and pulses per weight of a temporal array, and the share of zero weights."""
    from hdl.datapath.config import ArrayKind
    kind = ArrayKind(name) if name in {k.value for k in ArrayKind} else None
    out = {}
    q = wl.weights(weights)
    tiles_q = [q[n0:n0 + config.cols, k0:k0 + config.rows] for n0, k0, _ in ar.tiles]
    if kind is not None and kind.temporal:   # beat length and pulses per tile (docs/hdl.md)
        out["beat_cycles_per_tile"] = [config.beat_length(kind, int(abs(t).max())) for t in tiles_q]
        out["pulses_per_weight"] = float(sum(
            sum(kind.pulses(int(abs(v))) for v in t.reshape(-1)) for t in tiles_q)) / sum(t.size for t in tiles_q)
    if weights == "fineq" or kind is not None:
        out["zero_weight_share"] = float(sum((t == 0).mean() for t in tiles_q) / len(tiles_q))
    return out


def energy_case(c: EnergyCase, config, wl, tiles, vectors, steady, library, cells_v) -> dict:
    """The estimate of one case: the short run, the steady-state run, the derived figures."""
    pre = "energy" if c.variant == "ungated" else "energy_cg"
    t0 = time.time()
    ar, est = energy_once(c, config, wl, tiles, vectors, f"{pre}_{c.weights}", library, cells_v)
    long_run = None
    if steady and steady[0] > vectors:
        n, wl_long = steady
        long_run = energy_once(c, config, wl_long, tiles, n, f"{pre}_{c.weights}_v{n}", library, cells_v,
                               wl_long.x_q.shape[0])
    est = {**est, **weight_statistics(c.design.name, c.weights, wl, ar, config)}
    if long_run:
        ar2, est2 = long_run
        est.update(run.steady_state(ar.macs, est, ar2.macs, est2))
        est["steady_vectors_per_tile"] = steady[0]
    est.update({
        "weights": c.weights, "macs": ar.macs, "tiles": tiles, "vectors_per_tile": vectors,
        "energy_per_mac_pj": est["energy_pj"] / ar.macs,
        "macs_per_cycle": ar.macs / est["cycles"],
        "energy_per_cycle_pj": est["energy_pj"] / est["cycles"],
        "tile_origins": [list(map(int, t)) for t in ar.tiles],
    })
    run.log(f"energy{c.label}: {c.key} ({c.variant}): {est['energy_per_mac_pj']:.3f} pJ/MAC, "
            f"{est['cycles']} cycles, {est['check']}"
            + (f"; steady state {est['steady_energy_per_mac_pj']:.3f} pJ/MAC" if long_run else "")
            + f" ({time.time() - t0:.0f} s)")
    return est


def energy_cases(names, config, verilog_dir, work, area_entries, label, controls):
    """Every (design, variant, weights) energy case whose netlist exists."""
    for name in names:
        d = next(x for x in D.DESIGNS if x.name == name)
        entry = area_entries.get(name, {})
        if "unavailable" in entry or "area_um2" not in entry:
            continue
        wd = work / name
        src = d.source(config, verilog_dir, wd / "rtl")
        ports = flows.ports_of(src, wd / "ports")
        wport = next(w for n, dr, w in ports if n == "w__payload")
        wbits = (wport - config.rows - config.cols) // config.rows   # {data, rows mask, cols mask}
        runs = ENERGY_WEIGHTS.get(name, [])[: None if controls else 1]
        for variant, sub_dir in VARIANTS.items():
            res_file = wd / sub_dir / "result.json"
            if not res_file.exists():
                continue
            asic_res = json.loads(res_file.read_text())["result"]
            for i, (tag, weights) in enumerate(runs):
                key = name if i == 0 else f"{name}[{tag}]"
                yield EnergyCase(key, variant, weights, d, src, ports, wbits, asic_res, wd, label)


def energy_runs(names, config, verilog_dir, work, liberty_path, cells_v, wl, tiles, vectors,
                area_entries, label="", steady=None, controls=True):
    """Gate-level energy of each array on the workload, on its netlist without clock gating
    (``ungated``) and with it (``gated``): ``{"ungated": {key: estimate}, "gated": {...}}``. With
    ``steady`` = (n, workload), n > ``vectors``, each array runs again with n vectors per tile, and
    the difference between the two runs gives the steady-state energy per MAC: weight loading and
    the pipeline's fill and drain cancel out. ``controls``: also the control runs (the INT8 array
    fed FineQ codes). The simulations run here, on the client, one after another."""
    library = liberty.load(liberty_path)
    out = {v: {} for v in VARIANTS}
    for c in energy_cases(names, config, verilog_dir, work, area_entries, label, controls):
        try:
            out[c.variant][c.key] = energy_case(c, config, wl, tiles, vectors, steady, library, cells_v)
        except (E.EnergyError, ValueError) as e:
            run.log(f"energy: {c.key} ({c.variant}) failed: {e}")
            out[c.variant][c.key] = {"error": str(e)}
    return out


SWEEP_ENERGY = ("energy_per_mac_pj", "macs_per_cycle", "steady_energy_per_mac_pj", "steady_macs_per_cycle",
                "beat_cycles_per_tile", "pulses_per_weight", "steady_breakdown_pj_per_mac",
                "steady_registers_pj_per_mac")


def _sweep_row(n, name, e, en):
    return {"rows": n, "cols": n, "design": name,
            **{k: e.get(k) for k in ("area_um2", "gated_area_um2", "cells", "transistors", "ice40_luts",
                                     "fmax_mhz", "asic_fmax_mhz", "peak_macs_per_cycle")},
            **{v: {k: (en.get(v) or {}).get(name, {}).get(k) for k in SWEEP_ENERGY} for v in VARIANTS}}


def per_token_estimate(designs: dict, config, wl) -> dict:
    """Array-level energy per token of the workload's layer (decode M = 1, prefill M = 64 and 256):
    steady-state pJ/MAC of each FineQ array and of the INT8 x INT8 array plus the memory model of
    synth/memory.py over its DRAM sweep. An estimate, not the whole accelerator (see there)."""
    from . import memory
    base = designs.get("mac8x8_array", {})
    if wl is None or "steady_energy_per_mac_pj" not in base:
        return {}
    n, k = wl.q.shape
    out = {"layer": wl.layer, "shape": [n, k], "sram_node_scale": memory.NODE_SCALE,
           "method": "synth/memory.py (array_layer_estimate)", "rows": {}}
    for name in ("fineq_array", "fineq_r2_array"):
        e = designs.get(name, {})
        if "steady_energy_per_mac_pj" in e:
            out["rows"][f"{name}_vs_mac8x8_array"] = memory.array_layer_estimate(
                e["steady_energy_per_mac_pj"], base["steady_energy_per_mac_pj"], n, k, (1, 64, 256),
                config.rows, config.cols)
    return out


def annotate_energy(energy: dict, area_entries: dict, library) -> None:
    """Add the clocking share of every estimate of ``{variant: {key: estimate}}``: the registers'
    internal energy (clock pin, D and Q transitions), the clock gates' and the clock nets'
    switching energy (the root clock into every flip-flop or clock gate, the gated clocks)."""
    for variant in energy.values():
        for e in variant.values():
            if "error" in e:
                continue
            b = e.get("breakdown_pj", {})
            ff_int = b.get("registers", 0.0) + b.get("clock_gates", 0.0)
            clk_net = b.get("clock_nets", 0.0)
            e["flip_flop_internal_pj"] = ff_int
            e["clock_net_pj"] = clk_net
            e["flip_flop_and_clock_share"] = (ff_int + clk_net) / e["energy_pj"] if e["energy_pj"] else None
            if e.get("macs"):
                e["energy_per_mac_without_clocking_pj"] = (e["energy_pj"] - ff_int - clk_net) / e["macs"]


class UsageError(ValueError):
    """Bad input: ``error: ...`` and exit code 2."""


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m synth", description=__doc__.split("\n")[0])
    p.add_argument("--config", default="default", help="hdl preset: tiny, default or large")
    p.add_argument("--size", type=int, help="measure an n x n array of the preset instead of its own size "
                   "(Verilog generated under build/synth/sweep/NxN/verilog)")
    p.add_argument("--designs", help="comma-separated subset of: " + ", ".join(d.name for d in D.DESIGNS))
    p.add_argument("--no-fpga", action="store_true", help="skip the iCE40 flows")
    p.add_argument("--fpga-cached-only", action="store_true",
                   help="report iCE40 results of earlier runs but run no new iCE40 flow")
    p.add_argument("--no-pnr", action="store_true", help="iCE40 synthesis only, no nextpnr (no Fmax)")
    p.add_argument("--no-blocks", action="store_true", help="do not run the hierarchical area-by-block runs "
                   "(breakdowns already cached are still reported)")
    p.add_argument("--no-energy", action="store_true", help="skip the gate-level energy runs")
    p.add_argument("--sweep", default="4,8,12",
                   help="array sizes n (n x n) for the sweep, comma-separated; empty to skip")
    p.add_argument("--sweep-fpga", default="", help="sweep sizes that also get the iCE40 flows, comma-separated (slow)")
    p.add_argument("--merge-sweep", type=Path, action="append", default=[],
                   help="add the sweep rows of another run's area.json (e.g. one made with --sweep-only --out DIR)")
    p.add_argument("--sweep-only", action="store_true", help="run only the sweep (to fill its cache)")
    p.add_argument("--tiles", type=int, default=4, help="weight tiles in the energy workload")
    p.add_argument("--vectors", type=int, default=32, help="activation vectors per tile")
    p.add_argument("--steady-vectors", type=int, default=128,
                   help="a second energy run per array with this many vectors per tile; the difference "
                        "gives steady-state pJ/MAC (0: skip)")
    p.add_argument("--vectors-file", type=Path, help="golden vectors .npz from `python -m quant vectors`")
    p.add_argument("--layer", default=W.DEFAULT_LAYER, help="checkpoint layer for the workload")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "reports")
    p.add_argument("--work", type=Path, default=ROOT / "build" / "synth",
                   help="intermediate files and the cache (default build/synth)")
    executor.add_arguments(p, default_jobs=2)
    return p.parse_args(argv)


def _ints(text: str, option: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{option} takes comma-separated integers, not {text!r}") from None


@dataclass
class Settings:
    """The checked command line: what to measure and where."""
    config: object          # the configuration measured (the preset, or its --size variant)
    preset: object          # the preset itself (the vector unit and the top exist only at its size)
    designs: list
    sizes: list
    fpga_sizes: set
    verilog_dir: Path
    work: Path


def settings(args) -> Settings:
    from hdl.datapath.config import preset
    try:
        config = preset(args.config)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    try:
        designs = D.by_name(args.designs.split(",") if args.designs else None)
    except ValueError as e:
        raise UsageError(str(e)) from None
    sizes = _ints(args.sweep, "--sweep")
    fpga_sizes = set() if args.fpga_cached_only or args.no_fpga else set(_ints(args.sweep_fpga, "--sweep-fpga"))
    if args.steady_vectors and args.steady_vectors <= args.vectors:
        raise UsageError(f"--steady-vectors ({args.steady_vectors}) must be more than --vectors "
                         f"({args.vectors}), or 0 to skip the steady-state runs")
    if args.vectors_file is not None and not args.vectors_file.is_file():
        raise UsageError(f"--vectors-file {args.vectors_file} does not exist (make one with "
                         "`python -m quant vectors --out FILE.npz`)")
    st = Settings(config, config, designs, sizes, fpga_sizes, ROOT / "build" / "verilog" / config.name,
                  args.work / config.name)
    if args.size:
        n = args.size
        st.config = dataclasses.replace(config, name=f"{config.name}_{n}x{n}", rows=n, cols=n)
        st.work = args.work / "sweep" / f"{n}x{n}"
        st.verilog_dir = st.work / "verilog"
    return st


def workloads(args, st: Settings):
    """The energy workload (short runs) and its long version (steady-state runs), or (None, None).
    Built first: a bad layer or vectors file must not wait for an hour of synthesis."""
    if args.no_energy or not (any(d.name in ENERGY_WEIGHTS for d in st.designs) or st.sizes):
        return None, None
    run.log(f"workload: {args.layer} ({'vectors file' if args.vectors_file else 'from the checkpoint'})")
    need = max(args.vectors, args.steady_vectors)
    try:
        wl_long = W.build(args.layer, tokens=max(need, 64), vectors=args.vectors_file)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        src = f"--vectors-file {args.vectors_file}" if args.vectors_file else f"layer {args.layer}"
        raise UsageError(f"cannot read the workload from {src}: {e}") from None
    if wl_long.x_q.shape[0] < need:
        raise UsageError(f"the workload has {wl_long.x_q.shape[0]} activation vectors; --vectors/"
                         f"--steady-vectors ask for {need}: use fewer")
    # the short runs see the first max(vectors, 64) tokens, as they always have (cached results)
    return dataclasses.replace(wl_long, x_q=wl_long.x_q[:max(args.vectors, 64)]), wl_long


def sweep_config(config, n):
    return dataclasses.replace(config, name=f"{config.name}_{n}x{n}", rows=n, cols=n)


def requests(args, st: Settings):
    """(label, design, config, verilog_dir, work, fpga, hier) of every design to measure: the main
    run's, then the sweep's (a sweep size equal to the configuration's own reuses the main run)."""
    fpga = "cached" if args.fpga_cached_only else not args.no_fpga
    out = []
    for d in ([] if args.sweep_only else st.designs):
        cfg, vdir, wd = (st.preset, ROOT / "build" / "verilog" / st.preset.name, args.work / st.preset.name) \
            if d.preset_only else (st.config, st.verilog_dir, st.work)
        out.append(("main", d, cfg, vdir, wd, fpga, not args.no_blocks))
    main_names = {d.name for d in st.designs} if not args.sweep_only else set()
    for n in st.sizes:
        if n == st.config.rows == st.config.cols and set(D.SWEEP_DESIGNS) <= main_names:
            continue
        wd = args.work / "sweep" / f"{n}x{n}"
        for name in D.SWEEP_DESIGNS:
            out.append((n, D.by_name([name])[0], sweep_config(st.config, n), wd / "verilog", wd,
                        True if n in st.fpga_sizes else "cached", False))
    return out


def measure(args, st: Settings, lib_path: Path, ex) -> tuple[dict, dict]:
    """Every flow of the main run and the sweep, in one batch on the executor: the area entries of
    the main run, and of each sweep size ``{n: {design: entry}}``."""
    reqs = requests(args, st)
    run.log(f"{len(reqs)} designs on {ex.kind}")
    plans = [run.plan(d, cfg, vdir, wd, lib_path, fpga=fpga, pnr=not args.no_pnr, hier=hier)
             for _, d, cfg, vdir, wd, fpga, hier in reqs]
    results = run.run_plans(plans, lib_path, ex)
    entries, sweep_entries = {}, {}
    for (label, d, cfg, *_), m in zip(reqs, results, strict=True):
        if label == "main" and d.preset_only and "unavailable" not in m:
            m["title"] += f" (preset {cfg.name}: {cfg.rows} x {cfg.cols})"
        e = run.summarize(d.name, m, st.config if label == "main" else cfg, d)
        (entries if label == "main" else sweep_entries.setdefault(label, {}))[d.name] = e
        if label == "main":
            log_entry(d.name, e)
    return entries, sweep_entries


def log_entry(name, e):
    if "unavailable" in e:
        run.log(f"{name}: skipped ({e['unavailable'].splitlines()[0]})")
    else:
        run.log(f"{name}: {e.get('area_um2', 0):.0f} um2, {e.get('cells')} cells, "
                f"{e.get('transistors')} transistors, {e.get('ice40_luts')} LUTs, "
                + (f"Fmax {e['fmax_mhz']:.1f} MHz" if e.get("fmax_mhz") else "no Fmax"))


def main_energy(args, st, entries, lib_path, cells_v, library, wl, wl_long) -> dict:
    if args.no_energy:
        return {}
    names = [d.name for d in st.designs if d.name in ENERGY_WEIGHTS and d.name in entries]
    energy = energy_runs(names, st.config, st.verilog_dir, st.work, lib_path, cells_v, wl, args.tiles,
                         args.vectors, entries, steady=(args.steady_vectors, wl_long))
    annotate_energy(energy, entries, library)
    for name, e in energy.get("ungated", {}).items():
        a = entries.get(name)
        if a and "error" not in e and a.get("area_um2"):
            a["measured_macs_per_cycle"] = e["macs_per_cycle"]
            a["measured_macs_per_cycle_per_mm2"] = e["macs_per_cycle"] / (a["area_um2"] * 1e-6)
    return energy


def sweep_rows(args, st, entries, energy, sweep_entries, lib_path, cells_v, library, wl, wl_long) -> list:
    rows = []
    for n in st.sizes:
        if n not in sweep_entries:
            run.log(f"sweep {n}x{n}: the configuration's own size, results of the main run")
            rows += [_sweep_row(n, name, entries[name], energy) for name in D.SWEEP_DESIGNS if name in entries]
            continue
        cfg, wd = sweep_config(st.config, n), args.work / "sweep" / f"{n}x{n}"
        en = {} if args.no_energy else energy_runs(
            D.SWEEP_DESIGNS, cfg, wd / "verilog", wd, lib_path, cells_v, wl, args.tiles, args.vectors,
            sweep_entries[n], label=f" sweep {n}x{n}", steady=(args.steady_vectors, wl_long), controls=False)
        annotate_energy(en, sweep_entries[n], library)
        rows += [_sweep_row(n, name, e, en) for name, e in sweep_entries[n].items()]
    for extra in args.merge_sweep:
        other = json.loads(Path(extra).read_text()).get("sweep", [])
        have = {(r["rows"], r["design"]) for r in rows}
        rows += [r for r in other if (r["rows"], r["design"]) not in have]
    c = st.config
    if rows and c.rows == c.cols and not any(r["rows"] == c.rows for r in rows):
        rows += [_sweep_row(c.rows, n, entries[n], energy) for n in D.SWEEP_DESIGNS
                 if "area_um2" in entries.get(n, {})]
    return sorted(rows, key=lambda r: (r["rows"], r["design"]))


def meta(st, lib_path, library, build, ex, t_start) -> dict:
    return {
        "config": json.loads(st.config.to_json()),
        "machine": run.machine(),
        "executor": ex.kind,
        "liberty": {"file": str(lib_path), "library": library.name,
                    "package": (tech.tech_dir(build) / "PACKAGE").read_text().strip()
                    if (tech.tech_dir(build) / "PACKAGE").exists() else None,
                    "operating_point": library.operating_point(),
                    "nand2_area_um2": library.nand2_area},
        "flows": {
            "generic": "yosys synth -flatten; dfflegalize to $_DFF_P_; abc -g cmos; stat -tech cmos",
            "asic": f"yosys synth -flatten; dfflibmap; abc -liberty -constr (driver {flows.DRIVING_CELL}, "
                    f"load {flows.OUTPUT_LOAD_PF} pF); area = sum of liberty cell areas",
            "ice40": "yosys synth_ice40 (DSP off; -dsp separately on UP5K); nextpnr-ice40 on a wrapper "
                     "with every input and output registered",
        },
        "seconds": round(time.time() - t_start, 1),
    }


def write_reports(args, st, head, entries, energy, rows, wl, wl_long) -> None:
    area = {**head, "designs": entries, "ratios": run.ratios(entries, run.AREA_METRICS), "sweep": rows}
    en = {**head, "workload": {"layer": wl.layer, "source": wl.source, "tiles": args.tiles,
                               "vectors_per_tile": args.vectors} if wl else None,
          "method": "docs/synthesis.md#energy",
          "clock_gating": {"min_width": clockgate.MIN_WIDTH, "icg": "INVX1 + LATCH + AND2X2",
                           "rule": "every register bank of at least min_width flip-flops that share an "
                                   "enable gets one clock gate (synth/clockgate.py), in every design"}}
    for variant in E_VARIANTS:
        designs_v = energy.get(variant, {})
        en[variant] = {"designs": designs_v,
                       "ratios": run.ratios({k: v for k, v in designs_v.items() if "error" not in v},
                                            ENERGY_RATIOS)}
        run.add_fetch_break_even(en[variant]["ratios"], designs_v)
        en[variant]["per_token_array_estimate"] = per_token_estimate(designs_v, st.config, wl_long)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "area.json").write_text(json.dumps(area, indent=1, default=float) + "\n")
    (args.out / "energy.json").write_text(json.dumps(en, indent=1, default=float) + "\n")
    report.write(area, en, args.out)


def main(argv=None) -> int:
    args = parse_args(argv)
    build = ROOT / "build"
    try:
        st = settings(args)
        lib_path, cells_v = tech.fetch(build)
        wl, wl_long = workloads(args, st)
        ex = executor.from_args(args)
    except (UsageError, tech.TechError, executor.ExecutorError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    library = liberty.load(lib_path)
    t_start = time.time()
    with ex:
        entries, sweep_entries = measure(args, st, lib_path, ex)
        head = meta(st, lib_path, library, build, ex, t_start)
    energy = main_energy(args, st, entries, lib_path, cells_v, library, wl, wl_long)
    rows = sweep_rows(args, st, entries, energy, sweep_entries, lib_path, cells_v, library, wl, wl_long)
    head["seconds"] = round(time.time() - t_start, 1)
    write_reports(args, st, head, entries, energy, rows, wl, wl_long)
    run.log(f"wrote {args.out / 'area.json'}, {args.out / 'energy.json'}, {args.out / 'synth.md'} "
            f"({time.time() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
