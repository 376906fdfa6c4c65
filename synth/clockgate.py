"""Clock-gating insertion, as commercial synthesis flows do it, on a Yosys netlist.

Design Compiler (``set_clock_gating_style -minimum_bitwidth``, default 3) and Genus
(``lp_clock_gating_min_flops``, default 3) replace the enable multiplexer of every register bank
of at least that many bits by one integrated clock gate (ICG) per enable: a latch that is
transparent while the clock is low holds the enable through the high phase, and an AND gate
passes the clock only when the held enable is 1. Yosys 0.23 has no such pass, so we insert the
gates here, between generic synthesis and technology mapping:

1. ``synth -flatten`` and ``dfflegalize`` (:data:`SEQ_KINDS`) leave plain flip-flops, ones with
   an active-high enable, and ones with a synchronous reset with or without an enable (polarities
   normalised); a reset that overrides the enable counts as a reason to clock (``E | R``);
2. :func:`insert` groups the enable flip-flops on the design clock by their enable net (a *bank*:
   every flip-flop Yosys found with that enable, wherever it is in the design, as DC groups them);
   every bank of at least ``min_width`` flip-flops gets one ICG built from the library's own
   cells -- ``INVX1`` (the clock, inverted, opens the latch while the clock is low), ``LATCH``,
   ``AND2X2`` -- and its flip-flops become plain flip-flops on the gated clock; smaller banks
   keep their enable (``dfflibmap`` then turns it into a multiplexer, as in the ungated flow);
3. ``dfflibmap`` and ``abc`` map the rest as usual; the ICG cells are library cells already and
   pass through untouched.

The same rule applies to every design. The ICG cells are named ``cg_<n>_inv``, ``cg_<n>_latch``
and ``cg_<n>_and``, their nets ``cg_<n>_clkn``, ``cg_<n>_en`` and ``cg_<n>_gclk``, so that the
energy estimate can report them apart. The OSU library gives its ``LATCH`` an area of 0; the flow
counts the LEF's 56 um2 instead (:data:`AREA_FIXES`).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

VERSION = 2            # bump when the insertion changes (cached gated netlists are redone)
MIN_WIDTH = 3          # DC's and Genus's default minimum bank width
ICG_CELLS = {"inv": ("INVX1", "A", "Y"), "latch": ("LATCH", ("CLK", "D"), "Q"), "and": ("AND2X2", ("A", "B"), "Y")}
PREFIX = "cg_"
# Liberty areas that are wrong in the OSU 0.18 um library, from its LEF (SIZE 5.6 BY 10.0 um).
AREA_FIXES = {"LATCH": 56.0}

# flip-flop kinds kept for the insertion: plain, enable, synchronous reset (with an enable that
# the reset overrides, SDFFE, or one that gates the reset too, SDFFCE); polarities normalised
SEQ_KINDS = ["$_DFF_P_", "$_DFFE_PP_", "$_SDFF_PP0_", "$_SDFF_PP1_", "$_SDFFE_PP0P_", "$_SDFFE_PP1P_",
             "$_SDFFCE_PP0P_", "$_SDFFCE_PP1P_"]
LEGALIZE = "dfflegalize " + " ".join(f"-cell {k} 01" for k in SEQ_KINDS) + "\nopt_clean\n"


class ClockGateError(RuntimeError):
    pass


def _cell(type_, conns: dict, dirs: dict) -> dict:
    return {"hide_name": 0, "type": type_, "parameters": {}, "attributes": {},
            "port_directions": dirs, "connections": conns}


def insert(pre_json: Path, out_json: Path, top: str, clock: str = "clk",
           min_width: int = MIN_WIDTH) -> dict:
    """Insert ICGs into the Yosys JSON netlist ``pre_json`` (module ``top``), write ``out_json``;
    return what was gated. See the module docstring for the rule."""
    if not isinstance(min_width, int) or min_width < 1:
        raise ValueError(f"min_width must be a positive integer, not {min_width!r}")
    net = json.loads(Path(pre_json).read_text())
    mod = net["modules"].get(top)
    if mod is None:
        raise ClockGateError(f"{pre_json}: no module {top}")
    port = mod["ports"].get(clock)
    if port is None or len(port["bits"]) != 1:
        raise ClockGateError(f"{top}: no one-bit clock port {clock!r}")
    clk = port["bits"][0]
    cells = mod["cells"]
    bad = sorted({c["type"] for c in cells.values()
                  if c["type"].startswith("$_") and ("DFF" in c["type"] or "DLATCH" in c["type"])
                  and c["type"] not in SEQ_KINDS})
    if bad:
        raise ClockGateError(f"{top}: flip-flop types {bad} left after dfflegalize")
    # bank key: the enable net, or (enable, reset) for a reset that overrides the enable (the
    # register is then clocked when either is high)
    banks = defaultdict(list)
    plain = 0
    for name, c in cells.items():
        t = c["type"]
        if t in ("$_DFF_P_", "$_SDFF_PP0_", "$_SDFF_PP1_"):
            plain += 1
        elif "E" in c["connections"]:
            e = c["connections"]["E"][0]
            r = c["connections"].get("R", [None])[0]
            if c["connections"]["C"] != [clk] or isinstance(e, str) or isinstance(r, str):
                plain += 1          # another clock, or a constant enable: left as it is
                continue
            banks[(e, r) if t.startswith("$_SDFFE_") else (e, None)].append(name)
    used = [b for c in cells.values() for bits in c["connections"].values() for b in bits if isinstance(b, int)]
    used += [b for n in mod["netnames"].values() for b in n["bits"] if isinstance(b, int)]
    nxt = max(used, default=1) + 1
    gated_banks, small = [], []
    for (e, r), names in sorted(banks.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
        if len(names) < min_width:
            small.append(len(names))
            continue
        n = len(gated_banks)
        if r is not None:           # clock when enabled or reset: E | R
            cells[f"{PREFIX}{n}_or"] = {"hide_name": 0, "type": "$_OR_", "parameters": {}, "attributes": {},
                                       "port_directions": {"A": "input", "B": "input", "Y": "output"},
                                       "connections": {"A": [e], "B": [r], "Y": [nxt]}}
            e, nxt = nxt, nxt + 1
        clkn, en_l, gclk = nxt, nxt + 1, nxt + 2
        nxt += 3
        cells[f"{PREFIX}{n}_inv"] = _cell("INVX1", {"A": [clk], "Y": [clkn]}, {"A": "input", "Y": "output"})
        cells[f"{PREFIX}{n}_latch"] = _cell("LATCH", {"CLK": [clkn], "D": [e], "Q": [en_l]},
                                            {"CLK": "input", "D": "input", "Q": "output"})
        cells[f"{PREFIX}{n}_and"] = _cell("AND2X2", {"A": [clk], "B": [en_l], "Y": [gclk]},
                                          {"A": "input", "B": "input", "Y": "output"})
        for suffix, bit in (("clkn", clkn), ("en", en_l), ("gclk", gclk)):
            mod["netnames"][f"{PREFIX}{n}_{suffix}"] = {"hide_name": 0, "bits": [bit], "attributes": {}}
        for name in names:
            c = cells[name]
            conns = c["connections"]
            if c["type"] == "$_DFFE_PP_":
                c["type"] = "$_DFF_P_"
                c["connections"] = {"C": [gclk], "D": conns["D"], "Q": conns["Q"]}
                c["port_directions"] = {"C": "input", "D": "input", "Q": "output"}
            else:                   # $_SDFFE_PPvP_ / $_SDFFCE_PPvP_ -> $_SDFF_PPv_ on the gated clock
                c["type"] = f"$_SDFF_PP{c['type'][-3]}_"
                c["connections"] = {"C": [gclk], "D": conns["D"], "R": conns["R"], "Q": conns["Q"]}
                c["port_directions"] = {"C": "input", "D": "input", "R": "input", "Q": "output"}
        gated_banks.append(len(names))
    # only the design: the library cells' blackbox modules come from read_liberty again
    net["modules"] = {top: mod}
    Path(out_json).write_text(json.dumps(net))
    return {
        "min_width": min_width,
        "clock_gates": len(gated_banks),
        "gated_flip_flops": sum(gated_banks),
        "largest_bank": max(gated_banks, default=0),
        "enable_flip_flops_below_min_width": sum(small),
        "enable_banks_below_min_width": len(small),
        "flip_flops_without_enable": plain,
        "icg": "INVX1 + LATCH (transparent while the clock is low) + AND2X2",
    }


def is_clock_gate(instance: str) -> bool:
    return instance.lstrip("\\").startswith(PREFIX)
