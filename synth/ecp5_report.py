"""build/reports/ecp5.json and ecp5.md from the results of synth/ecp5_sweep.py."""
from __future__ import annotations

import json
from pathlib import Path


def _fmax(case: dict, part: str):
    return ((case.get("pnr") or {}).get(part) or {}).get("fmax_mhz")


def _cell(case: dict, part: str) -> str:
    r = (case.get("pnr") or {}).get(part)
    if not r:
        return "-"
    if r.get("fmax_mhz"):
        comb = r["utilization"].get("TRELLIS_COMB", [0, 1])
        return f"{r['fmax_mhz']:.1f} ({100 * comb[0] / comb[1]:.0f}% LUTs)"
    return "does not fit"


def verdicts(data: dict) -> list[str]:
    """One sentence per finding, from the numbers in ``data``."""
    cases, out = data["cases"], []
    missing = [k for k, c in cases.items() if "not_run" in c or "error" in c]
    if missing:
        out.append(f"{len(cases) - len(missing)} of {len(cases)} cases measured; not measured: "
                   + ", ".join(f"`{k}`" for k in missing) + ".")
    parts = list(data["parts"])
    small = parts[0]
    done = {k: c for k, c in cases.items() if "error" not in c and "not_run" not in c}
    builds = [c for c in done.values() if c["design"] in ("fineq_top", "fineq_top_fpga") and c["variant"] == "dsp"]
    tops = [c for c in builds if c["design"] == "fineq_top"]
    for c in builds:
        placed = [p for p in parts if _fmax(c, p)]
        which = f"`{c['preset']}`" + (" in its FPGA build (group-factor products on DSP blocks)"
                                      if c["design"] == "fineq_top_fpga" else "")
        if placed:
            p = placed[0]
            comb = c["pnr"][p]["utilization"]["TRELLIS_COMB"]
            out.append(f"The whole accelerator of preset {which} fits the {p} ({comb[0]} of {comb[1]} "
                       f"LUT4s, {c['flip_flops']} flip-flops, {c['ebr']} EBRs, {c['dsp']} DSP blocks) and "
                       f"runs at {c['pnr'][p]['fmax_mhz']:.1f} MHz after place and route"
                       + "".join(f"; {q}: {_fmax(c, q):.1f} MHz" for q in placed[1:]) + ".")
        else:
            why = "; ".join(r.get("note", "") for r in c["pnr"].values()) or "not placed"
            out.append(f"The whole accelerator of preset {which} is not placed on any part: {why}.")
    arr = done.get("default/fineq_array/dsp") or next(
        (c for c in done.values() if c["design"] == "fineq_array" and c["variant"] == "dsp"), None)
    top = next((c for c in tops if c["preset"] == (arr or {}).get("preset")), None)
    if arr and _fmax(arr, small) and top and _fmax(top, small):
        path = (top["pnr"][small].get("critical_path") or {}).get("verilog_lines") or []
        where = "; ".join(f"`{x['verilog']}` ({x['at']})" for x in path[:4])
        out.append(f"On the {small} the {arr['preset']} FineQ array alone reaches {_fmax(arr, small):.1f} MHz and "
                   f"the whole top {_fmax(top, small):.1f} MHz; the top's critical path runs through {where or 'unknown lines'}.")
    placed = [(c, _fmax(c, small)) for c in done.values() if _fmax(c, small)]
    if placed:
        out.append(f"Fmax on the {small} with registered I/O: " + "; ".join(
            f"`{c['preset']}/{c['design']}` ({c['variant']}) {f:.1f} MHz" for c, f in
            sorted(placed, key=lambda x: -x[1])) + ".")
    for name in ("mac8x8_array", "mac8x3_array"):
        d = {v: done.get(f"{arr['preset'] if arr else 'default'}/{name}/{v}") for v in ("dsp", "nodsp", "booth")}
        if all(d.values()):
            out.append(f"`{name}` needs {d['dsp']['dsp']} DSP blocks with inference on, or "
                       f"{d['nodsp']['luts']} LUT4s without DSPs ({d['booth']['luts']} with the Booth pass; "
                       f"the FineQ array: {arr['luts'] if arr else '?'} LUT4s and no DSP).")
    return out


def _table(cases: dict, parts: list[str]) -> list[str]:
    head = "| case | LUT4 | carry (CCU2C) | FF | EBR | LUT RAM | DSP | " + " | ".join(
        f"Fmax {p} MHz" for p in parts) + " |"
    rows = [head, "|" + "---|" * (7 + len(parts))]
    for label, c in cases.items():
        if "not_run" in c:
            rows.append(f"| {label} | not run: {c['not_run']} |" + " |" * (6 + len(parts)))
            continue
        if "error" in c:
            rows.append(f"| {label} | error: {c['error'].splitlines()[0][:80]} |" + " |" * (6 + len(parts)))
            continue
        rows.append(f"| {label} | {c['luts']} | {c['carries']} | {c['flip_flops']} | {c['ebr']} | "
                    f"{c['lutram']} | {c['dsp']} | " + " | ".join(_cell(c, p) for p in parts) + " |")
    return rows


def _paths(cases: dict) -> list[str]:
    out = []
    for label, c in cases.items():
        for part, r in (c.get("pnr") or {}).items():
            cp = r.get("critical_path")
            if not cp:
                continue
            lines = "; ".join(f"`{x['verilog']}`" for x in cp["verilog_lines"][:5]) or "(no design line)"
            out.append(f"- **{label}**, {part}: {cp['delay_ns']} ns ({cp['logic_ns']} logic, "
                       f"{cp['routing_ns']} routing, {cp['segments']} segments) from `{cp['from'][:60]}` "
                       f"to `{cp['to'][:60]}` through {lines}")
    return out


def method(data: dict) -> str:
    return (f"Synthesis: {data['yosys']}; place and route: {data['nextpnr']}, package {data['package']}, "
            f"timing target {data['target_mhz']} MHz, seed {data['seed']}. Every design is placed inside a "
            "pin-limited wrapper that registers every input and output (synth/flows.py `wrapper_verilog`: "
            "a shift chain from one pin drives the inputs, an XOR tree folds the registered outputs into "
            "one pin), so Fmax is register to register and any port count fits the package. Counts are "
            "of the design alone, from Yosys; the netlist placed is that netlist plus the wrapper; the "
            "percentage is nextpnr's TRELLIS_COMB use (LUT4s, carry halves, LUT RAM) of the part. "
            "Variants: `dsp` (synth_ecp5), `nodsp` (-nodsp), `booth` (-nodsp after Yosys's booth pass). "
            "A case is placed on the smallest part it fits, the whole default top and the FineQ array "
            "on both. The ASIC and iCE40 tables of synth.md are from Debian's Yosys 0.23: compare "
            "within a table only.")


KINDS = {"DP16KD": "block RAM", "PDPW16KD": "block RAM", "TRELLIS_DPR16X4": "LUT RAM"}


def _memories(cases: dict) -> list[str]:
    out = []
    for label, c in cases.items():
        mems = {k: v for k, v in (c.get("memories") or {}).items() if "proc_rom" not in k}
        if mems:
            out.append(f"- **{label}**: " + ", ".join(
                f"`{k}` {KINDS.get(v, v)} ({v})" if v in KINDS else f"`{k}` {v}" for k, v in sorted(mems.items())))
    return out


def headline(data: dict) -> str:
    """The page's verdict: the whole top's Fmax against the FineQ array's (issue #12: within 10%)."""
    cases, small = data["cases"], list(data["parts"])[0]
    arr = cases.get("default/fineq_array/dsp") or {}
    top = cases.get("default/fineq_top/dsp") or {}
    fa, ft = _fmax(arr, small), _fmax(top, small)
    measured = sum("not_run" not in c and "error" not in c for c in cases.values())
    tail = f" ({measured} of {len(cases)} cases measured)"
    if fa and ft:
        ok = "within" if ft >= 0.9 * fa else "not within"
        return (f"On the {small} the whole default accelerator runs at {ft:.1f} MHz after place and route, "
                f"{100 * ft / fa:.0f}% of the FineQ array's {fa:.1f} MHz: {ok} the 10% the goal allows{tail}.")
    return f"The whole default accelerator has no Fmax after place and route on the {small} yet{tail}."


def write(data: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {**data, "verdict": verdicts(data)}
    (out_dir / "ecp5.json").write_text(json.dumps(data, indent=1) + "\n")
    parts = list(data["parts"])
    notes = sorted({r["note"] for c in data["cases"].values() for r in (c.get("pnr") or {}).values()
                    if r.get("note")})
    md = ["# ECP5: resources and Fmax after place and route", "", headline(data), "",
          *[f"- {v}" for v in data["verdict"]], "",
          method(data),
          "", *_table(data["cases"], parts), "", "## Critical paths (nextpnr)", "", *_paths(data["cases"]), "",
          "## Memories (Yosys memory_libmap; ROMs of case statements left out)", "", *_memories(data["cases"]), ""]
    if notes:
        md += ["## Not placed", "", *[f"- {n}" for n in notes], ""]
    md += [f"Executor: {data['executor']}; {data['seconds']} s for the runs not cached.", ""]
    (out_dir / "ecp5.md").write_text("\n".join(md))
