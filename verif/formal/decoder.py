"""Decoder proofs: a miter against the format table, and the stream rules (unbounded).

The reference is ``quant.format.DECODE_TABLE`` (the golden model's 256-entry table, built from
the format description in docs/quantizer.md, not from the RTL), written out as a ``case``
statement per lane. Properties, for every input byte in every lane, with no assumption on the
neighbours (``i.valid``, ``i.payload``, ``o.ready`` and ``rst`` are free in every cycle):

- ``lane<l>``: a beat accepted in cycle t appears in cycle t+1 with lane ``l`` equal to the table;
- ``hold``: a stalled output (valid, not ready) holds its payload and stays valid;
- ``no_spurious``: no output without an accepted input or a stalled output the cycle before;
- ``no_bubble``: the input is ready whenever the output is ready or empty;
- ``reset``: no output after reset or at power-on.
"""

from __future__ import annotations

from hdl.datapath.config import preset
from quant.core.format import DECODE_TABLE

from .runner import Proof, component_verilog, covers, properties

__all__ = ["proofs", "reference_function"]


def reference_function() -> str:
    """``ref_decode(byte)``: the 9-bit codes {q2, q1, q0} of each byte, from the golden table."""
    cases = []
    for byte, codes in enumerate(DECODE_TABLE):
        word = sum((int(q) & 7) << (3 * j) for j, q in enumerate(codes))
        cases.append(f"      8'd{byte}: ref_decode = 9'h{word:03x};")
    return ("  function [8:0] ref_decode(input [7:0] b);\n    case (b)\n" + "\n".join(cases)
            + "\n      default: ref_decode = 9'h000;\n    endcase\n  endfunction\n")


def wrapper(lanes: int) -> str:
    iw, ow = 8 * lanes, 9 * lanes
    ref = ", ".join(f"ref_decode(i_payload[{8 * l + 7}:{8 * l}])" for l in reversed(range(lanes)))
    live = "past_valid && !past_rst"
    props = [("reset", "!past_valid || past_rst", "!o_valid")]
    props += [(f"lane{l}", f"{live} && past_take",
               f"o_valid && o_payload[{9 * l + 8}:{9 * l}] == past_ref[{9 * l + 8}:{9 * l}]")
              for l in range(lanes)]
    props += [("hold", f"{live} && past_stall", "o_valid && o_payload == past_o"),
              ("no_spurious", f"{live} && !past_take && !past_stall", "!o_valid"),
              ("no_bubble", "o_ready || !o_valid", "i_ready")]
    # every cluster format reaches the output in every lane
    formats = [(f"c_lane{l}_fmt{f}", f"{live} && past_take && past_i[{8 * l + 7}:{8 * l + 6}] == 2'd{f}")
               for l in range(lanes) for f in range(4)]
    return f"""module formal_top(input clk, input rst, input [{iw - 1}:0] i_payload, input i_valid,
                  input o_ready);
  wire i_ready, o_valid;
  wire [{ow - 1}:0] o_payload;
  decoder dut(.clk(clk), .rst(rst), .i__payload(i_payload), .i__valid(i_valid), .i__ready(i_ready),
              .o__payload(o_payload), .o__valid(o_valid), .o__ready(o_ready));
{reference_function()}
  wire take = i_valid && i_ready;
  wire [{ow - 1}:0] ref_now = {{{ref}}};
  reg past_valid = 1'b0, past_rst = 1'b0, past_take = 1'b0, past_stall = 1'b0;
  reg [{ow - 1}:0] past_ref = 0, past_o = 0;
  reg [{iw - 1}:0] past_i = 0;
  always @(posedge clk) begin
    past_valid <= 1'b1; past_rst <= rst; past_take <= take; past_stall <= o_valid && !o_ready;
    past_ref <= ref_now; past_o <= o_payload; past_i <= i_payload;
  end
{properties(props)}{covers(formats)}endmodule
"""


def proofs(config: str, *, make=None, name: str = "") -> list[Proof]:
    lanes = preset(config).decoder_lanes
    return [Proof(name=name or f"decoder_{config}", design=component_verilog(config, "decoder", make),
                  dut_top="decoder", wrapper=wrapper(lanes), mode="prove", depth=3,
                  note=f"{lanes} lanes, unbounded (k-induction, k = 3)")]
