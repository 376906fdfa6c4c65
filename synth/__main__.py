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
from pathlib import Path

from . import designs as D
from . import energy as E
from . import clockgate, flows, liberty, report, run, tech
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


def load_config(name):
    try:
        from hdl.datapath.config import preset
    except ImportError as e:
        raise SystemExit(f"error: hdl.datapath.config is not available ({e})")
    try:
        return preset(name)
    except (TypeError, ValueError) as e:
        raise SystemExit(f"error: {e}")


VARIANTS = {"ungated": "asic", "gated": "asic_cg"}   # energy variant -> standard-cell result folder


def energy_runs(names, config, verilog_dir, work, liberty_path, cells_v, wl, tiles, vectors,
                area_entries, label="", steady=None, controls=True):
    """Gate-level energy of each array on the workload, on its netlist without clock gating
    (``ungated``) and with it (``gated``): ``{"ungated": {key: estimate}, "gated": {...}}``. With
    ``steady`` = (n, workload), n > ``vectors``, each array runs again with n vectors per tile, and
    the difference between the two runs gives the steady-state energy per MAC: weight loading and
    the pipeline's fill and drain cancel out. ``controls``: also the control runs (the INT8 array
    fed FineQ codes)."""
    library = liberty.load(liberty_path)
    from hdl.datapath.config import ArrayKind
    out = {v: {} for v in VARIANTS}
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
        kind = ArrayKind(name) if name in {k.value for k in ArrayKind} else None
        runs = ENERGY_WEIGHTS.get(name, [])[: None if controls else 1]
        for variant, sub_dir in VARIANTS.items():
            res_file = wd / sub_dir / "result.json"
            if not res_file.exists():
                continue
            asic_res = json.loads(res_file.read_text())["result"]
            pre = "energy" if variant == "ungated" else "energy_cg"
            for i, (tag, weights) in enumerate(runs):
                key = name if i == 0 else f"{name}[{tag}]"

                def one_run(wl, nvec, sub, *key_extra):
                    run.log(f"energy{label}: {key} ({variant}): {tiles} tiles x {nvec} vectors of "
                            f"{wl.layer}, {weights} weights, gate-level simulation")
                    ar = W.array_run(wl, config.rows, config.cols, wbits, weights, tiles, nvec,
                                     config.act_width, config.acc_width)
                    fp = D.fingerprint(src, run.FLOW_VERSION, "energy", variant, weights, tiles, nvec,
                                       wl.source, E.CLOCK_MHZ, E.NOMINAL_SLEW_NS, E.SEQ_DELAY_NS, E.SEQ_MODELS,
                                       *key_extra)

                    def go():
                        sim = E.simulate(Path(asic_res["netlist_v"]), cells_v, src.top, ports, ar.words,
                                         ar.expect, wd / sub, clock=d.clock, reset=d.reset)
                        ok, msg = ar.check(sim["outputs"])
                        if not ok:
                            raise E.EnergyError(f"{key} ({variant}): gate-level outputs are wrong: {msg}")
                        est = E.estimate(Path(asic_res["netlist_json"]), src.top, library, sim["toggles"],
                                         sim["cycles"], clock=d.clock)
                        est["check"] = msg
                        return est
                    return ar, run._cached(wd / sub, fp, go)

                t0 = time.time()
                try:
                    ar, est = one_run(wl, vectors, f"{pre}_{weights}")
                    long_run = None
                    if steady and steady[0] > vectors:
                        n, wl_long = steady
                        long_run = one_run(wl_long, n, f"{pre}_{weights}_v{n}", wl_long.x_q.shape[0])
                except (E.EnergyError, ValueError) as e:
                    run.log(f"energy: {key} ({variant}) failed: {e}")
                    out[variant][key] = {"error": str(e)}
                    continue
                est = dict(est)
                if kind is not None and kind.temporal:   # beat length and pulses per tile (docs/hdl.md)
                    q = wl.weights(weights)
                    tiles_q = [q[n0:n0 + config.cols, k0:k0 + config.rows] for n0, k0, _ in ar.tiles]
                    est["beat_cycles_per_tile"] = [config.beat_length(kind, int(abs(t).max())) for t in tiles_q]
                    est["pulses_per_weight"] = float(sum(
                        sum(kind.pulses(int(abs(v))) for v in t.reshape(-1)) for t in tiles_q)) / sum(
                        t.size for t in tiles_q)
                if weights == "fineq" or kind is not None:
                    q = wl.weights(weights)
                    est["zero_weight_share"] = float(sum(
                        (q[n0:n0 + config.cols, k0:k0 + config.rows] == 0).mean() for n0, k0, _ in ar.tiles)
                        / len(ar.tiles))
                if long_run:
                    ar2, est2 = long_run
                    est.update(run.steady_state(ar.macs, est, ar2.macs, est2))
                    est["steady_vectors_per_tile"] = steady[0]
                est.update({
                    "weights": weights, "macs": ar.macs, "tiles": tiles, "vectors_per_tile": vectors,
                    "energy_per_mac_pj": est["energy_pj"] / ar.macs,
                    "macs_per_cycle": ar.macs / est["cycles"],
                    "energy_per_cycle_pj": est["energy_pj"] / est["cycles"],
                    "tile_origins": [list(map(int, t)) for t in ar.tiles],
                })
                out[variant][key] = est
                run.log(f"energy{label}: {key} ({variant}): {est['energy_per_mac_pj']:.3f} pJ/MAC, "
                        f"{est['cycles']} cycles, {est['check']}"
                        + (f"; steady state {est['steady_energy_per_mac_pj']:.3f} pJ/MAC" if long_run else "")
                        + f" ({time.time() - t0:.0f} s)")
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
        for key, e in variant.items():
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


def sweep(config, sizes, work, liberty_path, cells_v, fpga, pnr, jobs, wl, energy, tiles, vectors,
          main_entries=None, main_energy=None, steady=None):
    rows_out = []
    for n in sizes:
        if main_entries and n == config.rows == config.cols and all(
                name in main_entries and "area_um2" in main_entries[name] for name in D.SWEEP_DESIGNS):
            run.log(f"sweep {n}x{n}: the configuration's own size, results of the main run")
            rows_out += [_sweep_row(n, name, main_entries[name], main_energy or {}) for name in D.SWEEP_DESIGNS]
            continue
        cfg = dataclasses.replace(config, name=f"{config.name}_{n}x{n}", rows=n, cols=n)
        vdir = ROOT / "build" / "synth" / "sweep" / f"{n}x{n}" / "verilog"
        wdir = ROOT / "build" / "synth" / "sweep" / f"{n}x{n}"
        entries = {}
        for name in D.SWEEP_DESIGNS:
            d = next(x for x in D.DESIGNS if x.name == name)
            run.log(f"sweep {n}x{n}: {name}")
            m = run.measure(d, cfg, vdir, wdir, liberty_path, fpga=True if n in fpga else "cached",
                            pnr=pnr, jobs=jobs, hier=False)
            entries[name] = run.summarize(name, m, cfg, d)
        en = energy_runs(D.SWEEP_DESIGNS, cfg, vdir, wdir, liberty_path, cells_v, wl, tiles,
                         vectors, entries, label=f" sweep {n}x{n}", steady=steady,
                         controls=False) if energy else {}
        annotate_energy(en, entries, liberty.load(liberty_path))
        rows_out += [_sweep_row(n, name, e, en) for name, e in entries.items()]
    return rows_out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m synth", description=__doc__.split("\n")[0])
    p.add_argument("--config", default="default", help="hdl preset: tiny, default or large")
    p.add_argument("--size", type=int, help="measure an n x n array of the preset instead of its own size "
                   "(Verilog generated under build/synth/sweep/NxN/verilog)")
    p.add_argument("--designs", help="comma-separated subset of: " + ", ".join(d.name for d in D.DESIGNS))
    p.add_argument("--no-fpga", action="store_true", help="skip the iCE40 flows")
    p.add_argument("--fpga-cached-only", action="store_true",
                   help="report iCE40 results of earlier runs but run no new iCE40 flow")
    p.add_argument("--no-pnr", action="store_true", help="iCE40 synthesis only, no nextpnr (no Fmax)")
    p.add_argument("--no-blocks", action="store_true", help="do not run the hierarchical area-by-block runs (breakdowns already cached are still reported)")
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
    p.add_argument("--jobs", type=int, default=2, help="flows run in parallel per design")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "reports")
    args = p.parse_args(argv)

    config = load_config(args.config)
    try:
        designs = D.by_name(args.designs.split(",") if args.designs else None)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        sizes = [int(s) for s in args.sweep.split(",") if s.strip()]
    except ValueError:
        print(f"error: --sweep takes comma-separated integers, not {args.sweep!r}", file=sys.stderr)
        return 2
    if args.steady_vectors and args.steady_vectors <= args.vectors:
        print(f"error: --steady-vectors ({args.steady_vectors}) must be more than --vectors "
              f"({args.vectors}), or 0 to skip the steady-state runs", file=sys.stderr)
        return 2
    build = ROOT / "build"
    try:
        lib_path, cells_v = tech.fetch(build)
    except tech.TechError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    library = liberty.load(lib_path)
    verilog_dir = build / "verilog" / config.name
    work = build / "synth" / config.name
    preset_config, preset_vdir, preset_work = config, verilog_dir, work
    if args.size:
        n = args.size
        config = dataclasses.replace(config, name=f"{config.name}_{n}x{n}", rows=n, cols=n)
        work = build / "synth" / "sweep" / f"{n}x{n}"
        verilog_dir = work / "verilog"
    fpga = "cached" if args.fpga_cached_only else not args.no_fpga
    pnr = not args.no_pnr
    t_start = time.time()

    # the workload first: a bad layer or too few tokens must not wait for an hour of synthesis
    wl = wl_long = None
    if not args.no_energy and (any(d.name in ENERGY_WEIGHTS for d in designs) or sizes):
        run.log(f"workload: {args.layer} ({'vectors file' if args.vectors_file else 'from the checkpoint'})")
        need = max(args.vectors, args.steady_vectors)
        try:
            wl_long = W.build(args.layer, tokens=max(need, 64), vectors=args.vectors_file)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if wl_long.x_q.shape[0] < need:
            print(f"error: the workload has {wl_long.x_q.shape[0]} activation vectors; --vectors/"
                  f"--steady-vectors ask for {need}: use fewer", file=sys.stderr)
            return 2
        # the short runs see the first max(vectors, 64) tokens, as they always have (cached results)
        wl = dataclasses.replace(wl_long, x_q=wl_long.x_q[:max(args.vectors, 64)])

    entries = {}
    for d in ([] if args.sweep_only else designs):
        run.log(f"{d.name}: generic, standard-cell{', iCE40' if fpga else ''} flows")
        if d.preset_only:
            m = run.measure(d, preset_config, preset_vdir, preset_work, lib_path, fpga=fpga, pnr=pnr,
                            jobs=args.jobs, hier=not args.no_blocks)
            if "unavailable" not in m:
                m["title"] += f" (preset {preset_config.name}: {preset_config.rows} x {preset_config.cols})"
        else:
            m = run.measure(d, config, verilog_dir, work, lib_path, fpga=fpga, pnr=pnr, jobs=args.jobs,
                            hier=not args.no_blocks)
        entries[d.name] = run.summarize(d.name, m, config, d)
        e = entries[d.name]
        if "unavailable" in e:
            run.log(f"{d.name}: skipped ({e['unavailable'].splitlines()[0]})")
        else:
            run.log(f"{d.name}: {e.get('area_um2', 0):.0f} um2, {e.get('cells')} cells, "
                    f"{e.get('transistors')} transistors, {e.get('ice40_luts')} LUTs, "
                    + (f"Fmax {e['fmax_mhz']:.1f} MHz" if e.get("fmax_mhz") else "no Fmax"))

    energy = {}
    if not args.no_energy:
        names = [d.name for d in designs if d.name in ENERGY_WEIGHTS and d.name in entries]
        energy = energy_runs(names, config, verilog_dir, work, lib_path, cells_v, wl, args.tiles,
                             args.vectors, entries, steady=(args.steady_vectors, wl_long))
        annotate_energy(energy, entries, library)
        for name, e in energy.get("ungated", {}).items():
            a = entries.get(name)
            if a and "error" not in e and a.get("area_um2"):
                a["measured_macs_per_cycle"] = e["macs_per_cycle"]
                a["measured_macs_per_cycle_per_mm2"] = e["macs_per_cycle"] / (a["area_um2"] * 1e-6)

    sweep_rows = []
    if sizes:
        fpga_sizes = set() if args.fpga_cached_only or args.no_fpga else \
            {int(x) for x in args.sweep_fpga.split(",") if x.strip()}
        sweep_rows = sweep(config, sizes, work, lib_path, cells_v, fpga_sizes,
                           pnr, args.jobs, wl, not args.no_energy, args.tiles, args.vectors,
                           entries, energy, steady=(args.steady_vectors, wl_long))

    for extra in args.merge_sweep:
        other = json.loads(Path(extra).read_text()).get("sweep", [])
        have = {(r["rows"], r["design"]) for r in sweep_rows}
        sweep_rows += [r for r in other if (r["rows"], r["design"]) not in have]
    if sweep_rows and config.rows == config.cols and not any(r["rows"] == config.rows for r in sweep_rows):
        sweep_rows += [_sweep_row(config.rows, n, entries[n], energy) for n in D.SWEEP_DESIGNS
                       if "area_um2" in entries.get(n, {})]
    sweep_rows.sort(key=lambda r: (r["rows"], r["design"]))

    meta = {
        "config": json.loads(config.to_json()),
        "machine": run.machine(),
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
    area = {**meta, "designs": entries, "ratios": run.ratios(entries, run.AREA_METRICS), "sweep": sweep_rows}
    en = {**meta, "workload": {"layer": wl.layer, "source": wl.source, "tiles": args.tiles,
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
        en[variant]["per_token_array_estimate"] = per_token_estimate(designs_v, config, wl_long)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "area.json").write_text(json.dumps(area, indent=1, default=float) + "\n")
    (args.out / "energy.json").write_text(json.dumps(en, indent=1, default=float) + "\n")
    report.write(area, en, args.out)
    run.log(f"wrote {args.out / 'area.json'}, {args.out / 'energy.json'}, {args.out / 'synth.md'} "
            f"({time.time() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
