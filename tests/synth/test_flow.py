"""The synthesis flow end to end on two small stream designs that differ only in a multiplier:
a dot product (acc += a * b) and a sum (acc += a). Whatever the flow measures must rank them the
right way, and the gate-level netlists must compute the right numbers.

Needs yosys, iverilog and the OSU 0.18 um liberty (fetched with apt-get into build/, or
FINEQ_LIBERTY); skipped when they are missing. Takes well under a minute."""
import random
import shutil
from pathlib import Path

import pytest

from synth import cellmodels, energy, flows, liberty, tech

ROOT = Path(__file__).resolve().parents[2]

DOTP = """
// i__payload = {last, b[7:0], a[7:0]}; emits the sum on last.
module dotp_OP(input clk, input rst,
  input i__valid, output i__ready, input [16:0] i__payload,
  output reg o__valid, input o__ready, output reg [19:0] o__payload);
  reg signed [19:0] acc;
  assign i__ready = !o__valid || o__ready;
  wire signed [7:0] a = i__payload[7:0];
  wire signed [7:0] b = i__payload[15:8];
  wire signed [19:0] nxt = acc + EXPR;
  always @(posedge clk) begin
    if (rst) begin acc <= 0; o__valid <= 0; o__payload <= 0; end
    else begin
      if (o__valid && o__ready) o__valid <= 0;
      if (i__valid && i__ready) begin
        if (i__payload[16]) begin acc <= 0; o__valid <= 1; o__payload <= nxt; end
        else acc <= nxt;
      end
    end
  end
endmodule
"""

needs_tools = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("yosys", "iverilog", "vvp")),
    reason="yosys / iverilog not installed (make setup)")


@pytest.fixture(scope="module")
def osu():
    try:
        return tech.fetch(ROOT / "build", quiet=True)
    except tech.TechError as e:
        pytest.skip(f"OSU liberty not available: {e}")


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    d = tmp_path_factory.mktemp("dotp")
    out = {}
    for op, expr in (("mul", "a * b"), ("add", "a")):
        f = d / f"dotp_{op}.v"
        f.write_text(DOTP.replace("OP", op).replace("EXPR", expr))
        out[op] = flows.Source([f], f"dotp_{op}")
    return out, d


@pytest.fixture(scope="module")
def mapped(designs, osu):
    """Standard-cell netlists of both designs, made once for the module."""
    srcs, d = designs
    return {op: flows.asic(src, d / op / "asic", osu[0], hier=False) for op, src in srcs.items()}


def _workload(op, groups=12, k=6, seed=7):
    rnd = random.Random(seed)
    words, sums = [], []
    for _ in range(groups):
        acc = 0
        for i in range(k):
            a, b = rnd.randint(-128, 127), rnd.randint(-128, 127)
            acc += a * b if op == "mul" else a
            words.append(((i == k - 1) << 16) | ((b & 255) << 8) | (a & 255))
        sums.append(acc & ((1 << 20) - 1))
    return words, sums, groups * k


@needs_tools
def test_flows_rank_multiplier_above_adder(designs, osu, mapped):
    srcs, d = designs
    lib_path, cells_v = osu
    lib = liberty.load(lib_path)
    res = {}
    for op, src in srcs.items():
        g = flows.generic(src, d / op / "generic")
        a = mapped[op]
        i = flows.ice40(src, d / op / "ice40", dsp=False, pnr=False)
        res[op] = (g, a, i)
        # the area is the sum of the liberty areas of the cells in the netlist
        assert a["area_um2"] == pytest.approx(sum(lib.cells[t].area * n for t, n in a["cells_by_type"].items()))
        assert a["area_nand2"] == pytest.approx(a["area_um2"] / lib.nand2_area)
        # 20-bit accumulator + 20-bit output register + valid: at least 41 flip-flops survive
        assert g["flip_flops"] >= 41 and a["sequential_area_um2"] > 0
        assert a["comb_delay_ns"] and a["comb_delay_ns"] > 0
    gm, am, im = res["mul"]
    ga, aa, ia = res["add"]
    assert gm["transistors"] > 1.5 * ga["transistors"]
    assert am["area_um2"] > 1.5 * aa["area_um2"]
    assert im["luts"] > ia["luts"]
    # the multiplier lengthens the critical path
    assert am["comb_delay_ns"] > aa["comb_delay_ns"]


@needs_tools
def test_gate_level_energy(designs, osu, mapped):
    """Both netlists simulate bit-exactly on the OSU cell models; the multiplier costs energy."""
    srcs, d = designs
    lib_path, cells_v = osu
    lib = liberty.load(lib_path)
    per_op = {}
    for op, src in srcs.items():
        a = mapped[op]
        ports = flows.ports_of(src, d / op)
        words, sums, n = _workload(op)
        sim = energy.simulate(Path(a["netlist_v"]), cells_v, src.top, ports, {"i": words}, {"o": len(sums)},
                              d / op / "sim")
        assert sim["outputs"]["o"] == sums
        # one input word per cycle after reset: the run is about as long as the workload
        assert n <= sim["cycles"] <= n + 10
        est = energy.estimate(Path(a["netlist_json"]), src.top, lib, sim["toggles"], sim["cycles"])
        assert est["nets_without_data"] == 0
        assert est["internal_pj"] > 0 and est["switching_pj"] > 0
        assert 0 < est["leakage_pj"] < 0.01 * est["energy_pj"]
        per_op[op] = est["energy_pj"] / n
    assert per_op["mul"] > 1.2 * per_op["add"]


@needs_tools
def test_generated_models_match_library_models(designs, osu, mapped, tmp_path):
    """The behavioural models generated from the liberty's functions give the same outputs and the
    same toggle counts as the library's own Verilog models."""
    srcs, d = designs
    lib_path, cells_v = osu
    lib = liberty.load(lib_path)
    src = srcs["mul"]
    a = mapped["mul"]
    ports = flows.ports_of(src, d / "mul")
    words, sums, _ = _workload("mul", groups=4)
    gen = tmp_path / "cells_gen.v"
    gen.write_text(cellmodels.verilog_models(lib))
    r1 = energy.simulate(Path(a["netlist_v"]), cells_v, src.top, ports, {"i": words}, {"o": 4}, tmp_path / "lib")
    r2 = energy.simulate(Path(a["netlist_v"]), gen, src.top, ports, {"i": words}, {"o": 4}, tmp_path / "gen")
    assert r1["outputs"] == r2["outputs"] == {"o": sums}
    e1 = energy.estimate(Path(a["netlist_json"]), src.top, lib, r1["toggles"], r1["cycles"])
    e2 = energy.estimate(Path(a["netlist_json"]), src.top, lib, r2["toggles"], r2["cycles"])
    # the library's flip-flops start at x, the generated ones at 0: only the first edges differ
    assert e2["toggles"] == pytest.approx(e1["toggles"], rel=0.05)


@pytest.mark.skipif(shutil.which("nextpnr-ice40") is None or shutil.which("yosys") is None,
                    reason="nextpnr-ice40 not installed")
def test_ice40_fmax_with_registered_io(designs):
    srcs, d = designs
    r = flows.ice40(srcs["add"], d / "add" / "pnr", dsp=False, pnr=True)
    assert r["device"] == "hx8k"
    # an 8-bit add into a 20-bit accumulator runs well above 20 MHz and below the fabric's limit
    assert 20 < r["fmax_mhz"] < 600
    # the wrapper's shift chain and output registers are placed too
    assert r["pnr_logic_cells"] > r["luts"]


BUFFERED = """
// a 64 x 16 buffer (synchronous read) and a case-statement decode table (a ROM to Yosys)
module buffered(input clk, input rst, input we, input [5:0] waddr, input [15:0] wdata,
                input [5:0] raddr, input [2:0] sel, output reg [15:0] rdata, output reg [7:0] code);
  reg [15:0] mem [0:63];
  always @(posedge clk) begin
    if (we) mem[waddr] <= wdata;
    rdata <= mem[raddr];
    case (sel)
      3'd0: code <= 8'h3c; 3'd1: code <= 8'ha5; 3'd2: code <= 8'h0f; 3'd3: code <= 8'h81;
      3'd4: code <= 8'h7e; 3'd5: code <= 8'h42; 3'd6: code <= 8'hc3; default: code <= 8'h18;
    endcase
  end
endmodule
"""


@needs_tools
def test_sram_macros_are_kept_apart(tmp_path, osu):
    """With sram_macros, a writable memory stays one macro (reported, area not counted) while a
    read-only table is still mapped to gates; without it the memory becomes 1,024 flip-flops."""
    f = tmp_path / "buffered.v"
    f.write_text(BUFFERED)
    lib_path, _ = osu
    res = {}
    for macros in (False, True):
        src = flows.Source([f], "buffered", sram_macros=macros)
        wd = tmp_path / f"m{int(macros)}"
        res[macros] = (flows.asic(src, wd / "asic", lib_path, hier=False), flows.generic(src, wd / "generic"))
    (a0, g0), (a1, g1) = res[False], res[True]
    assert a0["sram_macros"] == []
    assert a1["sram_macros"] == [{"name": "mem", "words": 64, "width": 16, "read_ports": 1,
                                  "write_ports": 1, "bits": 1024}]
    assert g0["flip_flops"] >= 1024 + 16 + 8
    # the macro's flip-flops are gone (rdata is its registered read port); the code register remains
    assert 8 <= g1["flip_flops"] < 100
    assert a1["area_um2"] < 0.2 * a0["area_um2"]
    assert "$mem_v2" not in a1["cells_by_type"] and "$mem_v2" not in g1["gates_by_type"]
    # the 8-entry table is logic in both runs: its code register is driven by gates, not a macro
    assert a1["cells"] > 24


@needs_tools
def test_clock_gating_keeps_the_netlist_exact_and_saves_clock_energy(designs, osu, mapped, tmp_path):
    """The gated netlist of the dot product (its 20-bit accumulator and output register have
    enables) computes the same sums, and its output register, written once per group of six
    words, is clocked once per group: the gated run spends less on flip-flops and clock."""
    srcs, d = designs
    lib_path, cells_v = osu
    lib = liberty.load(lib_path)
    src = srcs["mul"]
    gated = flows.asic(src, d / "mul" / "asic_cg", lib_path, hier=False, clock_gating=3)
    st = gated["clock_gating"]
    assert st["clock_gates"] >= 2 and st["gated_flip_flops"] >= 40
    assert gated["cells_by_type"]["LATCH"] == st["clock_gates"]
    # the LATCH's area is the LEF's, not the liberty's 0
    assert gated["area_fixes_um2"]["LATCH"] == pytest.approx(56.0 * st["clock_gates"])
    ports = flows.ports_of(src, d / "mul")
    words, sums, n = _workload("mul", groups=6)
    res = {}
    for tag, a in (("ungated", mapped["mul"]), ("gated", gated)):
        sim = energy.simulate(Path(a["netlist_v"]), cells_v, src.top, ports, {"i": words},
                              {"o": len(sums)}, tmp_path / tag)
        assert sim["outputs"]["o"] == sums, tag
        est = energy.estimate(Path(a["netlist_json"]), src.top, lib, sim["toggles"], sim["cycles"])
        assert est["nets_without_data"] == 0
        res[tag] = est
    bg, bu = res["gated"]["breakdown_pj"], res["ungated"]["breakdown_pj"]
    assert bg["clock_gates"] > 0 and bu.get("clock_gates", 0.0) == 0.0
    clocking = lambda b: b["registers"] + b.get("clock_gates", 0.0) + b["clock_nets"]
    print({k: round(v, 2) for k, v in bg.items()}, {k: round(v, 2) for k, v in bu.items()})
    assert clocking(bg) < clocking(bu)


@needs_tools
def test_block_delays_name_the_slow_block(designs, osu, tmp_path):
    """The hierarchical run times each module on its own: in a top holding both designs, the
    multiplier's block has the longer combinational path, and neither is longer than the flat run."""
    srcs, d = designs
    wrapper = tmp_path / "both.v"
    wrapper.write_text("""
module both(input clk, input rst, input i__valid, input [16:0] i__payload, input o__ready,
            output [1:0] ready, output [1:0] valid, output [39:0] payload);
  dotp_mul m(.clk(clk), .rst(rst), .i__valid(i__valid), .i__ready(ready[0]), .i__payload(i__payload),
             .o__valid(valid[0]), .o__ready(o__ready), .o__payload(payload[19:0]));
  dotp_add a(.clk(clk), .rst(rst), .i__valid(i__valid), .i__ready(ready[1]), .i__payload(i__payload),
             .o__valid(valid[1]), .o__ready(o__ready), .o__payload(payload[39:20]));
endmodule
""")
    src = flows.Source([*srcs["mul"].files, *srcs["add"].files, wrapper], "both")
    blocks = flows.asic_blocks_run(src, tmp_path / "hier", osu[0])["blocks"]
    flat = flows.asic(src, tmp_path / "flat", osu[0], hier=False)["comb_delay_ns"]
    mul, add = blocks["dotp_mul"]["comb_delay_ns"], blocks["dotp_add"]["comb_delay_ns"]
    assert mul > 1.3 * add > 0
    assert mul <= flat * 1.05
