"""The three synthesis flows, each run the same way on every design.

* :func:`generic`  - Yosys generic synthesis: gate counts by type, and the CMOS transistor estimate
  (``abc -g cmos`` then ``stat -tech cmos``, flip-flops legalised to plain ``$_DFF_P_`` first so
  that every cell has a transistor cost).
* :func:`asic`     - standard cells: ``dfflibmap`` + ``abc -liberty`` (with a driving cell and a
  load, so ABC buffers and sizes and reports the critical combinational delay with ``stime``);
  area from the liberty; a flat netlist (Verilog + JSON) for gate-level simulation, and a
  hierarchical run for the area breakdown by block.
* :func:`ice40`    - ``synth_ice40`` with DSP inference off (default) and on (``-dsp``); LUT, carry,
  flip-flop and DSP counts; Fmax from ``nextpnr-ice40`` on a wrapper that registers every input
  and output of the design.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from . import clockgate
from . import liberty as lib_mod


class FlowError(RuntimeError):
    pass


@dataclass
class Source:
    """What a flow synthesises: Verilog files and the top module.

    ``sram_macros``: memories with a write port stay ``$mem_v2`` cells, standing for SRAM macros
    (the OSU cells have no memory compiler; mapped to flip-flops, the accelerator's 31 KiB of
    buffers would be some 250,000 flip-flops). Their area is not counted; their sizes are reported.
    Read-only memories (ROMs Yosys makes from case statements) are logic and are mapped as such.
    """
    files: list[Path]
    top: str
    sram_macros: bool = False

    def read_cmds(self) -> str:
        return "\n".join(f"read_verilog -sv -noassert {Path(f).resolve()}" for f in self.files) + \
            f"\nhierarchy -check -top {self.top}\n"

    def synth_cmds(self, flatten: bool = True) -> str:
        flat = "-flatten " if flatten else ""
        if not self.sram_macros:
            return f"synth {flat}-top {self.top}\n"
        # Yosys's `synth` script with memory_map applied to ROMs only
        return f"""synth {flat}-top {self.top} -run begin:fine
opt -fast -full
memory_map t:$mem_v2 r:WR_PORTS=0 %i
opt -full
techmap
opt -fast
abc -fast
opt -fast
hierarchy -check
check
"""


MEMORY = "$mem_v2"


def sram_macros(cells: dict) -> list[dict]:
    """The memories left as macros in a Yosys JSON module's ``cells``: name, words, width, ports."""
    out = []
    for name, c in cells.items():
        if c["type"] != MEMORY:
            continue
        p = {k: int(str(v), 2) if isinstance(v, str) and set(v) <= {"0", "1"} else int(v)
             for k, v in c["parameters"].items() if k in ("SIZE", "WIDTH", "RD_PORTS", "WR_PORTS")}
        out.append({"name": name.lstrip("\\"), "words": p["SIZE"], "width": p["WIDTH"],
                    "read_ports": p["RD_PORTS"], "write_ports": p["WR_PORTS"],
                    "bits": p["SIZE"] * p["WIDTH"]})
    return sorted(out, key=lambda m: -m["bits"])


def _yosys(script: str, workdir: Path, log_name: str, timeout=3600) -> str:
    if shutil.which("yosys") is None:
        raise FlowError("yosys not found on PATH (Debian package `yosys`; `make setup` installs it)")
    workdir.mkdir(parents=True, exist_ok=True)
    ys = workdir / (log_name + ".ys")
    ys.write_text(script)
    log = workdir / (log_name + ".log")
    r = subprocess.run(["yosys", "-q", "-l", str(log), "-s", str(ys)], cwd=workdir,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        tail = "\n".join((r.stderr or r.stdout or log.read_text()).strip().splitlines()[-15:])
        raise FlowError(f"yosys failed for {ys}:\n{tail}")
    return log.read_text()


# ------------------------------------------------------------------------------------------------
# generic

def generic(src: Source, workdir: Path) -> dict:
    logic = " t:$mem_v2 %n" if src.sram_macros else ""      # count logic only; macros apart
    script = src.read_cmds() + src.synth_cmds() + f"""
tee -q -o gates.json stat -json{logic}
dfflegalize -cell $_DFF_P_ 01
abc -g cmos
opt_clean
tee -q -o cmos.json stat -json -tech cmos{logic}
"""
    _yosys(script, workdir, "generic")
    gates = _stat_module(_stat_json(workdir / "gates.json"), src.top)
    cmos = _stat_module(_stat_json(workdir / "cmos.json"), src.top)
    tr = str(cmos.get("estimated_num_transistors", "0"))
    if tr.endswith("+"):
        raise FlowError(f"transistor estimate incomplete for {src.top}: cell types without a CMOS cost")
    by_type = gates["num_cells_by_type"]
    ffs = sum(n for t, n in by_type.items() if "DFF" in t or "DLATCH" in t)
    return {
        "gates": gates["num_cells"] - ffs,
        "flip_flops": ffs,
        "gates_by_type": by_type,
        "cmos_cells_by_type": cmos["num_cells_by_type"],
        "transistors": int(tr),
    }


def _stat_json(path: Path) -> dict:
    # Yosys 0.23 leaves a trailing comma in `stat -json` when given a selection
    return json.loads(re.sub(r",\s*}\s*$", "}", path.read_text()))


def _stat_module(stat_json, top):
    mods = stat_json["modules"]
    for k in (f"\\{top}", top):
        if k in mods:
            return mods[k]
    if len(mods) == 1:
        return next(iter(mods.values()))
    return stat_json["design"]


# ------------------------------------------------------------------------------------------------
# standard cells

DRIVING_CELL = "INVX1"
OUTPUT_LOAD_PF = 0.02


def asic(src: Source, workdir: Path, liberty: Path, hier: bool = True,
         clock_gating: int | None = None, clock: str = "clk") -> dict:
    """The standard-cell flow. With ``clock_gating = n``, every register bank of at least ``n``
    flip-flops with a common enable is clocked through an integrated clock gate instead of an
    enable multiplexer (:mod:`synth.clockgate`); everything else is the same flow."""
    library = lib_mod.load(liberty)
    constr = workdir / "abc.constr"
    workdir.mkdir(parents=True, exist_ok=True)
    drive = DRIVING_CELL if DRIVING_CELL in library.cells else min(
        (c for c in library.cells.values() if len(c.inputs) == 1 and not c.sequential), key=lambda c: c.area).name
    constr.write_text(f"set_driving_cell {drive}\nset_load {OUTPUT_LOAD_PF}\n")
    lib = Path(liberty).resolve()
    map_cmds = f"""
dfflibmap -liberty {lib}
abc -liberty {lib} -constr {constr.resolve()}
opt_clean -purge
setundef -zero
"""
    head = f"read_liberty -lib {lib}\n" + src.read_cmds() + src.synth_cmds()
    gating = None
    if clock_gating:
        _yosys(head + clockgate.LEGALIZE + "write_json pre_cg.json\n", workdir, "asic_pre_cg")
        gating = clockgate.insert(workdir / "pre_cg.json", workdir / "cg.json", src.top, clock,
                                  clock_gating)
        head = f"read_liberty -lib {lib}\nread_json {(workdir / 'cg.json').resolve()}\n" \
               f"hierarchy -top {src.top}\n"
    flat = head + map_cmds + f"""
rename -enumerate
check -assert
tee -q -o asic_stat.txt stat -liberty {lib}
write_verilog -noattr -noexpr netlist.v
write_json netlist.json
"""
    log = _yosys(flat, workdir, "asic")
    delays = [float(x) for x in re.findall(r"Delay\s*=\s*([0-9.]+)\s*ps", log)]
    net = json.loads((workdir / "netlist.json").read_text())
    mod = net["modules"][src.top]
    counts = Counter(c["type"] for c in mod["cells"].values() if c["type"] != MEMORY)
    unknown = [t for t in counts if t not in library.cells]
    if unknown:
        raise FlowError(f"netlist of {src.top} has cells not in the liberty: {unknown}")
    area = sum(library.cells[t].area * n for t, n in counts.items())
    seq_area = sum(library.cells[t].area * n for t, n in counts.items() if library.cells[t].sequential)
    m = re.search(r"Chip area for module '\\?[^']*':\s*([0-9.]+)", (workdir / "asic_stat.txt").read_text())
    if m and abs(float(m.group(1)) - area) > 1e-6 * max(area, 1):
        raise FlowError(f"area mismatch: yosys says {m.group(1)}, liberty sum {area}")
    # cells whose liberty area is wrong (the OSU LATCH: 0): the LEF's area instead
    fixes = {t: (clockgate.AREA_FIXES[t] - library.cells[t].area) * n for t, n in counts.items()
             if t in clockgate.AREA_FIXES}
    area += sum(fixes.values())
    seq_area += sum(fixes.values())
    leak = sum(library.cells[t].leakage_nw * n for t, n in counts.items())
    dff = library.cells.get("DFFPOSX1")
    tcq = tsu = 0.0
    if dff is not None:
        tcq, tsu = _dff_timing(liberty)
    crit = max(delays) / 1000 if delays else None
    out = {
        "area_um2": area,
        "area_nand2": area / library.nand2_area,
        "sequential_area_um2": seq_area,
        "cells": sum(counts.values()),
        "cells_by_type": dict(sorted(counts.items())),
        "leakage_nw": leak,
        "comb_delay_ns": crit,
        "clk_to_q_ns": tcq, "setup_ns": tsu,
        "asic_fmax_mhz": (1000.0 / (crit + tcq + tsu)) if crit else None,
        "sram_macros": sram_macros(mod["cells"]),
        "netlist_v": str(workdir / "netlist.v"),
        "netlist_json": str(workdir / "netlist.json"),
    }
    if fixes:
        out["area_fixes_um2"] = fixes
    if gating is not None:
        out["clock_gating"] = gating
    if hier:
        out["blocks"] = asic_blocks(src, workdir / "hier", lib, constr, library)
    return out


def _dff_timing(liberty):
    """clk->Q (max of rise/fall) and setup of DFFPOSX1, read from the raw liberty at a light load."""
    root = lib_mod.parse(Path(liberty).read_text(errors="replace"))
    tcq = tsu = 0.0
    for cg in root.sub("cell"):
        if cg.args[0] != "DFFPOSX1":
            continue
        for pg in cg.sub("pin"):
            for tg in pg.sub("timing"):
                for tab in tg.groups:
                    vals = [float(x) for v in tab.attr("values", []) for x in re.split(r"[,\s]+", v) if x] \
                        if isinstance(tab.attr("values"), list) else []
                    if not vals:
                        continue
                    if tab.kind in ("cell_rise", "cell_fall"):
                        tcq = max(tcq, vals[0])
                    if tab.kind in ("rise_constraint", "fall_constraint") and tg.attr("timing_type") == "setup_rising":
                        tsu = max(tsu, vals[0])
    return tcq, tsu


def _block_name(module: str) -> str:
    """Amaranth names submodules 'top.pe_3_1' etc.: keep the last path element, drop indices."""
    leaf = module.lstrip("\\").split(".")[-1]
    leaf = re.sub(r"(_?\d+)+$", "", leaf)
    leaf = re.sub(r"\$.*$", "", leaf)
    return leaf or module


def asic_blocks_run(src: Source, workdir: Path, liberty: Path) -> dict:
    """The area-by-block run on its own (see :func:`asic_blocks`)."""
    library = lib_mod.load(liberty)
    workdir.mkdir(parents=True, exist_ok=True)
    constr = workdir / "abc.constr"
    constr.write_text(f"set_driving_cell {DRIVING_CELL}\nset_load {OUTPUT_LOAD_PF}\n")
    return {"blocks": asic_blocks(src, workdir, Path(liberty).resolve(), constr, library)}


def _delay_by_module(log: str) -> dict[str, float]:
    """ABC's critical combinational delay (ns) of each module of a hierarchical run: the log
    names the module it extracts, then ABC prints that module's ``Delay =``. Paths that cross a
    module boundary are not in any of them (the flat run times those)."""
    out, module = {}, None
    for line in log.splitlines():
        m = re.search(r"Extracting gate netlist of module `\\?([^']+)'", line)
        if m:
            module = m.group(1)
            continue
        m = re.search(r"Delay\s*=\s*([0-9.]+)\s*ps", line)
        if m and module is not None:
            out[module] = max(out.get(module, 0.0), float(m.group(1)) / 1000)
    return out


def asic_blocks(src: Source, workdir: Path, lib: Path, constr: Path, library) -> dict:
    """Area by block from a hierarchical (not flattened) run: each module's own cells, times the
    number of times it is instantiated, grouped by module name with indices removed."""
    script = f"read_liberty -lib {lib}\n" + src.read_cmds() + src.synth_cmds(flatten=False) + f"""
dfflibmap -liberty {lib}
abc -liberty {lib} -constr {constr.resolve()}
opt_clean -purge
write_json hier.json
"""
    delays = _delay_by_module(_yosys(script, workdir, "hier"))
    net = json.loads((workdir / "hier.json").read_text())
    mods = net["modules"]
    own = {}
    subs = {}
    for name, m in mods.items():
        a_seq = a_comb = 0.0
        s = Counter()
        for c in m["cells"].values():
            t = c["type"]
            if t in library.cells:
                cell = library.cells[t]
                if cell.sequential:
                    a_seq += cell.area
                else:
                    a_comb += cell.area
            elif t in mods:
                s[t] += 1
        own[name] = (a_seq, a_comb)
        subs[name] = s
    mult = Counter()

    def walk(name, k):
        mult[name] += k
        for child, n in subs[name].items():
            walk(child, k * n)

    top = src.top if src.top in mods else next(n for n, m in mods.items() if m.get("attributes", {}).get("top"))
    walk(top, 1)
    blocks = {}
    for name, k in mult.items():
        b = "(top glue)" if name == top else _block_name(name)
        seq, comb = own[name]
        e = blocks.setdefault(b, {"area_um2": 0.0, "sequential_um2": 0.0, "combinational_um2": 0.0,
                                  "instances": 0, "comb_delay_ns": 0.0})
        e["comb_delay_ns"] = max(e["comb_delay_ns"], delays.get(name.lstrip("\\"), 0.0))
        e["area_um2"] += k * (seq + comb)
        e["sequential_um2"] += k * seq
        e["combinational_um2"] += k * comb
        e["instances"] += k
    return dict(sorted(blocks.items(), key=lambda kv: -kv[1]["area_um2"]))


# ------------------------------------------------------------------------------------------------
# iCE40

def ice40(src: Source, workdir: Path, dsp: bool, pnr: bool = True, clock: str = "clk",
          seed: int = 1) -> dict:
    tag = "dsp" if dsp else "nodsp"
    script = src.read_cmds() + f"""
synth_ice40 -top {src.top} {"-dsp" if dsp else ""} -json {tag}.json
tee -q -o {tag}_stat.json stat -json
"""
    _yosys(script, workdir, f"ice40_{tag}")
    st = _stat_module(json.loads((workdir / f"{tag}_stat.json").read_text()), src.top)
    by = st["num_cells_by_type"]
    out = {
        "luts": by.get("SB_LUT4", 0),
        "carries": by.get("SB_CARRY", 0),
        "flip_flops": sum(n for t, n in by.items() if t.startswith("SB_DFF")),
        "dsps": by.get("SB_MAC16", 0),
        "brams": sum(n for t, n in by.items() if t.startswith("SB_RAM")),
        "cells_by_type": by,
    }
    if pnr:
        device, _, lcs, dsps, brams = DEVICES[dsp]
        ports = ports_of(src, workdir)
        io_ffs = sum(w for n, d, w in ports if n != clock)
        need = max(out["luts"], out["flip_flops"] + io_ffs)
        if need > lcs or out["dsps"] > dsps or out["brams"] > brams:
            out.update({"fmax_mhz": None, "device": device,
                        "fmax_note": f"does not fit iCE40 {device.upper()}: about {need} logic cells "
                                     f"with registered I/O, {out['dsps']} DSPs and {out['brams']} block RAMs; "
                                     f"the device has {lcs}, {dsps} and {brams}"})
        else:
            out.update(ice40_fmax(src, workdir / f"pnr_{tag}", dsp=dsp, clock=clock, seed=seed))
    return out


# device, package, logic cells, DSPs, 4 Kbit block RAMs
DEVICES = {False: ("hx8k", "ct256", 7680, 0, 32), True: ("up5k", "sg48", 5280, 8, 30)}


def ports_of(src: Source, workdir: Path) -> list[tuple[str, str, int]]:
    """(name, direction, width) of the top module's ports, in declaration order."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = src.read_cmds() + "proc\nwrite_json ports.json\n"
    _yosys(script, workdir, "ports")
    mods = json.loads((workdir / "ports.json").read_text())["modules"]
    ports = mods[src.top]["ports"]
    return [(n, p["direction"], len(p["bits"])) for n, p in ports.items()]


def wrapper_verilog(top: str, ports, clock="clk", name="fpga_wrap") -> str:
    """A top level with every DUT input fed by a flip-flop (a serial shift chain from one pin) and
    every DUT output captured by a flip-flop, then folded into one pin by a pipelined XOR tree, so
    that nextpnr times only register-to-register paths and the design fits the package pins."""
    ins = [(n, w) for n, d, w in ports if d == "input" and n != clock]
    outs = [(n, w) for n, d, w in ports if d == "output"]
    if any(d == "inout" for _, d, _ in ports):
        raise FlowError(f"{top}: inout ports are not supported by the FPGA wrapper")
    if clock not in [n for n, _, _ in ports]:
        raise FlowError(f"{top}: no clock port named {clock!r}")
    win = max(1, sum(w for _, w in ins))
    wout = max(1, sum(w for _, w in outs))
    L = [f"module {name}(input clk, input sin, output sout);",
         f"  reg [{win - 1}:0] in_r = 0;",
         f"  always @(posedge clk) in_r <= {{in_r[{win - 2}:0], sin}};" if win > 1 else
         "  always @(posedge clk) in_r <= sin;",
         f"  wire [{wout - 1}:0] out_w;",
         f"  reg [{wout - 1}:0] out_r = 0;",
         "  always @(posedge clk) out_r <= out_w;"]
    conns = [f".{clock}(clk)"]
    pos = 0
    for n, w in ins:
        conns.append(f".{n}(in_r[{pos + w - 1}:{pos}])")
        pos += w
    pos = 0
    for n, w in outs:
        conns.append(f".{n}(out_w[{pos + w - 1}:{pos}])")
        pos += w
    L.append(f"  {top} dut({', '.join(conns)});")
    level, width = 0, wout
    prev = "out_r"
    while width > 1:
        nw = (width + 3) // 4
        L.append(f"  reg [{nw - 1}:0] x{level} = 0;")
        L.append("  always @(posedge clk) begin")
        for i in range(nw):
            hi = min(width, 4 * i + 4) - 1
            L.append(f"    x{level}[{i}] <= ^{prev}[{hi}:{4 * i}];")
        L.append("  end")
        prev, width, level = f"x{level}", nw, level + 1
    L.append(f"  assign sout = {prev}[0];")
    L.append("endmodule")
    return "\n".join(L) + "\n"


def ice40_fmax(src: Source, workdir: Path, dsp: bool, clock="clk", seed=1) -> dict:
    if shutil.which("nextpnr-ice40") is None:
        raise FlowError("nextpnr-ice40 not found (Debian package `nextpnr-ice40`)")
    workdir.mkdir(parents=True, exist_ok=True)
    ports = ports_of(src, workdir)
    wrap = workdir / "fpga_wrap.v"
    wrap.write_text(wrapper_verilog(src.top, ports, clock))
    wsrc = Source(list(src.files) + [wrap], "fpga_wrap")
    script = wsrc.read_cmds() + f"synth_ice40 -top fpga_wrap {'-dsp' if dsp else ''} -json wrap.json\n" \
        "tee -q -o wrap_stat.json stat -json\n"
    _yosys(script, workdir, "wrap")
    st = _stat_module(json.loads((workdir / "wrap_stat.json").read_text()), "fpga_wrap")["num_cells_by_type"]
    device, package, lcs, dsps, _ = DEVICES[dsp]
    luts = st.get("SB_LUT4", 0)
    ffs = sum(n for t, n in st.items() if t.startswith("SB_DFF"))
    need = max(luts, ffs)
    if need > lcs or st.get("SB_MAC16", 0) > dsps:
        return {"fmax_mhz": None, "device": device,
                "fmax_note": f"does not fit iCE40 {device.upper()} ({need} logic cells with the I/O "
                             f"wrapper, {st.get('SB_MAC16', 0)} DSPs; device has {lcs}, {dsps})"}
    pcf = workdir / "wrap.pcf"
    pcf.write_text("")
    report = workdir / "report.json"
    cmd = ["nextpnr-ice40", f"--{device}", "--package", package, "--json", "wrap.json",
           "--pcf-allow-unconstrained", "--report", str(report.name), "--seed", str(seed),
           "--freq", "12", "--timing-allow-fail", "-q", "--log", "nextpnr.log"]
    r = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0 or not report.exists():
        tail = "\n".join((r.stderr or "").strip().splitlines()[-10:])
        return {"fmax_mhz": None, "device": device, "fmax_note": f"nextpnr failed: {tail}"}
    rep = json.loads(report.read_text())
    fmax = rep.get("fmax", {})
    clk = next((v for k, v in fmax.items() if "clk" in k), None) or next(iter(fmax.values()), None)
    util = rep.get("utilization", {})
    return {"fmax_mhz": clk["achieved"] if clk else None, "device": device,
            "pnr_logic_cells": util.get("ICESTORM_LC", {}).get("used")}
