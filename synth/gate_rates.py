"""Energies per event measured at gate level, for the energy per token (synth/token_energy.py).

Everything here comes from the existing gated standard-cell flow and its gate-level simulation
(synth/flows.py, synth/clockgate.py, synth/energy.py, docs/synthesis.md section 3); nothing is
assumed. Per array (the accelerator's own size, e.g. 12 x 12):

- ``busy_cycle_pj``: energy of one more cycle while the array streams, ``(E_long - E_short) /
  (cycles_long - cycles_short)`` of two runs of the same real tiles with 16 and 64 (or the
  flow's) vectors per tile: the steady state (``steady_energy_per_mac_pj *
  steady_macs_per_cycle``), at the workload's beats and pulses;
- ``tile_pj``: what a tile costs besides its vectors, ``(E_short - steady pJ/MAC * MACs_short)
  / tiles``: loading its weights into the shadow registers (one column per beat) and its share
  of the run's fill, drain and reset;
- ``idle_cycle_pj``: a cycle in which the gated array holds (no vector, no weight word): a
  gate-level run of the gated netlist with no input at all for ``IDLE_CYCLES`` cycles after
  reset; only the root clock, the clock gates, the few ungated flip-flops and leakage spend.

The vector unit (``vector_unit.v``, requantization) is measured the same way, gated:
``element_pj`` is the energy of a run of real accumulator sums of the layer through it, divided
by the elements (its pipeline is 3 deep, so fill and drain are < 1 % of 1024 elements).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import designs as D
from . import energy as E
from . import liberty, run, tech
from . import vcd as vcd_mod

__all__ = ["IDLE_CYCLES", "ArrayRates", "array_rates", "idle_run", "vector_unit_rate"]

ROOT = Path(__file__).resolve().parent.parent
IDLE_CYCLES = 400
VU_ELEMENTS = 1024


@dataclasses.dataclass(frozen=True)
class ArrayRates:
    design: str
    busy_cycle_pj: float
    tile_pj: float
    idle_cycle_pj: float
    steady_pj_per_mac: float
    steady_macs_per_cycle: float
    workload_beats: tuple       # beat of every workload tile (cycles per vector)
    workload_pulses_per_weight: float | None
    source: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def rates_from_estimate(design: str, est: dict, idle_cycle_pj: float, source: str) -> ArrayRates:
    """The per-event energies of one array from its gated energy run (short run with its
    ``steady_run``), see the module docstring."""
    s = est["steady_energy_per_mac_pj"]
    fixed = est["energy_pj"] - s * est["macs"]
    return ArrayRates(design, busy_cycle_pj=s * est["steady_macs_per_cycle"],
                      tile_pj=fixed / est["tiles"], idle_cycle_pj=idle_cycle_pj,
                      steady_pj_per_mac=s, steady_macs_per_cycle=est["steady_macs_per_cycle"],
                      workload_beats=tuple(est.get("beat_cycles_per_tile") or ()),
                      workload_pulses_per_weight=est.get("pulses_per_weight"), source=source)


def idle_run(netlist_v: Path, netlist_json: Path, cells_v: Path, top: str, ports, library,
             workdir: Path, cycles: int = IDLE_CYCLES, clock="clk", reset="rst") -> dict:
    """Gate-level run of a netlist whose input streams stay empty for ``cycles`` cycles (the
    testbench waits for an output that never comes and stops at its cycle limit)."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    streams, _ = E.streams_of(ports)
    outs = [s.name for s in streams if s.direction == "out"]
    tmpd = tempfile.mkdtemp(prefix="fineq_idle_")
    fifo = os.path.join(tmpd, "dump.vcd")
    os.mkfifo(fifo)
    try:
        tb = workdir / "tb.v"
        tb.write_text(E.testbench(top, ports, {}, {outs[0]: 1}, None, clock, reset, cycles,
                                  vcd_path=fifo, outdir=str(workdir)))
        srcs = [str(tb), str(netlist_v), str(E.sim_models(cells_v))]
        r = subprocess.run(["iverilog", "-g2012", "-o", str(workdir / "sim.vvp"), "-s", "tb", *srcs],
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise E.EnergyError(f"iverilog failed:\n{r.stderr[-3000:]}")
        proc = subprocess.Popen(["vvp", "-n", str(workdir / "sim.vvp")], cwd=workdir,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        toggles = vcd_mod.count(fifo)
        out, err = proc.communicate()
    finally:
        shutil.rmtree(tmpd, ignore_errors=True)
    if "TB_CYCLES" not in out:
        raise E.EnergyError(f"idle run of {top} failed:\n{out[-2000:]}\n{err[-2000:]}")
    if (workdir / f"out_{outs[0]}.hex").read_text().split():
        raise E.EnergyError(f"idle run of {top}: the array produced output without input")
    n = int(out.split("TB_CYCLES")[1].split()[0])
    est = E.estimate(Path(netlist_json), top, library, toggles, n, clock=clock)
    return {"cycles": n, "energy_pj": est["energy_pj"], "breakdown_pj": est["breakdown_pj"]}


def _preset_dirs(config, size):
    if size == config.rows == config.cols:
        return config, ROOT / "build" / "verilog" / config.name, ROOT / "build" / "synth" / config.name
    cfg = dataclasses.replace(config, name=f"{config.name}_{size}x{size}", rows=size, cols=size)
    wdir = ROOT / "build" / "synth" / "sweep" / f"{size}x{size}"
    return cfg, wdir / "verilog", wdir


def gated_netlist(d, cfg, vdir: Path, wdir: Path, lib_path: Path) -> tuple:
    """The gated standard-cell flow of ``run.measure`` alone (same cache key, so a full
    ``python -m synth`` run reuses it): ``(source, asic_cg result)``."""
    from . import clockgate, flows
    src = d.source(cfg, vdir, wdir / d.name / "rtl")
    src.sram_macros = d.sram_macros
    key = D.fingerprint(src, run.FLOW_VERSION, Path(lib_path).name, False)
    cg = clockgate.MIN_WIDTH
    res = run.cached(wdir / d.name / "asic_cg", key + f"cg{cg}v{clockgate.VERSION}", lambda: flows.asic(
        src, wdir / d.name / "asic_cg", lib_path, hier=False, clock_gating=cg, clock=d.clock))
    return src, res


def array_rates(names, config, size: int, *, tiles=4, vectors=16, steady=64, log=print) -> dict:
    """``{design: ArrayRates}`` of the gated arrays at ``size`` x ``size``: synth's gated energy
    runs (cached results are reused; missing ones run, which takes long) plus an idle run."""
    from synth.__main__ import energy_runs

    from . import flows
    from . import workload as W

    lib_path, cells_v = tech.fetch(ROOT / "build")
    library = liberty.load(lib_path)
    cfg, vdir, wdir = _preset_dirs(config, size)
    wl_long = W.build(W.DEFAULT_LAYER, tokens=max(steady, 64))
    wl = dataclasses.replace(wl_long, x_q=wl_long.x_q[:max(vectors, 64)])
    out = {}
    for name in names:
        d = next(x for x in D.DESIGNS if x.name == name)
        log(f"gate_rates: {name} {size}x{size}: gated standard-cell flow")
        src, asic = gated_netlist(d, cfg, vdir, wdir, lib_path)
        if "area_um2" not in asic:
            raise E.EnergyError(f"{name}: the gated flow failed ({asic.get('error')})")
        log(f"gate_rates: {name}: gated energy runs ({tiles} tiles x {vectors} and {steady} vectors)")
        est = energy_runs([name], cfg, vdir, wdir, lib_path, cells_v, wl, tiles, vectors,
                          {name: {"area_um2": asic["area_um2"]}}, steady=(steady, wl_long),
                          controls=False)["gated"].get(name)
        if not est or "error" in est:
            raise E.EnergyError(f"{name}: no gated energy run ({(est or {}).get('error')})")
        ports = flows.ports_of(src, wdir / name / "ports")
        fp = D.fingerprint(src, run.FLOW_VERSION, "idle", IDLE_CYCLES, E.SEQ_MODELS, E.SEQ_DELAY_NS)
        idle = run.cached(wdir / name / "idle_cg", fp, lambda a=asic, s=src, p=ports, n=name: idle_run(
            Path(a["netlist_v"]), Path(a["netlist_json"]), cells_v, s.top, p, library, wdir / n / "idle_cg"))
        out[name] = rates_from_estimate(name, est, idle["energy_pj"] / idle["cycles"],
                                        f"gated gate-level runs at {size}x{size}: {tiles} tiles x "
                                        f"{vectors} and {steady} vectors of {wl.layer}")
        log(f"gate_rates: {name}: {out[name]}")
    return out


def vector_unit_words(acc: np.ndarray, rq, n_elems: int):
    """Input words of the vector unit (acc, bias, mult, shift, bypass=0, last) for the first
    ``n_elems`` sums of ``acc`` [M, N] in row order, and the golden outputs."""
    from quant.core import golden

    m, n = acc.shape
    idx = np.arange(min(n_elems, m * n))
    rows, cols = idx // n, idx % n
    want = golden.requantize(acc, rq)[rows, cols]
    words = []
    for r, c in zip(rows, cols, strict=True):
        w = (int(acc[r, c]) & 0xFFFFFFFF) | (int(rq.bias[c]) & 0xFFFFFFFF) << 32 \
            | int(rq.mult[c]) << 64 | int(rq.shift[c]) << 79 | int(c == n - 1) << 86
        words.append(w)
    return words, [int(v) for v in want]


def vector_unit_rate(config, acc: np.ndarray, rq, label: str, n_elems: int = VU_ELEMENTS) -> dict:
    """Gated gate-level energy of the vector unit per element on real sums; bit-exact or fails."""
    lib_path, cells_v = tech.fetch(ROOT / "build")
    library = liberty.load(lib_path)
    d = next(x for x in D.DESIGNS if x.name == "vector_unit")
    vdir, wdir = ROOT / "build" / "verilog" / config.name, ROOT / "build" / "synth" / config.name
    from . import flows
    src, asic = gated_netlist(d, config, vdir, wdir, lib_path)
    if "area_um2" not in asic:
        raise E.EnergyError(f"vector_unit: the gated flow failed ({asic.get('error')})")
    ports = flows.ports_of(src, wdir / d.name / "ports")
    words, want = vector_unit_words(acc, rq, n_elems)
    fp = D.fingerprint(src, run.FLOW_VERSION, "vu-energy", label, len(words), E.SEQ_MODELS, E.SEQ_DELAY_NS)

    def go():
        sim = E.simulate(Path(asic["netlist_v"]), cells_v, src.top, ports, {"i": words},
                         {"o": len(words)}, wdir / d.name / "energy_cg_vu", clock=d.clock, reset=d.reset)
        got = [((w & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000 for w in sim["outputs"]["o"]]
        if got != want:
            bad = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b) if len(got) == len(want) else -1
            raise E.EnergyError(f"vector_unit gate-level outputs are wrong (first at {bad})")
        est = E.estimate(Path(asic["netlist_json"]), src.top, library, sim["toggles"], sim["cycles"],
                         clock=d.clock)
        return {"elements": len(words), "cycles": sim["cycles"], "energy_pj": est["energy_pj"],
                "breakdown_pj": est["breakdown_pj"], "check": f"{len(words)} outputs bit-exact"}
    res = run.cached(wdir / d.name / "energy_cg_vu", fp, go)
    return {**res, "element_pj": res["energy_pj"] / res["elements"], "workload": label,
            "area_um2": asic.get("area_um2")}
