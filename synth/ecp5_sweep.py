"""python -m synth.ecp5_sweep: ECP5 resources and Fmax after place and route of the arrays, the
vector unit and the whole accelerator of every preset (synth/ecp5.py).

Writes build/reports/ecp5.json and ecp5.md; tool files under build/synth/ecp5/<case>/<variant>/.
Every run is cached by a hash of its Verilog text and the flow's settings (``result.json``,
written here, by the client, whichever worker ran it).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import designs as D
from . import ecp5, executor, run

ROOT = Path(__file__).resolve().parent.parent
ARRAYS = ("fineq_array", "fineq_r2_array", "mac8x8_array", "mac8x3_array")
HEAVY = {("mac8x8_array", "nodsp"), ("mac8x8_array", "booth")}
MULTIPLIERS = {"mac8x8_array", "mac8x3_array", "vector_unit"}   # the designs that get a Booth baseline


@dataclass
class Case:
    preset: str
    design: str
    variant: str
    all_parts: bool = False     # place on every part it fits, not only the smallest

    @property
    def label(self) -> str:
        return f"{self.preset}/{self.design}/{self.variant}"


def default_cases(presets=("tiny", "default", "large"), array_preset="default") -> list[Case]:
    """Most important first (a run stopped early has those). Every case is placed on the smallest
    part it fits; the whole top (both builds) and the FineQ array of the array preset on both parts."""
    cases = [Case(array_preset, "fineq_top", "dsp", True), Case(array_preset, "fineq_top_fpga", "dsp", True),
             Case(array_preset, "fineq_array", "dsp", True), Case(array_preset, "vector_unit", "dsp")]
    for name in ("fineq_array", *ARRAYS[1:], "vector_unit"):
        for v in ecp5.VARIANTS:
            if (v != "booth" or name in MULTIPLIERS) and (name, v) not in (("fineq_array", "dsp"), ("vector_unit", "dsp")):
                cases.append(Case(array_preset, name, v))
    cases += [Case(p, "fineq_top", v) for p in presets for v in ("dsp", "nodsp")
              if (p, v) != (array_preset, "dsp")]
    # the largest place-and-route runs last (tens of minutes each under WebAssembly)
    return sorted(cases, key=lambda c: c.preset == "large" or (c.design, c.variant) in HEAVY)


def sources(case: Case, build: Path) -> tuple[dict[str, str], str]:
    """The Verilog (file name -> text) and top module of a case, made on the client."""
    from hdl.datapath.config import preset
    d = D.by_name([case.design])[0]
    cfg = preset(case.preset)
    src = d.source(cfg, build / "verilog" / case.preset, build / "synth" / "ecp5" / case.preset / case.design / "rtl")
    return {Path(f).name: Path(f).read_text() for f in src.files}, src.top


def key_of(verilog: dict[str, str], top: str, variant: str, parts, pnr: bool, all_parts: bool) -> str:
    h = hashlib.sha256()
    for name in sorted(verilog):
        h.update(name.encode() + b"\0" + verilog[name].encode() + b"\0")
    h.update(repr((top, variant, tuple(parts), pnr, all_parts, ecp5.FLOW_VERSION, ecp5.YOSYS_VERSION,
                   ecp5.TARGET_MHZ, ecp5.SEED, ecp5.PACKAGE)).encode())
    return h.hexdigest()[:20]


def measure(cases: list[Case], build: Path, ex: executor.Executor, parts, pnr: bool,
            cached_only: bool = False) -> dict:
    """Run every case not in the cache on ``ex`` (``cached_only``: none, they are reported as
    not run); {label: result or {"error": ...} or {"not_run": ...}}."""
    out, todo = {}, []
    for c in cases:
        verilog, top = sources(c, build)
        wd = build / "synth" / "ecp5" / c.preset / c.design / c.variant
        key = key_of(verilog, top, c.variant, parts, pnr, c.all_parts)
        hit = run.peek(wd, (key,))
        if hit is not None:
            out[c.label] = hit
        elif cached_only:
            out[c.label] = {"not_run": "not in the cache (--cached-only)"}
        else:
            todo.append((c, wd, key, (verilog, top, c.variant, wd, tuple(parts), pnr, "clk", not c.all_parts)))
    hits = sum("not_run" not in r for r in out.values())
    run.log(f"ecp5: {hits} cases cached, {len(todo)} to run on {ex.kind}")
    t0 = time.time()
    for i, res, err in ex.map(ecp5.run, [t[3] for t in todo]):
        c, wd, key, _ = todo[i]
        if err is not None:
            out[c.label] = {"error": f"{type(err).__name__}: {err}"}
            run.log(f"ecp5: {c.label} failed: {err}")
            continue
        run.store(wd, key, res)
        out[c.label] = res
        fm = ", ".join(f"{p} {r['fmax_mhz']:.1f} MHz" if r.get("fmax_mhz") else f"{p} -"
                       for p, r in res["pnr"].items())
        run.log(f"ecp5: {c.label}: {res['luts']} LUT4, {res['flip_flops']} FF, {res['ebr']} EBR, "
                f"{res['dsp']} DSP; {fm or 'no P&R'} ({time.time() - t0:.0f} s)")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m synth.ecp5_sweep", description=__doc__.split("\n")[0])
    p.add_argument("--presets", default="tiny,default,large", help="presets whose whole top is measured")
    p.add_argument("--array-preset", default="default", help="preset of the arrays and the vector unit")
    p.add_argument("--only", help="comma-separated subset of PRESET/DESIGN/VARIANT labels")
    p.add_argument("--parts", default=",".join(ecp5.PARTS), help="ECP5 parts to place and route on")
    p.add_argument("--no-pnr", action="store_true", help="synthesis counts only")
    p.add_argument("--cached-only", action="store_true", help="report the cached cases, run nothing")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "reports")
    executor.add_arguments(p, default_jobs=1)
    args = p.parse_args(argv)
    from hdl.datapath.config import preset
    presets = [x for x in args.presets.split(",") if x]
    parts = [x for x in args.parts.split(",") if x]
    try:
        for name in presets + [args.array_preset]:
            preset(name)
    except (TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    bad = [x for x in parts if x not in ecp5.PARTS]
    if bad:
        print(f"error: unknown ECP5 part(s) {bad}; known: {', '.join(ecp5.PARTS)}", file=sys.stderr)
        return 2
    cases = default_cases(presets, args.array_preset)
    if args.only:
        want = set(args.only.split(","))
        unknown = want - {c.label for c in cases}
        if unknown:
            print(f"error: unknown case(s) {sorted(unknown)}; known: {', '.join(c.label for c in cases)}",
                  file=sys.stderr)
            return 2
        cases = [c for c in cases if c.label in want]
    try:
        ex = executor.from_args(args)
    except executor.ExecutorError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.time()
    with ex:
        results = measure(cases, ROOT / "build", ex, parts, not args.no_pnr, args.cached_only)
    from . import ecp5_report
    data = {"yosys": f"YoWASP Yosys {ecp5.YOSYS_VERSION} (synth_ecp5)", "nextpnr": "YoWASP nextpnr-ecp5 0.11",
            "package": ecp5.PACKAGE, "parts": ecp5.PARTS, "target_mhz": ecp5.TARGET_MHZ, "seed": ecp5.SEED,
            "machine": run.machine(), "executor": ex.kind, "seconds": round(time.time() - t0, 1),
            "cases": {c.label: {"preset": c.preset, "design": c.design, "variant": c.variant,
                                **results[c.label]} for c in cases}}
    ecp5_report.write(data, args.out)
    run.log(f"wrote {args.out / 'ecp5.json'}, {args.out / 'ecp5.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
