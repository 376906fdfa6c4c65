"""Fast unit tests of the synthesis flow's pieces: liberty reader, VCD toggle counter, energy
arithmetic, cell models, FPGA wrapper, stream testbench. No synthesis tool is run here."""
import json
import shutil
import subprocess

import pytest

from synth import cellmodels, energy, liberty, vcd, workload
from synth.flows import wrapper_verilog

# A hand-written library: units chosen so that every conversion is exercised (ff capacitance,
# uW leakage, ps time), tables small enough to interpolate by hand.
LIB = r"""
/* test library */
library (toy) {
  time_unit : "1ps" ;
  voltage_unit : "1V";
  current_unit : "1uA";
  leakage_power_unit : "1uW";
  capacitive_load_unit (1, ff);
  nom_voltage : 1.5;
  operating_conditions (slow) { process : 1; voltage : 1.2; temperature : 85; }
  default_operating_conditions : slow;
  lu_table_template (tr2) { variable_1 : total_output_net_capacitance; variable_2 : input_net_transition;
    index_1 ("1, 2"); index_2 ("1, 2"); }
  power_lut_template (e2) { variable_1 : total_output_net_capacitance; variable_2 : input_transition_time;
    index_1 ("1, 2"); index_2 ("1, 2"); }
  power_lut_template (p1) { variable_1 : input_transition_time; index_1 ("1, 2"); }
  cell (INV) {
    area : 2;
    cell_leakage_power : 0.5;
    pin (A) { direction : input; capacitance : 2.0; }
    pin (Y) { direction : output; function : "!A";
      timing () { related_pin : "A";
        rise_transition (tr2) { index_1 ("1, 10"); index_2 ("100, 200"); values ("100, 100", "100, 100"); }
        fall_transition (tr2) { index_1 ("1, 10"); index_2 ("100, 200"); values ("100, 100", "100, 100"); } }
      internal_power () { related_pin : "A";
        rise_power (e2) { index_1 ("1, 3"); index_2 ("100, 300"); values ("10, 20", "30, 40"); }
        fall_power (e2) { index_1 ("1, 3"); index_2 ("100, 300"); values ("1, 1", "1, 1"); } }
    }
  }
  cell (NAND2) {
    area : 3;
    cell_leakage_power : 1;
    pin (A) { direction : input; capacitance : 1.0; }
    pin (B) { direction : input; capacitance : 1.0; }
    pin (Y) { direction : output; function : "!(A B)"; }
  }
  cell (XOR2) {
    area : 5;
    pin (A) { direction : input; capacitance : 1.0; }
    pin (B) { direction : input; capacitance : 1.0; }
    pin (Y) { direction : output; function : "(A^B)"; }
  }
  cell (DFF) {
    area : 8;
    ff (IQ, IQN) { next_state : "D"; clocked_on : "CLK"; }
    pin (CLK) { direction : input; clock : true; capacitance : 3.0;
      internal_power () { rise_power (p1) { index_1 ("100, 300"); values ("4, 8"); }
                          fall_power (p1) { index_1 ("100, 300"); values ("2, 2"); } } }
    pin (D) { direction : input; capacitance : 1.0; }
    pin (Q) { direction : output; function : "IQ"; }
    pin (QN) { direction : output; function : "IQN"; }
  }
}
"""


@pytest.fixture
def lib(tmp_path):
    p = tmp_path / "toy.lib"
    p.write_text(LIB)
    return liberty.load(p)


def test_liberty_units_and_cells(lib):
    assert lib.name == "toy"
    assert (lib.voltage, lib.temperature, lib.process) == (1.2, 85.0, "slow")   # operating_conditions win over nom_voltage
    assert lib.energy_unit_pj == pytest.approx(1e-3)       # fF * V^2 = 1e-3 pJ
    inv = lib.cells["INV"]
    assert inv.area == 2 and inv.leakage_nw == pytest.approx(500.0)   # 0.5 uW
    assert inv.pins["A"].capacitance == pytest.approx(0.002)           # 2 fF in pF
    assert lib.nand2_area == 3
    dff = lib.cells["DFF"]
    assert dff.sequential and dff.next_state == "D" and dff.clocked_on == "CLK"
    assert dff.state_vars == ["IQ", "IQN"]
    assert not lib.cells["XOR2"].sequential


def test_liberty_table_interpolation(lib):
    arc = lib.cells["INV"].pins["Y"].power[0]
    # axes were converted: 1..3 fF -> pF, 100..300 ps -> ns; values fF*V^2 -> pJ
    t = arc.rise
    assert t.lookup(total_output_net_capacitance=0.001, input_transition_time=0.1) == pytest.approx(0.010)
    assert t.lookup(total_output_net_capacitance=0.003, input_transition_time=0.3) == pytest.approx(0.040)
    # centre of the square is the mean of the four corners
    assert t.lookup(total_output_net_capacitance=0.002, input_transition_time=0.2) == pytest.approx(0.025)
    # linear extrapolation beyond the last load point
    assert t.lookup(total_output_net_capacitance=0.005, input_transition_time=0.1) == pytest.approx(0.050)
    p1 = lib.cells["DFF"].pins["CLK"].power[0].rise
    assert p1.lookup(input_transition_time=0.2) == pytest.approx(0.006)


@pytest.mark.parametrize("text, msg", [
    ("cell (X) { area : 1; }", "not 'library'"),
    ("library (x) { cell (A) { area : 1; }", "not closed"),
    ("library (x) { cell (A) { area : 1; } } junk", None),
])
def test_liberty_errors(text, msg):
    if msg is None:
        liberty.parse(text)   # trailing text after the library group is ignored
        return
    with pytest.raises(liberty.LibertyError, match=msg):
        liberty.parse(text)


def test_liberty_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="fetch"):
        liberty.load(tmp_path / "nope.lib")


VCD = """$date today $end
$timescale 1ps $end
$scope module tb $end
$scope module dut $end
$var wire 1 ! a $end
$var wire 3 " \\v.x [2:0] $end
$var wire 1 # b $end
$upscope $end
$var reg 1 $ clk $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
x!
b000 "
0#
0$
$end
#5
1!
b101 "
1#
0#
#10
0!
b11 "
#15
1!
b1 "
"""


def test_vcd_counts_settled_transitions(tmp_path):
    p = tmp_path / "t.vcd"
    p.write_text(VCD)
    t = vcd.count(p)
    bits = {(n, i): (r, f) for n, i, r, f in t.bit_counts()}
    # x -> 1 is not a transition; then 1->0 (#10), 0->1 (#15)
    assert bits[("tb.dut.a", 0)] == (1, 1)
    # b 1->0 inside one time step is a zero-width glitch: no transition
    assert bits[("tb.dut.b", 0)] == (0, 0)
    # v: 000 -> 101 -> 011 (short value zero-extended) -> 001
    assert bits[("tb.dut.v.x", 0)] == (1, 0)
    assert bits[("tb.dut.v.x", 1)] == (1, 1)
    assert bits[("tb.dut.v.x", 2)] == (1, 1)
    assert t.end_time == 15 and t.timescale == "1ps"


def test_energy_arithmetic(lib, tmp_path):
    """One inverter driving a flip-flop's D and a primary output; the clock drives the flip-flop.
    Every expected figure is worked out from the library text above, by hand."""
    net = {"modules": {"top": {
        "ports": {"clk": {"direction": "input", "bits": [2]},
                  "a": {"direction": "input", "bits": [3]},
                  "q": {"direction": "output", "bits": [5]}},
        "cells": {
            "u1": {"type": "INV", "connections": {"A": [3], "Y": [4]}},
            "r1": {"type": "DFF", "connections": {"CLK": [2], "D": [4], "Q": [5], "QN": ["0"]}},
        },
        "netnames": {"clk": {"bits": [2]}, "a": {"bits": [3]}, "n4": {"bits": [4]}, "q": {"bits": [5]}},
    }}}
    jp = tmp_path / "net.json"
    jp.write_text(json.dumps(net))
    tg = vcd.Toggles()
    counts = {"clk": (10, 10), "a": (3, 2), "n4": (2, 3), "q": (1, 1)}
    for code, (name, (r, f)) in enumerate(counts.items()):
        tg.vars[str(code)] = [vcd.Var(str(code), f"tb.dut.{name}", 1, 0, 0)]
        tg.rise[str(code)] = [r]
        tg.fall[str(code)] = [f]
    est = energy.estimate(jp, "top", lib, tg, cycles=10, clock_mhz=100.0, output_load_pf=0.004)
    V2 = 1.2 ** 2
    # loads: n4 -> D (1 fF); q -> output load 4 fF; clk -> CLK 3 fF; a -> INV.A 2 fF
    # INV output n4: load 0.001 pF; its input 'a' has no driver cell (no INV named "INVX1" here)
    # so the slew is the nominal 0.1 ns -> rise table at (0.001, 0.1) = 10 fJ, fall = 1 fJ
    inv_int = 2 * 0.010 + 3 * 0.001
    # DFF: CLK passive at the nominal clock slew 0.1 ns: rise 4 fJ, fall 2 fJ; D and Q have no tables
    dff_int = 10 * 0.004 + 10 * 0.002
    sw = 0.5 * V2 * (20 * 0.003 + 5 * 0.002 + 5 * 0.001 + 2 * 0.004)
    leak = (500 + 0) * 1e-9 * (10 * 10e-9) * 1e12     # INV 0.5 uW, DFF none, 100 ns
    assert est["internal_pj"] == pytest.approx(inv_int + dff_int)
    assert est["switching_pj"] == pytest.approx(sw)
    assert est["leakage_pj"] == pytest.approx(leak)
    assert est["energy_pj"] == pytest.approx(inv_int + dff_int + sw + leak)
    assert est["toggles"] == 20 + 5 + 5 + 2


def test_energy_refuses_unmatched_names(lib, tmp_path):
    net = {"modules": {"top": {"ports": {}, "cells": {
        "u1": {"type": "INV", "connections": {"A": [3], "Y": [4]}}},
        "netnames": {"a": {"bits": [3]}, "y": {"bits": [4]}}}}}
    jp = tmp_path / "net.json"
    jp.write_text(json.dumps(net))
    with pytest.raises(energy.EnergyError, match="no toggle data"):
        energy.estimate(jp, "top", lib, vcd.Toggles(), cycles=1)


@pytest.mark.parametrize("func, table", [
    ("!(A B)", lambda a, b: 1 - (a & b)),
    ("(A+B)'", lambda a, b: 1 - (a | b)),
    ("A^B", lambda a, b: a ^ b),
    ("(!((A B)+(!A !B)))", lambda a, b: a ^ b),
    ("A*!B | 0", lambda a, b: a & (1 - b)),
])
def test_function_to_verilog(func, table):
    expr = cellmodels.function_to_verilog(func)
    for a in (0, 1):
        for b in (0, 1):
            py = expr.replace("~", "1^").replace("1'b0", "0").replace("1'b1", "1")
            assert eval(py, {"A": a, "B": b}) & 1 == table(a, b), (func, expr)


def test_function_errors():
    with pytest.raises(cellmodels.ModelError):
        cellmodels.function_to_verilog("(A B")


def test_wrapper_registers_every_port():
    ports = [("clk", "input", 1), ("rst", "input", 1), ("a", "input", 8), ("y", "output", 20)]
    v = wrapper_verilog("dut_top", ports)
    assert "dut_top dut(.clk(clk), .rst(in_r[0:0]), .a(in_r[8:1]), .y(out_w[19:0]))" in v
    # 20 outputs fold 4:1 per registered level: 5, 2, 1
    assert "reg [4:0] x0" in v and "reg [1:0] x1" in v and "reg [0:0] x2" in v
    with pytest.raises(Exception, match="clock"):
        wrapper_verilog("d", [("c", "input", 1)])


def test_stream_grouping_and_testbench():
    ports = [("clk", "input", 1), ("rst", "input", 1), ("i__valid", "input", 1), ("i__ready", "output", 1),
             ("i__payload", "input", 17), ("o__valid", "output", 1), ("o__ready", "input", 1),
             ("o__payload", "output", 20), ("mode", "input", 2), ("status", "output", 3)]
    streams, rest = energy.streams_of(ports)
    assert [(s.name, s.direction, s.width) for s in streams] == [("i", "in", 17), ("o", "out", 20)]
    assert [n for n, _, _ in rest] == ["clk", "rst", "mode", "status"]
    tb = energy.testbench("d", ports, {"i": [1, 2, 3]}, {"o": 1}, constants={"mode": 2})
    assert "reg [1:0] mode = 2'd2;" in tb
    assert "(o_n >= 1)" in tb
    with pytest.raises(energy.EnergyError, match="unknown inputs"):
        energy.testbench("d", ports, {}, {"o": 1}, constants={"nope": 1})
    with pytest.raises(energy.EnergyError, match="no output stream"):
        energy.testbench("d", ports, {}, {"zz": 1})


def test_pack_roundtrip():
    vals = [-4, 3, 0, -1, 2]
    w = workload.pack(vals, 3)
    assert workload.unpack_signed(w, 3, 5) == vals
    # lane 0 is in the low bits
    assert w & 0b111 == 0b100


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_generated_cell_models_simulate(lib, tmp_path):
    (tmp_path / "cells.v").write_text(cellmodels.verilog_models(lib))
    (tmp_path / "t.v").write_text("""
module t; reg clk = 0, a = 0, b = 0; wire y, x, q, qn;
  NAND2 g(.A(a), .B(b), .Y(y)); XOR2 h(.A(a), .B(b), .Y(x)); DFF r(.CLK(clk), .D(x), .Q(q), .QN(qn));
  initial begin
    a = 1; b = 1; #1 if (y !== 0 || x !== 0) $display("FAIL nand/xor");
    b = 0; #1 if (y !== 1 || x !== 1) $display("FAIL nand/xor 2");
    clk = 1; #1 if (q !== 1 || qn !== 0) $display("FAIL dff");
    $display("DONE"); $finish;
  end
endmodule
""")
    out = subprocess.run(["iverilog", "-o", str(tmp_path / "t.vvp"), str(tmp_path / "t.v"), str(tmp_path / "cells.v")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    run = subprocess.run(["vvp", "-n", str(tmp_path / "t.vvp")], capture_output=True, text=True)
    assert "DONE" in run.stdout and "FAIL" not in run.stdout, run.stdout


def test_ratios_and_report(tmp_path):
    """Reductions are 1 - FineQ/baseline, efficiencies baseline/FineQ; the report renders both."""
    from synth import report, run
    entries = {"fineq_array": {"area_um2": 40.0, "fmax_mhz": 100.0},
               "mac8x8_array": {"area_um2": 100.0, "fmax_mhz": 80.0},
               "mac8x3_array": {"unavailable": "not generated"}}
    r = run.ratios(entries, run.AREA_METRICS)
    assert list(r) == ["fineq_array_vs_mac8x8_array"]
    assert r["fineq_array_vs_mac8x8_array"]["area_um2_reduction"] == pytest.approx(0.6)
    assert r["fineq_array_vs_mac8x8_array"]["fmax_mhz_ratio"] == pytest.approx(1.25)
    en = {"fineq_array": {"energy_per_mac_pj": 2.0}, "mac8x8_array": {"energy_per_mac_pj": 3.0}}
    er = run.ratios(en, [("energy_per_mac_pj", "efficiency")])
    assert er["fineq_array_vs_mac8x8_array"]["energy_per_mac_pj_efficiency"] == pytest.approx(1.5)
    area = {"config": {"name": "t", "rows": 2, "cols": 2}, "machine": {}, "designs": entries, "ratios": r,
            "liberty": {"library": "toy", "operating_point": "x", "nand2_area_um2": 1.0}, "sweep": []}
    md = report.write(area, {"designs": {}}, tmp_path).read_text()
    assert "| fineq_array vs mac8x8_array | 60.0%" in md
    assert "`mac8x3_array`: not generated" in md


def test_fetch_break_even():
    """The weight-fetch energy found makes the fetch-inclusive efficiency hit the target exactly;
    equal fetch widths cannot reach a target above 1; a FineQ already ahead needs no fetch energy."""
    from synth import run
    en = {"fineq_array": {"weights": "fineq", "energy_per_mac_pj": 10.0},
          "mac8x8_array": {"weights": "int8", "energy_per_mac_pj": 10.0},
          "mac8x3_array": {"weights": "fineq", "energy_per_mac_pj": 5.0}}
    r = {"fineq_array_vs_mac8x8_array": {}, "fineq_array_vs_mac8x3_array": {}}
    run.add_fetch_break_even(r, en, target=1.79)
    e = r["fineq_array_vs_mac8x8_array"]["fetch_break_even_pj_per_bit"]
    assert (10 + 8 * e) / (10 + 8 / 3 * e) == pytest.approx(1.79)
    assert r["fineq_array_vs_mac8x8_array"]["fetch_efficiency_limit"] == pytest.approx(3.0)
    assert r["fineq_array_vs_mac8x3_array"]["fetch_break_even_pj_per_bit"] is None
    ahead = {"fineq_array_vs_mac8x8_array": {}}
    run.add_fetch_break_even(ahead, {**en, "fineq_array": {"weights": "fineq", "energy_per_mac_pj": 1.0}})
    assert ahead["fineq_array_vs_mac8x8_array"]["fetch_break_even_pj_per_bit"] == 0.0


def test_steady_state_cancels_fixed_costs():
    """Two runs of energy = fixed + e * MACs (cycles = fill + MACs / rate) give back e and the rate."""
    from synth import run
    def est(macs):
        return {"energy_pj": 5000.0 + 0.75 * macs, "cycles": 300 + macs // 16}
    s = run.steady_state(8192, est(8192), 32768, est(32768))
    assert s["steady_energy_per_mac_pj"] == pytest.approx(0.75)
    assert s["steady_macs_per_cycle"] == pytest.approx(16)
    with pytest.raises(ValueError, match="more MACs"):
        run.steady_state(8192, est(8192), 8192, est(8192))


def test_cli_refuses_steady_run_shorter_than_the_first(capsys):
    from synth.__main__ import main
    assert main(["--vectors", "32", "--steady-vectors", "16"]) == 2
    assert "--steady-vectors (16) must be more than --vectors (32)" in capsys.readouterr().err


def test_every_design_finds_its_verilog(tmp_path):
    # A clean build/ holds only what hdl.generate writes: a design pointing at another path would
    # be silently "not measured" (the whole accelerator was, until its path was fixed).
    from hdl.datapath.config import preset
    from synth.designs import DESIGNS
    from verif.simulate import verilog_dir

    shared = verilog_dir("tiny")     # what hdl.generate writes (the cocotb tests' folder, made once)
    for d in DESIGNS:
        src = d.source(preset("tiny"), shared, tmp_path / "work" / d.name)
        assert src.files and all(f.exists() for f in src.files), d.name
        assert f"module {src.top}" in src.files[0].read_text(), (d.name, src.top)


def _cg_netlist():
    """A clock, two enable nets: a 4-bit bank on e1, a 2-bit bank on e2, one plain flip-flop."""
    cells = {}
    for i in range(4):
        cells[f"a{i}"] = {"type": "$_DFFE_PP_", "connections": {"C": [2], "E": [3], "D": [10 + i], "Q": [20 + i]}}
    for i in range(2):
        cells[f"b{i}"] = {"type": "$_DFFE_PP_", "connections": {"C": [2], "E": [4], "D": [14 + i], "Q": [24 + i]}}
    cells["p"] = {"type": "$_DFF_P_", "connections": {"C": [2], "D": [16], "Q": [26]}}
    return {"modules": {"top": {"ports": {"clk": {"direction": "input", "bits": [2]}},
                                "cells": cells, "netnames": {"clk": {"hide_name": 0, "bits": [2]}}},
                        "INVX1": {"attributes": {"blackbox": 1}}}}


def test_clock_gating_rule(tmp_path):
    """Banks of >= min_width flip-flops with one enable get one INVX1 + LATCH + AND2X2 gate and
    become plain flip-flops on the gated clock; smaller banks keep their enable."""
    from synth import clockgate
    pre = tmp_path / "pre.json"
    pre.write_text(json.dumps(_cg_netlist()))
    st = clockgate.insert(pre, tmp_path / "cg.json", "top", "clk", min_width=3)
    assert st["clock_gates"] == 1 and st["gated_flip_flops"] == 4
    assert st["enable_flip_flops_below_min_width"] == 2 and st["flip_flops_without_enable"] == 1
    net = json.loads((tmp_path / "cg.json").read_text())
    assert list(net["modules"]) == ["top"]          # the library's blackboxes are not written back
    cells = net["modules"]["top"]["cells"]
    inv, lat, andg = cells["cg_0_inv"], cells["cg_0_latch"], cells["cg_0_and"]
    assert (inv["type"], lat["type"], andg["type"]) == ("INVX1", "LATCH", "AND2X2")
    assert inv["connections"]["A"] == [2] and lat["connections"]["CLK"] == inv["connections"]["Y"]
    assert lat["connections"]["D"] == [3] and andg["connections"]["B"] == lat["connections"]["Q"]
    gclk = andg["connections"]["Y"]
    assert all(cells[f"a{i}"]["type"] == "$_DFF_P_" and cells[f"a{i}"]["connections"]["C"] == gclk
               for i in range(4))
    assert cells["a2"]["connections"]["D"] == [12] and cells["a2"]["connections"]["Q"] == [22]
    assert all(cells[f"b{i}"]["type"] == "$_DFFE_PP_" for i in range(2))
    assert {"cg_0_gclk", "cg_0_en", "cg_0_clkn"} <= set(net["modules"]["top"]["netnames"])
    # with a minimum of 2 both banks are gated; a minimum of 5 gates none
    assert clockgate.insert(pre, tmp_path / "cg2.json", "top", min_width=2)["clock_gates"] == 2
    assert clockgate.insert(pre, tmp_path / "cg5.json", "top", min_width=5)["clock_gates"] == 0
    with pytest.raises(ValueError, match="min_width"):
        clockgate.insert(pre, tmp_path / "x.json", "top", min_width=0)
    # a reset that overrides the enable: the bank is clocked on enable | reset and keeps its reset
    rs = _cg_netlist()
    for i in range(4):
        c = rs["modules"]["top"]["cells"][f"a{i}"]
        c["type"] = "$_SDFFE_PP0P_"
        c["connections"]["R"] = [5]
    pre.write_text(json.dumps(rs))
    st = clockgate.insert(pre, tmp_path / "rs.json", "top", min_width=3)
    cells = json.loads((tmp_path / "rs.json").read_text())["modules"]["top"]["cells"]
    assert st["clock_gates"] == 1 and cells["cg_0_or"]["type"] == "$_OR_"
    assert cells["cg_0_or"]["connections"]["A"] == [3] and cells["cg_0_or"]["connections"]["B"] == [5]
    assert cells["cg_0_latch"]["connections"]["D"] == cells["cg_0_or"]["connections"]["Y"]
    assert cells["a1"]["type"] == "$_SDFF_PP0_" and cells["a1"]["connections"]["R"] == [5]
    bad = _cg_netlist()
    bad["modules"]["top"]["cells"]["a0"]["type"] = "$_DFFSR_PPP_"
    pre.write_text(json.dumps(bad))
    with pytest.raises(clockgate.ClockGateError, match="left after dfflegalize"):
        clockgate.insert(pre, tmp_path / "x.json", "top")


def test_sim_models_replace_only_sequential_cells(tmp_path):
    src = tmp_path / "cells.v"
    src.write_text("`timescale 1ns/10ps\n`celldefine\nmodule AND2X1 (A, B, Y);\ninput A, B;\noutput Y;\n"
                   "and (Y, A, B);\nendmodule\n`endcelldefine\n`celldefine\nmodule DFFPOSX1 (CLK, D, Q);\n"
                   "input CLK; input D; output Q; reg NOTIFIER;\nudp_dff (DS0000, D, CLK, 1'B0, 1'B0, NOTIFIER);\n"
                   "buf (Q, DS0000);\nendmodule\n`endcelldefine\n")
    out = energy.sim_models(src).read_text()
    assert "and (Y, A, B);" in out and "udp_dff" not in out
    assert f"assign #{energy.SEQ_DELAY_NS} Q = IQ;" in out and "reg IQ = 1'b0;" in out
    assert out.count("endmodule") == 2 and out.count("`endcelldefine") == 2


def test_energy_breakdown_groups():
    assert energy._group("pe_3_2.acc") == "pe.acc"
    assert energy._group("\\x_row3") == "x_row"
    assert energy._group("part_0_1") == "part"


def test_verdict_names_winner_ratio_goal_and_cause():
    from synth import report
    d = {"fineq_array": {"steady_energy_per_mac_pj": 10.0, "steady_macs_per_cycle": 8.0, "macs": 1,
                         "steady_breakdown_pj_per_mac": {"registers": 3.0, "logic": 2.0, "data_nets": 5.0}},
         "mac8x3_array": {"steady_energy_per_mac_pj": 8.0, "steady_macs_per_cycle": 16.0, "macs": 1,
                          "steady_breakdown_pj_per_mac": {"registers": 2.0, "logic": 3.0, "data_nets": 3.0}},
         "mac8x8_array": {"steady_energy_per_mac_pj": 20.0, "steady_macs_per_cycle": 16.0, "macs": 1,
                          "steady_breakdown_pj_per_mac": {"registers": 4.0, "logic": 9.0, "data_nets": 7.0}}}
    s = report.verdict(d, "fineq_array", "mac8x3_array", "gated")
    assert "**`mac8x3_array` wins over `fineq_array` by 1.25x**" in s
    assert "goal >= 1x missed (0.80x)" in s and "at 2.00x the cycles per MAC" in s
    assert "data nets (+2.00 pJ/MAC)" in s and "logic cells (-1.00)" in s
    s = report.verdict(d, "fineq_array", "mac8x8_array", "ungated")
    assert s.startswith("Without clock gating, steady state: **`fineq_array` wins over `mac8x8_array` by 2.00x**")
    assert "goal >= 1.79x met (2.00x)" in s
    assert report.verdict(d, "fineq_array", "nope", "gated") is None


def test_memory_estimate_in_the_report(tmp_path):
    from synth import report
    from synth.memory import array_layer_estimate
    rows = array_layer_estimate(10.0, 20.0, 24, 24, (1, 64), 12, 12, figures=(4.0,))
    assert [r["tokens"] for r in rows] == [1, 64] and all(r["efficiency"] > 1 for r in rows)
    energy_json = {"gated": {"designs": {"fineq_array": {"weights": "fineq", "macs": 1, "cycles": 1,
                                                         "macs_per_cycle": 1.0, "energy_pj": 1.0,
                                                         "energy_per_mac_pj": 1.0, "energy_per_cycle_pj": 1.0}},
                             "ratios": {},
                             "per_token_array_estimate": {"layer": "l", "shape": [24, 24], "sram_node_scale": 16,
                                                          "rows": {"fineq_array_vs_mac8x8_array": rows}}}}
    area = {"config": {"name": "t", "rows": 2, "cols": 2}, "machine": {}, "designs": {}, "ratios": {},
            "liberty": {"library": "toy", "operating_point": "x", "nand2_area_um2": 1.0}, "sweep": []}
    md = report.write(area, energy_json, tmp_path).read_text()
    assert "### With clock gating" in md and "**an array-level estimate**" in md
    assert "| 64 | 4 |" in md


def test_synth_page_opens_with_its_verdict():
    from quant.core.verdicts import verdict_of
    from synth.report import headline

    def run(pj, macs=100):
        return {"energy_per_mac_pj": pj, "macs": macs, "breakdown_pj": {"logic": pj * macs}}

    area = {"ratios": {"fineq_array_vs_mac8x8_array": {"area_um2_reduction": 0.6}}}
    energy = {"gated": {"designs": {"fineq_array": run(10.0), "mac8x8_array": run(15.0)}}}
    text = headline(area, energy)
    assert text.startswith("In this run the FineQ array takes 60.0% less area than the INT8 x INT8 array.")
    assert "**`fineq_array` wins over `mac8x8_array` by 1.50x**" in text and "goal >= 1.79x missed" in text
    assert verdict_of(f"# Synthesis report\n\n{text}\n\nMachine: ...\n")[1] == text
    assert headline({}, {}) == ("In this run the FineQ and INT8 x INT8 arrays were not both measured; "
                                "no energy comparison was measured.")
