"""build/reports/synth.md: tables a person reads, plots where a picture says more."""
from __future__ import annotations

from pathlib import Path


def _f(v, fmt="{:,.0f}"):
    if v is None:
        return "-"
    try:
        return fmt.format(v)
    except (TypeError, ValueError):
        return str(v)


def _pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def write(area: dict, energy: dict, out: Path) -> Path:
    out = Path(out)
    cfg = area["config"]
    L = [f"# Synthesis report: FineQ array against MAC arrays ({cfg['name']}: {cfg['rows']} x {cfg['cols']})", ""]
    L += [headline(area, energy), ""]
    mach = area["machine"]
    L += [f"Machine: {mach.get('cpu')} ({mach.get('cores')} cores); {mach.get('yosys')}; "
          f"{mach.get('nextpnr')}; {mach.get('iverilog')}.",
          f"Standard cells: {area['liberty']['library']} ({area['liberty'].get('package')}), "
          f"{area['liberty']['operating_point']}; NAND2 = {area['liberty']['nand2_area_um2']:g} um2.",
          "Method and limits: docs/synthesis.md.", ""]
    L += ["## Area and timing", "",
          "| design | area um2 | with clock gating um2 (gates, gated FFs) | NAND2 eq. | cells | transistors (generic CMOS) | iCE40 LUTs | carries | FFs | Fmax iCE40 MHz | ASIC Fmax MHz | peak MACs/cycle | MACs/cycle/mm2 |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    skipped = []
    for name, e in area["designs"].items():
        if "unavailable" in e:
            skipped.append(f"- `{name}`: {e['unavailable'].splitlines()[0]}")
            continue
        fm = _f(e.get("fmax_mhz"), "{:.1f}") if e.get("fmax_mhz") else ("n/f" if e.get("fmax_note") else "-")
        cg = (e.get("gated") or {}).get("clock_gating") or {}
        gated = (f"{_f(e.get('gated_area_um2'))} ({cg.get('clock_gates')}, {cg.get('gated_flip_flops')})"
                 if e.get("gated_area_um2") else "-")
        L.append(f"| `{name}` | {_f(e.get('area_um2'))} | {gated} | {_f(e.get('area_nand2'))} | {_f(e.get('cells'))} | "
                 f"{_f(e.get('transistors'))} | {_f(e.get('ice40_luts'))} | {_f(e.get('ice40_carries'))} | "
                 f"{_f(e.get('ice40_ffs'))} | {fm} | {_f(e.get('asic_fmax_mhz'), '{:.0f}')} | "
                 f"{_f(e.get('peak_macs_per_cycle'), '{:g}')} | {_f(e.get('peak_macs_per_cycle_per_mm2'), '{:,.0f}')} |")
    notes = [f"- `{n}`: {e['fmax_note']}" for n, e in area["designs"].items() if e.get("fmax_note")]
    if notes:
        L += ["", "n/f: no Fmax measured:"] + notes
    dsp = [(n, e["ice40_dsp"]) for n, e in area["designs"].items() if e.get("ice40_dsp")]
    if dsp:
        L += ["", "With DSP inference on (`synth_ice40 -dsp`, iCE40 UP5K, 8 SB_MAC16):", "",
              "| design | LUTs | carries | FFs | DSPs | Fmax MHz |", "|---|---:|---:|---:|---:|---:|"]
        for n, d in dsp:
            L.append(f"| `{n}` | {_f(d.get('luts'))} | {_f(d.get('carries'))} | {_f(d.get('flip_flops'))} | "
                     f"{_f(d.get('dsps'))} | {_f(d.get('fmax_mhz'), '{:.1f}') if d.get('fmax_mhz') else 'n/f'} |")
    if skipped:
        L += ["", "Not measured (Verilog not generated yet):"] + skipped
    L += _top_section(area)
    if area.get("ratios"):
        L += ["", "## FineQ against the baselines (same flow, same run)", "",
              "| comparison | area reduction | cell reduction | transistor reduction | LUT reduction | Fmax ratio (iCE40) | Fmax ratio (ASIC) | peak MACs/cycle/area ratio | measured MACs/cycle/area ratio |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for k, r in area["ratios"].items():
            L.append(f"| {k.replace('_vs_', ' vs ')} | {_pct(r.get('area_um2_reduction'))} | {_pct(r.get('cells_reduction'))} | "
                     f"{_pct(r.get('transistors_reduction'))} | {_pct(r.get('ice40_luts_reduction'))} | "
                     f"{_f(r.get('fmax_mhz_ratio'), '{:.2f}x')} | {_f(r.get('asic_fmax_mhz_ratio'), '{:.2f}x')} | "
                     f"{_f(r.get('peak_macs_per_cycle_per_mm2_ratio'), '{:.2f}x')} | "
                     f"{_f(r.get('measured_macs_per_cycle_per_mm2_ratio'), '{:.2f}x')} |")
    L += _energy_section(area, energy)
    plots = _plots(area, energy, out)
    if area.get("sweep"):
        L += _sweep_section(area)
    if plots:
        L += ["", "## Plots", ""] + [f"![{t}]({p.name})" for t, p in plots]
    L.append("")
    path = out / "synth.md"
    path.write_text("\n".join(L))
    return path


def headline(area: dict, energy: dict) -> str:
    """The page's verdict: FineQ's array against the INT8 x INT8 array, area and (gated) energy."""
    r = (area.get("ratios") or {}).get("fineq_array_vs_mac8x8_array") or {}
    area_txt = (f"the FineQ array takes {_pct(r['area_um2_reduction'])} less area than the INT8 x INT8 array"
                if r.get("area_um2_reduction") is not None else "the FineQ and INT8 x INT8 arrays were not both measured")
    for v in ("gated", "ungated"):
        sentence = verdict((energy.get(v) or {}).get("designs") or {}, "fineq_array", "mac8x8_array", v)
        if sentence:
            return f"In this run {area_txt}. {sentence}"
    return f"In this run {area_txt}; no energy comparison was measured."


VARIANT_TITLES = {"ungated": "without clock gating", "gated": "with clock gating"}
# FineQ-side design -> the baselines it is compared with, and the goal of issue #8
GOALS = {"mac8x8_array": 1.79, "mac8x3_array": 1.0}
FINEQ_SIDE = ("fineq_array", "fineq_r2_array")
CLASS_NAMES = {"registers": "flip-flops", "clock_gates": "clock gates", "clock_nets": "clock nets",
               "logic": "logic cells", "data_nets": "data nets", "leakage": "leakage"}


def _energy_section(area, energy) -> list[str]:
    variants = [v for v in VARIANT_TITLES if (energy.get(v) or {}).get("designs")]
    if not variants:
        return []
    wl = energy.get("workload") or {}
    cg = energy.get("clock_gating") or {}
    L = ["", "## Energy (gate-level switching activity, real workload)", "",
         f"Workload: {wl.get('source')}; {wl.get('tiles')} tiles x {wl.get('vectors_per_tile')} activation vectors. "
         f"Every figure twice: {VARIANT_TITLES['ungated']} (every enable is a multiplexer, every flip-flop "
         f"is clocked in every cycle) and {VARIANT_TITLES['gated']} (every bank of at least "
         f"{cg.get('min_width', '?')} flip-flops with a common enable behind one {cg.get('icg', 'ICG')} "
         "clock gate, in every design)."]
    for v in variants:
        L += _energy_table(v, energy[v]["designs"])
    first = energy[variants[0]]["designs"]
    L += _workload_notes(first)
    L += _comparison_table(energy, variants)
    L += _fetch_tables(energy, variants)
    L += _per_token_estimate_tables(energy, variants)
    op = next((e for e in first.values() if "operating_point" in e), None)
    if op:
        L += ["", f"Operating point: {op['operating_point']}."]
    return L + _measured_throughput(area, first)


def _energy_table(variant: str, designs: dict) -> list[str]:
    """One row per design: energy of the run, its breakdown by class, per MAC and per cycle."""
    L = ["", f"### {VARIANT_TITLES[variant].capitalize()}", "",
         "| design | weights | MACs | cycles | MACs/cycle | energy nJ | flip-flops | clock gates | clock nets | logic | data nets | leakage | pJ/MAC | pJ/cycle | steady-state pJ/MAC | check |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for n, e in designs.items():
        if "error" in e:
            L.append(f"| `{n}` | error: {e['error'][:100]} |" + " |" * 15)
            continue
        b = e.get("breakdown_pj") or {}
        tot = e["energy_pj"] or 1.0
        L.append(f"| `{n}` | {e['weights']} | {e['macs']:,} | {e['cycles']:,} | {e['macs_per_cycle']:.2f} | "
                 f"{e['energy_pj'] / 1000:.2f} | "
                 + " | ".join(_pct(b.get(k, 0.0) / tot) for k in CLASS_NAMES) + " | "
                 f"{e['energy_per_mac_pj']:.3f} | {e['energy_per_cycle_pj']:.1f} | "
                 f"{_f(e.get('steady_energy_per_mac_pj'), '{:.3f}')} | {e.get('check', '')} |")
    return L


def _workload_notes(designs: dict) -> list[str]:
    """The temporal arrays' beat lengths, and how the steady state was measured."""
    L = []
    for n, e in designs.items():
        if e.get("beat_cycles_per_tile"):
            beats = e["beat_cycles_per_tile"]
            L += ["", f"`{n}`: beat per tile (cycles per vector) {', '.join(map(str, beats))} (mean "
                  f"{sum(beats) / len(beats):.2f}); {e.get('pulses_per_weight', 0):.2f} pulses per weight; "
                  f"{100 * e.get('zero_weight_share', 0):.0f}% zero weights."]
    steady = next((e for e in designs.values() if e.get("steady_vectors_per_tile")), None)
    if steady:
        L += ["", f"Steady state: each array also ran {steady['steady_vectors_per_tile']} vectors per tile; "
              "(energy of that run - energy of the first) / (MACs of that run - MACs of the first) is the "
              "energy of one more MAC while the array streams, with weight loading and pipeline fill and "
              "drain cancelled."]
    return L


def _comparison_table(energy, variants) -> list[str]:
    """FineQ against each baseline, ungated and gated side by side, then one verdict each."""
    L = ["", "### FineQ against the baselines", "",
         "| comparison | efficiency, whole run (ungated / gated) | steady state (ungated / gated) | goal | "
         "steady-state throughput ratio |", "|---|---:|---:|---:|---:|"]
    keys = sorted({k for v in variants for k in (energy[v].get("ratios") or {})})
    for k in keys:
        rs = [(energy[v].get("ratios") or {}).get(k, {}) for v in ("ungated", "gated")]
        base = k.split("_vs_")[1]
        goal = GOALS.get(base) if k.split("_vs_")[0] in FINEQ_SIDE else None
        L.append(f"| {k.replace('_vs_', ' vs ')} | "
                 + " / ".join(_f(r.get("energy_per_mac_pj_efficiency"), "{:.2f}x") for r in rs) + " | "
                 + " / ".join(_f(r.get("steady_energy_per_mac_pj_efficiency"), "{:.2f}x") for r in rs) + " | "
                 + (f">= {goal:g}x" if goal else "-") + " | "
                 + _f(rs[-1].get("steady_macs_per_cycle_ratio") or rs[0].get("steady_macs_per_cycle_ratio"), "{:.2f}")
                 + " |")
    L += ["", "Verdicts (one sentence per comparison; steady state where measured):", ""]
    for v in variants:
        for k in keys:
            a, b = k.split("_vs_")
            sentence = verdict(energy[v]["designs"], a, b, v)
            if sentence:
                L.append(f"- {sentence}")
    return L


def _fetch_tables(energy, variants) -> list[str]:
    """Where fetching weights from outside the array would move the efficiency."""
    L = []
    for v in variants:
        be = [(k, r) for k, r in (energy[v].get("ratios") or {}).items() if "fetch_efficiency_limit" in r]
        if not be:
            continue
        L += ["", f"Weight fetching ({VARIANT_TITLES[v]}) is outside the arrays. With E pJ per fetched "
              "weight bit and no reuse (one fetch per MAC, as when decoding one token), efficiency "
              "becomes (baseline pJ/MAC + baseline bits x E) / (FineQ pJ/MAC + FineQ bits x E), with the "
              f"{be[0][1]['fetch_break_even_basis']} pJ/MAC:", "",
              "| comparison | bits fetched per weight (FineQ, baseline) | limit when fetching dominates | "
              "E for the paper's 1.79x, no reuse | same with reuse over 32 tokens |", "|---|---:|---:|---:|---:|"]
        for k, r in be:
            e = r["fetch_break_even_pj_per_bit"]
            L.append(f"| {k.replace('_vs_', ' vs ')} | {r['fetch_bits_per_weight'][0]:.2f}, "
                     f"{r['fetch_bits_per_weight'][1]:.2f} | {r['fetch_efficiency_limit']:.2f}x | "
                     + (f"{e:.1f} pJ/bit | {32 * e:,.0f} pJ/bit |" if e is not None else "unreachable | unreachable |"))
    return L


def _per_token_estimate_tables(energy, variants) -> list[str]:
    """The array-level per-token estimate (synth/token_energy.py measures the whole accelerator)."""
    L = []
    for v in variants:
        est = (energy[v].get("per_token_array_estimate") or {})
        for k, rows in (est.get("rows") or {}).items():
            L += ["", f"Energy per token of `{est['layer']}` ({est['shape'][0]} x {est['shape'][1]}), {k.replace('_vs_', ' vs ')}, "
                  f"{VARIANT_TITLES[v]}: **an array-level estimate**, the arrays' steady-state pJ/MAC plus the memory "
                  "model of synth/memory.py (SRAM per access from Horowitz ISSCC 2014 scaled x"
                  f"{est['sram_node_scale']:g} to 0.18 um; DRAM pJ/bit swept); not the whole accelerator:", "",
                  "| tokens | DRAM pJ/bit | FineQ nJ/token (logic, SRAM, DRAM) | INT8 nJ/token (logic, SRAM, DRAM) | efficiency |",
                  "|---:|---:|---|---|---:|"]
            for r in rows:
                L.append(f"| {r['tokens']} | {r['dram_pj_per_bit']:g} | {_token_cell(r['fineq'])} | "
                         f"{_token_cell(r['baseline'])} | {r['efficiency']:.2f}x |")
    return L


def _token_cell(side: dict) -> str:
    """'total (logic, SRAM, DRAM)' in nJ per token."""
    nj = [side[f"{k}_pj_per_token"] / 1e3 for k in ("total", "logic", "sram", "dram")]
    return f"{nj[0]:,.1f} ({nj[1]:,.1f}, {nj[2]:,.1f}, {nj[3]:,.1f})"


def _measured_throughput(area, designs) -> list[str]:
    meas = []
    for n, e in designs.items():
        a = area["designs"].get(n, {})
        if "error" not in e and a.get("area_um2"):
            meas.append((n, e["macs_per_cycle"], e["macs_per_cycle"] / (a["area_um2"] * 1e-6)))
    if not meas:
        return []
    return ["", "Measured throughput on the workload (includes weight loading, pipeline fill and drain; "
            "ungated area):", "", "| design | MACs/cycle | MACs/cycle/mm2 |", "|---|---:|---:|"] + \
        [f"| `{n}` | {m:.2f} | {t:,.0f} |" for n, m, t in meas]


def verdict(designs: dict, a: str, b: str, variant: str) -> str | None:
    """One sentence: which of ``a`` and ``b`` spends less energy per MAC, by how much, and where
    the difference is (the measured breakdown per MAC by class of cells and nets)."""
    ea, eb = designs.get(a, {}), designs.get(b, {})
    if not ea or not eb or "error" in ea or "error" in eb:
        return None
    steady = "steady_energy_per_mac_pj" in ea and "steady_energy_per_mac_pj" in eb
    field = "steady_energy_per_mac_pj" if steady else "energy_per_mac_pj"
    pa, pb = ea[field], eb[field]
    if steady:
        ba, bb = ea.get("steady_breakdown_pj_per_mac") or {}, eb.get("steady_breakdown_pj_per_mac") or {}
    else:
        ba = {k: x / ea["macs"] for k, x in (ea.get("breakdown_pj") or {}).items()}
        bb = {k: x / eb["macs"] for k, x in (eb.get("breakdown_pj") or {}).items()}
    winner, loser = (a, b) if pa <= pb else (b, a)
    ratio = max(pa, pb) / min(pa, pb) if min(pa, pb) > 0 else float("inf")
    diff = {k: ba.get(k, 0.0) - bb.get(k, 0.0) for k in CLASS_NAMES}
    more = [k for k, d in sorted(diff.items(), key=lambda kv: -kv[1]) if d > 0.005 * max(pa, pb)][:2]
    less = [k for k, d in sorted(diff.items(), key=lambda kv: kv[1]) if d < -0.005 * max(pa, pb)][:2]
    why = []
    if more:
        why.append(f"`{a}` spends more on " + " and ".join(f"{CLASS_NAMES[k]} ({diff[k]:+.2f} pJ/MAC)" for k in more))
    if less:
        why.append(("and less on " if more else f"`{a}` spends less on ")
                   + " and ".join(f"{CLASS_NAMES[k]} ({diff[k]:+.2f})" for k in less))
    goal = GOALS.get(b) if a in FINEQ_SIDE else None
    eff = pb / pa if pa else float("inf")
    goal_txt = f"; goal >= {goal:g}x {'met' if eff >= goal else 'missed'} ({eff:.2f}x)" if goal else ""
    cyc = ""
    if ea.get("steady_macs_per_cycle") and eb.get("steady_macs_per_cycle"):
        cyc = f", at {eb['steady_macs_per_cycle'] / ea['steady_macs_per_cycle']:.2f}x the cycles per MAC"
    return (f"{VARIANT_TITLES[variant].capitalize()}, {'steady state' if steady else 'whole run'}: "
            f"**`{winner}` wins over `{loser}` by {ratio:.2f}x** ({a} {pa:.2f}, {b} {pb:.2f} pJ/MAC{cyc}"
            f"{goal_txt}); " + (", ".join(why) if why else "no class of cells or nets differs by more than 0.5%") + ".")


def _sweep_section(area) -> list[str]:
    sw = area["sweep"]
    L = ["", "## Array-size sweep", "",
         "| n x n | design | area um2 (ungated / gated) | cells | ASIC Fmax MHz | pJ/MAC whole run (ungated / gated) | "
         "steady-state pJ/MAC (ungated / gated) | cycles per vector (beats) |",
         "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in sw:
        u, g = r.get("ungated") or {}, r.get("gated") or {}
        beats = u.get("beat_cycles_per_tile") or g.get("beat_cycles_per_tile")
        L.append(f"| {r['rows']}x{r['cols']} | `{r['design']}` | {_f(r.get('area_um2'))} / {_f(r.get('gated_area_um2'))} | "
                 f"{_f(r.get('cells'))} | {_f(r.get('asic_fmax_mhz'), '{:.0f}')} | "
                 f"{_f(u.get('energy_per_mac_pj'), '{:.2f}')} / {_f(g.get('energy_per_mac_pj'), '{:.2f}')} | "
                 f"{_f(u.get('steady_energy_per_mac_pj'), '{:.2f}')} / {_f(g.get('steady_energy_per_mac_pj'), '{:.2f}')} | "
                 f"{', '.join(map(str, beats)) if beats else '1'} |")
    sizes = sorted({r["rows"] for r in sw})
    by = {(r["rows"], r["design"]): r for r in sw}
    L += ["", "Steady-state efficiency of FineQ against the baselines (baseline pJ/MAC over FineQ pJ/MAC; "
          "ungated / gated) and the goals of issue #8 (>= 1.79x against INT8 x INT8, >= 1.0x against "
          "INT8 x 3-bit, at 8 x 8 and above):", "",
          "| n x n | fineq vs mac8x8 | fineq vs mac8x3 | fineq_r2 vs mac8x8 | fineq_r2 vs mac8x3 | fineq_r2 vs fineq |",
          "|---|---:|---:|---:|---:|---:|"]
    for n in sizes:
        cells = []
        for a, b in (("fineq_array", "mac8x8_array"), ("fineq_array", "mac8x3_array"),
                     ("fineq_r2_array", "mac8x8_array"), ("fineq_r2_array", "mac8x3_array"),
                     ("fineq_r2_array", "fineq_array")):
            ra, rb = by.get((n, a)), by.get((n, b))
            vals = []
            for v in ("ungated", "gated"):
                pa = ((ra or {}).get(v) or {}).get("steady_energy_per_mac_pj")
                pb = ((rb or {}).get(v) or {}).get("steady_energy_per_mac_pj")
                vals.append(f"{pb / pa:.2f}x" if pa and pb else "-")
            cells.append(" / ".join(vals))
        L.append(f"| {n}x{n} | " + " | ".join(cells) + " |")
    return L


def _tops(area) -> list[tuple[str, dict]]:
    """Designs synthesised with their buffers as memory macros: the whole accelerator."""
    return [(n, e) for n, e in area["designs"].items() if e.get("sram_macros")]


def _top_section(area) -> list[str]:
    """The whole accelerator: logic area by block, and the buffers left as memory macros."""
    L = []
    for name, e in _tops(area):
        L += ["", f"## Whole accelerator (`{name}`)", "",
              f"{e['title']}. Logic: {_f(e.get('area_um2'))} um2 ({_f(e.get('area_nand2'))} NAND2), "
              f"{_f(e.get('cells'))} cells, {_f(e.get('transistors'))} transistors, ASIC Fmax "
              f"{_f(e.get('asic_fmax_mhz'), '{:.0f}')} MHz. The buffers are memory macros, not counted "
              f"in that area (the OSU library has no memory compiler): {_f(e.get('sram_bits'))} bits.", ""]
        L += ["| memory | words x bits | read ports | write ports | bits |", "|---|---:|---:|---:|---:|"]
        L += [f"| `{m['name']}` | {m['words']:,} x {m['width']} | {m['read_ports']} | {m['write_ports']} | "
              f"{m['bits']:,} |" for m in e["sram_macros"]]
        blocks = e.get("blocks") or {}
        total = sum(b["area_um2"] for b in blocks.values())
        if total:
            L += ["", "| block | area um2 | share of logic | flip-flop share of block | instances | "
                  "critical delay inside the block ns |", "|---|---:|---:|---:|---:|---:|"]
            L += [f"| {b} | {_f(v['area_um2'])} | {_pct(v['area_um2'] / total)} | "
                  f"{_pct(v['sequential_um2'] / v['area_um2'] if v['area_um2'] else None)} | {v['instances']} | "
                  f"{_f(v.get('comb_delay_ns'), '{:.2f}')} |"
                  for b, v in blocks.items() if v["area_um2"] > 0.005 * total]
            slow = max(blocks.items(), key=lambda kv: kv[1].get("comb_delay_ns") or 0)
            if slow[1].get("comb_delay_ns"):
                L.append(f"\nThe slowest block is `{slow[0]}` ({slow[1]['comb_delay_ns']:.2f} ns inside it, each "
                         f"module timed on its own; the flat run's {_f(e.get('asic_comb_delay_ns'), '{:.2f}')} ns "
                         "includes the paths between modules).")
            small = [b for b, v in blocks.items() if v["area_um2"] <= 0.005 * total]
            if small:
                L.append(f"\nUnder 0.5% each: {', '.join(small)}.")
        if e.get("ice40_luts") is not None:
            L += ["", f"iCE40 (DSP off): {_f(e.get('ice40_luts'))} LUTs, {_f(e.get('ice40_carries'))} carries, "
                  f"{_f(e.get('ice40_ffs'))} flip-flops, {_f(e.get('ice40_brams'))} 4 Kbit block RAMs; "
                  + (f"Fmax {e['fmax_mhz']:.1f} MHz." if e.get("fmax_mhz") else f"{e.get('fmax_note', 'no Fmax')}.")]
    return L


def _plots(area, energy, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    plots = []
    arrays = [(n, e) for n, e in area["designs"].items() if e.get("blocks") and n.endswith("_array")]
    if arrays:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        cats = []
        for _, e in arrays:
            for b in e["blocks"]:
                for part in ("sequential", "combinational"):
                    if (b, part) not in cats:
                        cats.append((b, part))
        bottoms = [0.0] * len(arrays)
        cmap = plt.get_cmap("tab20")
        for i, (b, part) in enumerate(cats):
            vals = [e["blocks"].get(b, {}).get(f"{part}_um2", 0.0) / 1e6 for _, e in arrays]
            if not any(vals):
                continue
            ax.bar([n for n, _ in arrays], vals, bottom=bottoms, label=f"{b} ({part[:4]}.)", color=cmap(i % 20))
            bottoms = [x + y for x, y in zip(bottoms, vals, strict=True)]
        ax.set_ylabel("area (mm2, OSU 0.18 um)")
        ax.set_title("Area by block (hierarchical synthesis)")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        p = out / "synth_area_breakdown.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        plots.append(("area breakdown by block", p))
    for name, e in _tops(area):
        if not e.get("blocks"):
            continue
        blocks = sorted(e["blocks"].items(), key=lambda kv: kv[1]["area_um2"])
        fig, ax = plt.subplots(figsize=(8, 4.5))
        names = [b for b, _ in blocks]
        seq = [v["sequential_um2"] / 1e6 for _, v in blocks]
        comb = [v["combinational_um2"] / 1e6 for _, v in blocks]
        ax.barh(names, seq, label="flip-flops")
        ax.barh(names, comb, left=seq, label="combinational")
        ax.set_xlabel("area (mm2, OSU 0.18 um); buffers are memory macros, not shown")
        ax.set_title(f"{name}: logic area by block (hierarchical synthesis)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        p = out / f"synth_{name}_blocks.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        plots.append((f"{name}: logic area by block", p))
    sw = area.get("sweep") or []
    if sw:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for name in sorted({r["design"] for r in sw}):
            rs = [r for r in sw if r["design"] == name and r.get("area_um2")]
            lines = axes[0].plot([r["rows"] for r in rs], [r["area_um2"] / 1e6 for r in rs], "o-", label=name)
            for v, style in (("ungated", "o--"), ("gated", "o-")):
                key = "steady_energy_per_mac_pj"
                re_ = [r for r in sw if r["design"] == name and (r.get(v) or {}).get(key)]
                if re_:
                    axes[1].plot([r["rows"] for r in re_], [r[v][key] for r in re_], style,
                                 color=lines[0].get_color(), label=f"{name}, {v}")
        axes[0].set_xlabel("array size n (n x n)")
        axes[0].set_ylabel("area (mm2)")
        axes[0].set_title("Area against array size")
        axes[1].set_xlabel("array size n (n x n)")
        axes[1].set_ylabel("steady-state energy per MAC (pJ)")
        axes[1].set_title("Energy per MAC (solid: gated, dashed: ungated)")
        for ax in axes:
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        fig.tight_layout()
        p = out / "synth_sweep.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        plots.append(("area and energy against array size", p))
    return plots
