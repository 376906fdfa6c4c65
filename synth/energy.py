"""Energy from switching activity of the cell-mapped netlist.

1. The flat netlist from :func:`synth.flows.asic` (OSU 0.18 um cells, ``write_verilog -noattr``) is
   simulated with Icarus Verilog and the library's own cell models, driven by a generated stream
   testbench (:func:`testbench`) that replays real workload words on the design's streams.
2. ``$dumpvars`` writes a VCD into a named pipe; :mod:`synth.vcd` counts the rising and falling
   transitions of every net bit while the simulation runs (nothing is stored).
3. :func:`estimate` turns the counts into energy with the liberty:

   * internal energy of each cell: for every transition of an output pin, the pin's
     ``internal_power`` rise/fall table (averaged over its related input pins) at the net's real
     load (sum of the fan-out pins' capacitances) and the driver's input transition time; for
     input pins with their own (passive) ``internal_power`` (flip-flop ``CLK`` and ``D``), every
     transition of the input net;
   * switching energy of every net: ``C_load * V^2 / 2`` per transition;
   * leakage: the sum of ``cell_leakage_power`` times the run time at the stated clock.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from . import liberty as lib_mod
from . import vcd as vcd_mod

NOMINAL_SLEW_NS = 0.1        # transition time assumed at the primary inputs' drivers
INPUT_DRIVER = "INVX1"        # the cell assumed to drive each primary input (as in the ABC constraints)
CLOCK_MHZ = 100.0             # clock used to turn cycles into time for leakage
# Simulation only: sequential cells (flip-flops, latches) and the testbench's inputs change this
# long after the clock edge, so that a flip-flop on a gated clock (one AND gate after the clock,
# zero delay) samples its D before any register's new value reaches it. Combinational cells stay
# zero-delay, so every net still settles within one time step (functional toggles, no glitches).
SEQ_DELAY_NS = 0.01


class EnergyError(RuntimeError):
    pass


# ------------------------------------------------------------------------------------------------
# testbench

@dataclass
class Stream:
    name: str
    direction: str        # "in" (testbench drives valid/payload) or "out" (testbench drives ready)
    width: int


def streams_of(ports) -> tuple[list[Stream], list[tuple[str, str, int]]]:
    """Group Amaranth-style ports ``X__valid``/``X__ready``/``X__payload`` into streams; return the
    streams and the remaining (plain) ports."""
    names = {n: (d, w) for n, d, w in ports}
    streams, used = [], set()
    for n, (d, _w) in names.items():
        if n.endswith("__valid"):
            base = n[: -len("__valid")]
            pay = names.get(base + "__payload")
            direction = "in" if d == "input" else "out"
            streams.append(Stream(base, direction, pay[1] if pay else 0))
            used |= {n, base + "__payload", base + "__ready"}
    rest = [(n, d, w) for n, d, w in ports if n not in used]
    return streams, rest


def testbench(top: str, ports, words: dict[str, list[int]], expect: dict[str, int],
              constants: dict[str, int] | None = None, clock="clk", reset="rst",
              max_cycles=10_000_000, vcd_path: str | None = None, period_ns=10,
              outdir: str = ".") -> str:
    """A Verilog testbench that plays ``words[stream]`` on every input stream (valid held while
    words remain, advanced on valid & ready), keeps every output stream ready, writes every output
    transfer to ``<outdir>/out_<stream>.hex``, and stops when each output stream has delivered
    ``expect[stream]`` transfers. Reset is held for two cycles. Plain inputs take ``constants``."""
    constants = dict(constants or {})
    streams, plain = streams_of(ports)
    pnames = {n for n, _, _ in ports}
    L = ["`timescale 1ns/1ps", "module tb;", f"  reg {clock} = 0;",
         f"  always #{period_ns / 2} {clock} = ~{clock};", "  integer cycle = 0;"]
    conns = [f".{clock}({clock})"]
    has_rst = reset in pnames
    in_reset = reset if has_rst else "1'b0"
    if has_rst:
        L.append(f"  reg {reset} = 1;")
        conns.append(f".{reset}({reset})")
    for n, d, w in plain:
        if n in (clock, reset):
            continue
        if d == "input":
            L.append(f"  reg [{w - 1}:0] {n} = {w}'d{constants.pop(n, 0)};")
        else:
            L.append(f"  wire [{w - 1}:0] {n};")
        conns.append(f".{n}({n})")
    if constants:
        raise EnergyError(f"{top}: constants for unknown inputs {sorted(constants)}")
    for s in streams:
        if s.direction == "in":
            n = len(words.get(s.name, []))
            L.append(f"  reg [{max(s.width, 1) - 1}:0] {s.name}_mem [0:{max(n, 1) - 1}];")
            L.append(f"  integer {s.name}_i = 0;")
            L.append(f"  wire {s.name}__valid = ({s.name}_i < {n}) && !{in_reset};")
            L.append(f"  wire {s.name}__ready;")
            if s.width:
                L.append(f"  wire [{s.width - 1}:0] {s.name}__payload = {s.name}_mem[{s.name}_i < {n} ? {s.name}_i : 0];")
            L.append(f"  always @(posedge {clock}) if ({s.name}__valid && {s.name}__ready) "
                     f"{s.name}_i <= #{SEQ_DELAY_NS} {s.name}_i + 1;")
            if n:
                L.append(f'  initial $readmemh("{outdir}/in_{s.name}.hex", {s.name}_mem);')
        else:
            L.append(f"  wire {s.name}__valid;")
            L.append(f"  reg {s.name}__ready = 0;")
            if s.width:
                L.append(f"  wire [{s.width - 1}:0] {s.name}__payload;")
            L.append(f"  integer {s.name}_n = 0, {s.name}_fd;")
            L.append(f'  initial {s.name}_fd = $fopen("{outdir}/out_{s.name}.hex", "w");')
            pay = f"{s.name}__payload" if s.width else "1'b1"
            L.append(f"  always @(posedge {clock}) if ({s.name}__valid && {s.name}__ready) begin "
                     f'$fwrite({s.name}_fd, "%h\\n", {pay}); {s.name}_n <= {s.name}_n + 1; end')
        for sig in ("valid", "ready", "payload"):
            if f"{s.name}__{sig}" in pnames:
                conns.append(f".{s.name}__{sig}({s.name}__{sig})")
    L.append(f"  {top} dut({', '.join(conns)});")
    outs = [s for s in streams if s.direction == "out"]
    missing = [s for s in expect if s not in {o.name for o in outs}]
    if missing:
        raise EnergyError(f"{top}: no output stream(s) {missing}")
    done = " && ".join(f"({s.name}_n >= {expect.get(s.name, 0)})" for s in outs) or "1"
    L.append("  initial begin")
    if vcd_path:
        L.append(f'    $dumpfile("{vcd_path}");')
        L.append("    $dumpvars(1, tb.dut);")
    L.append(f"    @(posedge {clock}); @(posedge {clock}); #1;")
    if has_rst:
        L.append(f"    {reset} = 0;")
    for s in outs:
        L.append(f"    {s.name}__ready = 1;")
    L.append(f"    while (!({done}) && cycle < {max_cycles}) begin @(posedge {clock}); cycle = cycle + 1; end")
    L.append(f"    repeat (2) @(posedge {clock});")
    L.append('    $display("TB_CYCLES %0d", cycle + 4);')
    L.append(f'    if (cycle >= {max_cycles}) $display("TB_TIMEOUT");')
    L.append("    $finish;")
    L.append("  end")
    L.append("endmodule")
    return "\n".join(L) + "\n"


# Behavioural models of the library's flip-flops and latch for simulation: the same functions as
# the liberty's ``ff``/``latch`` groups, with a defined power-up state and the output delay above.
# The library's own models are built on sequential UDPs, which go to x at time 0 (the clock's
# x -> 0 matches no row of their tables) and stay x in registers without reset.
SEQ_MODELS = {
    "DFFPOSX1": "module DFFPOSX1 (CLK, D, Q);\n  input CLK, D;\n  output Q;\n  reg IQ = 1'b0;\n"
                "  always @(posedge CLK) IQ <= D;\n  assign #{d} Q = IQ;\nendmodule\n",
    "DFFNEGX1": "module DFFNEGX1 (CLK, D, Q);\n  input CLK, D;\n  output Q;\n  reg IQ = 1'b0;\n"
                "  always @(negedge CLK) IQ <= D;\n  assign #{d} Q = IQ;\nendmodule\n",
    "LATCH": "module LATCH (CLK, D, Q);\n  input CLK, D;\n  output Q;\n  reg IQ = 1'b0;\n"
             "  always @(CLK or D) if (CLK) IQ <= D;\n  assign #{d} Q = IQ;\nendmodule\n",
}


def sim_models(cells_v: Path) -> Path:
    """A copy of the library's Verilog models in which the flip-flops and the latch are
    :data:`SEQ_MODELS` (output ``SEQ_DELAY_NS`` after the clock, power-up state 0); the
    combinational cells are the library's own. Written next to the original, once."""
    import re
    cells_v = Path(cells_v)
    text = cells_v.read_text()
    parts = re.split(r"(?m)^(?=\s*(?:`celldefine\s*)?module\s)", text)
    out = []
    for part in parts:
        m = re.match(r"\s*(?:`celldefine\s*)?module\s+(\w+)", part)
        if m and m.group(1) in SEQ_MODELS:
            tail = part[part.index("endmodule") + len("endmodule"):]
            head = "`celldefine\n" if part.lstrip().startswith("`celldefine") else ""
            part = head + SEQ_MODELS[m.group(1)].format(d=SEQ_DELAY_NS) + tail
        out.append(part)
    new = "".join(out)
    dest = cells_v.with_name(cells_v.stem + "_sim.v")
    if not dest.exists() or dest.read_text() != new:
        dest.write_text(new)
    return dest


def simulate(netlist_v: Path, cells_v: Path | None, top: str, ports, words, expect, workdir: Path,
             constants=None, clock="clk", reset="rst", count_toggles=True,
             max_cycles=10_000_000) -> dict:
    """Run the testbench on ``netlist_v`` (plus the cell models); return the output words, the
    cycle count and (when asked) the toggle counts."""
    for tool in ("iverilog", "vvp"):
        if shutil.which(tool) is None:
            raise EnergyError(f"{tool} not found (Debian package `iverilog`)")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for s, ws in words.items():
        streams, _ = streams_of(ports)
        st = next((x for x in streams if x.name == s), None)
        if st is None or st.direction != "in":
            raise EnergyError(f"{top}: no input stream {s!r}")
        digits = max(1, (st.width + 3) // 4)
        mask = (1 << max(st.width, 1)) - 1
        (workdir / f"in_{s}.hex").write_text("".join(f"{(int(w) & mask):0{digits}x}\n" for w in ws))
    fifo = None
    tmpd = None
    if count_toggles:
        tmpd = tempfile.mkdtemp(prefix="fineq_vcd_")
        fifo = os.path.join(tmpd, "dump.vcd")
        os.mkfifo(fifo)
    tb = workdir / "tb.v"
    tb.write_text(testbench(top, ports, words, expect, constants, clock, reset, max_cycles,
                            vcd_path=fifo, outdir=str(workdir)))
    srcs = [str(tb), str(netlist_v)] + ([str(sim_models(cells_v))] if cells_v else [])
    r = subprocess.run(["iverilog", "-g2012", "-o", str(workdir / "sim.vvp"), "-s", "tb", *srcs],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise EnergyError(f"iverilog failed:\n{r.stderr[-3000:]}")
    result = {}
    proc = subprocess.Popen(["vvp", "-n", str(workdir / "sim.vvp")], cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_buf = {}

    def drain():
        out_buf["out"], out_buf["err"] = proc.communicate()

    th = threading.Thread(target=drain)
    th.start()
    try:
        if count_toggles:
            result["toggles"] = vcd_mod.count(fifo)
    finally:
        th.join()
        if tmpd:
            shutil.rmtree(tmpd, ignore_errors=True)
    stdout = out_buf.get("out", "")
    if proc.returncode != 0 or "TB_CYCLES" not in stdout:
        raise EnergyError(f"simulation of {top} failed:\n{stdout[-2000:]}\n{out_buf.get('err', '')[-2000:]}")
    if "TB_TIMEOUT" in stdout:
        raise EnergyError(f"simulation of {top} timed out after {max_cycles} cycles (outputs missing)")
    result["cycles"] = int(stdout.split("TB_CYCLES")[1].split()[0])
    outs = {}
    for s in expect:
        p = workdir / f"out_{s}.hex"
        outs[s] = [int(x, 16) for x in p.read_text().split()] if p.exists() else []
    result["outputs"] = outs
    return result


# ------------------------------------------------------------------------------------------------
# energy

@dataclass
class NetInfo:
    load_pf: float = 0.0
    slew_ns: float = NOMINAL_SLEW_NS
    driver: tuple | None = None            # (cell instance, cell type, pin)


def _clamp_slew(vals, lo=0.06, hi=1.2):
    """Average driver transition, kept inside the range the library characterises (0.06-1.2 ns
    for OSU 0.18 um): a net whose transition would leave it is a net a real flow would buffer."""
    return min(max(_avg(vals), lo), hi)


def _avg(vals):
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else 0.0


def estimate(netlist_json: Path, top: str, library: lib_mod.Library, toggles: vcd_mod.Toggles,
             cycles: int, scope="tb.dut", clock_mhz=CLOCK_MHZ, output_load_pf=0.02,
             clock: str = "clk") -> dict:
    """Energy (pJ) of one simulated run from per-bit toggle counts; see the module docstring."""
    net = json.loads(Path(netlist_json).read_text())
    mod = net["modules"][top]
    cells = mod["cells"]
    bit_tog = _bit_toggles(mod, toggles, scope)
    nets = _nets(mod, library, output_load_pf)
    clock_nets, clk_sinks = _clock_nets(mod, library, clock)
    for bit in clock_nets:
        nets[bit].slew_ns = NOMINAL_SLEW_NS
    missing = [b for b in nets if b not in bit_tog]
    if len(missing) > 0.01 * max(1, len(nets)):
        raise EnergyError(f"{len(missing)} of {len(nets)} nets have no toggle data in the VCD "
                          "(netlist and VCD names do not match)")
    e_by_inst = {inst: _cell_internal_pj(c, library.cells[c["type"]], nets, bit_tog)
                 for inst, c in cells.items()}
    e_by_type = defaultdict(float)
    for inst, c in cells.items():
        e_by_type[c["type"]] += e_by_inst[inst]
    V = library.voltage
    net_sw = {bit: (bit_tog[bit][0] + bit_tog[bit][1]) * 0.5 * ni.load_pf * V * V
              for bit, ni in nets.items() if bit in bit_tog}
    e_int, e_sw = sum(e_by_inst.values()), sum(net_sw.values())
    breakdown, registers, named_nets = _breakdown(mod, library, cells, e_by_inst, net_sw,
                                                  clock_nets, clk_sinks, nets)
    leak_nw = sum(library.cells[c["type"]].leakage_nw for c in cells.values())
    t_ns = cycles * 1000.0 / clock_mhz
    e_leak = leak_nw * 1e-9 * t_ns * 1e-9 * 1e12   # W * s -> pJ
    return {
        "energy_pj": e_int + e_sw + e_leak,
        "internal_pj": e_int,
        "switching_pj": e_sw,
        "leakage_pj": e_leak,
        "toggles": sum(r + f for bit, (r, f) in bit_tog.items() if bit in nets),
        "nets": len(nets),
        "nets_without_data": len(missing),
        "cycles": cycles,
        "internal_by_cell_type_pj": dict(sorted(e_by_type.items(), key=lambda kv: -kv[1])),
        "breakdown_pj": {**breakdown, "leakage": e_leak},
        "registers_pj": registers,
        "named_nets_pj": named_nets,
        "operating_point": f"{library.operating_point()}; internal-power tables read at each net's "
                           f"fan-out load and its driver's transition time (primary inputs driven "
                           f"by {INPUT_DRIVER} from {NOMINAL_SLEW_NS} ns); leakage at {clock_mhz:g} MHz",
    }


def _bit_toggles(mod, toggles: vcd_mod.Toggles, scope: str) -> dict:
    """Netlist bit id -> (rises, falls), matched by the VCD's (name, index) under ``scope``."""
    counts = {}
    for name, b, r, f in toggles.bit_counts():
        if name.startswith(scope + "."):
            counts[(name[len(scope) + 1:], b)] = (r, f)
    bit_tog = {}
    for name, nn in mod["netnames"].items():
        off = nn.get("offset", 0)
        upto = nn.get("upto", 0)
        n = len(nn["bits"])
        for k, bit in enumerate(nn["bits"]):
            if isinstance(bit, str) or bit in bit_tog:
                continue
            idx = (off + n - 1 - k) if upto else (off + k)
            vname = name.lstrip("\\")      # the VCD reader drops the escape of escaped names too
            c = counts.get((vname, idx))
            if c is None and n == 1:
                c = counts.get((vname, 0))
            if c is not None:
                bit_tog[bit] = c
    return bit_tog


def _nets(mod, library: lib_mod.Library, output_load_pf: float) -> dict[int, NetInfo]:
    """Every net's load (input pins, and ``output_load_pf`` on ports), its driver, and its slew
    from the driver's transition tables at that load."""
    nets: dict[int, NetInfo] = defaultdict(NetInfo)
    for inst, c in mod["cells"].items():
        cell = library.cells.get(c["type"])
        if cell is None:
            raise EnergyError(f"cell type {c['type']} of {inst} is not in the liberty")
        for pin, bits in c["connections"].items():
            p = cell.pins.get(pin)
            if p is None:
                raise EnergyError(f"{c['type']} has no pin {pin}")
            for bit in bits:
                if isinstance(bit, str):
                    continue
                if p.direction == "input":
                    nets[bit].load_pf += p.capacitance
                else:
                    nets[bit].driver = (inst, cell, pin)
    for p in mod["ports"].values():
        if p["direction"] == "output":
            for bit in p["bits"]:
                if not isinstance(bit, str):
                    nets[bit].load_pf += output_load_pf
    drv_in = library.cells.get(INPUT_DRIVER)
    for ni in nets.values():
        if ni.driver is not None:
            _, cell, pin = ni.driver
            arcs = cell.pins[pin].transition
        else:
            arcs = drv_in.outputs[0].transition if drv_in else []
        if arcs:
            ni.slew_ns = _clamp_slew([(r.lookup(total_output_net_capacitance=ni.load_pf, input_net_transition=NOMINAL_SLEW_NS)
                                + f.lookup(total_output_net_capacitance=ni.load_pf, input_net_transition=NOMINAL_SLEW_NS)) / 2
                               for r, f in arcs])
    return nets


def _clock_nets(mod, library: lib_mod.Library, clock: str) -> tuple[set, dict]:
    """The clock port's nets and every net that reaches a clock pin (clock gates' outputs, their
    latches' clocks), with the clock pins each one drives. The clock is assumed to come from a
    balanced tree (not in the netlist): these nets get the nominal slew at the flip-flops; their
    wire and pin capacitance still count as switching energy."""
    clock_nets = {bit for bit in mod["ports"].get(clock, {}).get("bits", []) if not isinstance(bit, str)}
    clk_sinks = defaultdict(list)         # net -> [(instance, pin capacitance)] of clock pins
    for inst, c in mod["cells"].items():
        cell = library.cells[c["type"]]
        for pin, bits in c["connections"].items():
            if cell.pins[pin].clock:
                for bit in bits:
                    if not isinstance(bit, str):
                        clock_nets.add(bit)
                        clk_sinks[bit].append((inst, cell.pins[pin].capacitance))
    return clock_nets, clk_sinks


def _cell_internal_pj(c, cell, nets, bit_tog) -> float:
    """Internal energy of one cell instance: its output arcs at their load and the input slews of
    their related pins, plus its input pins' own power at their slews."""
    e_cell = 0.0
    for pin, bits in c["connections"].items():
        p = cell.pins[pin]
        for bit in bits:
            if isinstance(bit, str) or bit not in bit_tog:
                continue
            r, f = bit_tog[bit]
            ni = nets[bit]
            if p.direction == "output":
                rel_slews = {other: nets[obits[0]].slew_ns for other, obits in c["connections"].items()
                             if cell.pins[other].direction == "input" and obits and not isinstance(obits[0], str)}
                er, ef = [], []
                for arc in p.power:
                    s = rel_slews.get(arc.related_pin, NOMINAL_SLEW_NS)
                    pt = dict(total_output_net_capacitance=ni.load_pf, input_transition_time=s)
                    er.append(arc.rise.lookup(**pt) if arc.rise else None)
                    ef.append(arc.fall.lookup(**pt) if arc.fall else None)
                e_cell += r * _avg(er) + f * _avg(ef)
            else:
                for arc in p.power:
                    if arc.related_pin:
                        continue
                    pt = dict(input_transition_time=ni.slew_ns)
                    e_cell += r * (arc.rise.lookup(**pt) if arc.rise else 0) + \
                        f * (arc.fall.lookup(**pt) if arc.fall else 0)
    return e_cell


def _group(name: str) -> str:
    """'pe_3_2.acc' -> 'pe.acc', 'x_row3' -> 'x_row', 'part_0_1' -> 'part': one name per kind of
    register or net, indices of the instance and the element dropped."""
    import re
    parts = [re.sub(r"(_?\d+)+$", "", p) or p for p in name.lstrip("\\").split(".")]
    return ".".join(parts)


def _breakdown(mod, library, cells, e_by_inst, net_sw, clock_nets, clk_sinks, nets):
    """Energy by class (registers, clock gates, logic, clock nets, data nets), by register group
    (a register's internal energy plus its share of its clock net, by pin capacitance) and by
    named net group (switching energy of the nets that keep a source name)."""
    from .clockgate import is_clock_gate
    names = {}
    for name, nn in mod["netnames"].items():
        if nn.get("hide_name"):
            continue
        for bit in nn["bits"]:
            if not isinstance(bit, str) and bit not in names:
                names[bit] = name
    out = defaultdict(float)
    regs = defaultdict(float)
    for inst, e in e_by_inst.items():
        cell = library.cells[cells[inst]["type"]]
        if is_clock_gate(inst):
            out["clock_gates"] += e
        elif cell.sequential:
            out["registers"] += e
            q = next((b for p, bits in cells[inst]["connections"].items()
                      if cell.pins[p].direction == "output" for b in bits if not isinstance(b, str)), None)
            regs[_group(names.get(q, "(unnamed)"))] += e
        else:
            out["logic"] += e
    for bit, e in net_sw.items():
        if bit in clock_nets:
            out["clock_nets"] += e
            sinks = clk_sinks.get(bit, [])
            total = nets[bit].load_pf or 1.0
            for inst, cap in sinks:
                c = cells[inst]
                if is_clock_gate(inst):
                    continue
                cell = library.cells[c["type"]]
                q = next((b for p, bits in c["connections"].items()
                          if cell.pins[p].direction == "output" for b in bits if not isinstance(b, str)), None)
                regs[_group(names.get(q, "(unnamed)"))] += e * cap / total
        else:
            out["data_nets"] += e
    named = defaultdict(float)
    for bit, e in net_sw.items():
        if bit not in clock_nets:
            named[_group(names[bit]) if bit in names else "(unnamed logic nets)"] += e
    top = dict(sorted(named.items(), key=lambda kv: -kv[1])[:24])
    return dict(out), dict(sorted(regs.items(), key=lambda kv: -kv[1])), top
