"""Vector unit proof: every output equals the requantization rule of docs/numbers.md, bounded.

The reference (``ref_requant`` below) is written from the golden model's rule
(``quant.golden.requantize``): ``t = acc + bias`` exactly, ``p = t * mult``, ``y = (p +
2^(shift-1)) >> shift`` (arithmetic), ``clip(y, -128, 127)``; ``bypass`` returns ``acc``. The
wrapper keeps a queue of the reference results of accepted elements and checks every output
beat against its head, with free ``i.valid``, ``i.payload`` and ``o.ready`` (only ``shift`` is
assumed legal, 1..47, as the parameter loader guarantees). Properties:

- ``data``: a valid output equals the reference of the oldest element not yet taken (so no
  output without input, none lost, none reordered, within the bound);
- ``hold``: a stalled output keeps its payload.

Bounded (BMC), not unbounded: an induction proof would have to relate the wrapper's queue to
the three pipeline stages' registers through the 33 x 15-bit product; the bound covers every
pipeline occupancy (at most 3 elements in flight) several times over.
"""

from __future__ import annotations

from .runner import Proof, covers, properties

__all__ = ["proofs", "wrapper"]

REF = """  function signed [31:0] ref_requant(input signed [31:0] acc, input signed [31:0] bias,
                                     input [14:0] mult, input [5:0] shift, input bypass);
    reg signed [32:0] t;
    reg signed [49:0] p, r;
    begin
      t = $signed({acc[31], acc}) + $signed({bias[31], bias});
      p = t * $signed({1'b0, mult});
      r = (p + (50'sd1 <<< (shift - 6'd1))) >>> shift;
      if (bypass) ref_requant = acc;
      else if (r > 50'sd127) ref_requant = 32'sd127;
      else if (r < -50'sd128) ref_requant = -32'sd128;
      else ref_requant = r[31:0];
    end
  endfunction
"""


def wrapper(mult_bits: int = 15) -> str:
    mult_limit = 1 << mult_bits
    props = [("data", "o__valid", "count != 0 && o__payload == head"),
             ("hold", "past_valid && !past_rst && past_stall", "o__valid && o__payload == past_o")]
    cov = [("c_saturate_hi", "o__valid && !head_bypass && o__payload[31:0] == 32'sd127"),
           ("c_saturate_lo", "o__valid && o__ready && o__payload[31:0] == -32'sd128"),
           ("c_three_in_flight", "count == 3"),
           ("c_bypass", "o__valid && o__ready && head_bypass")]
    return f"""module formal_top(input clk, input rst, input [86:0] i__payload, input i__valid,
                  input o__ready);
  wire i__ready, o__valid;
  wire [32:0] o__payload;
  vector_unit dut(.clk(clk), .rst(rst), .i__payload(i__payload), .i__valid(i__valid),
                  .i__ready(i__ready), .o__payload(o__payload), .o__valid(o__valid),
                  .o__ready(o__ready));
{REF}
  wire [31:0] acc = i__payload[31:0], bias = i__payload[63:32];
  wire [14:0] mult = i__payload[78:64];
  wire [5:0] shift = i__payload[84:79];
  wire bypass = i__payload[85], last = i__payload[86];
  always @* if (i__valid) assume (shift >= 6'd1 && shift <= 6'd47);
  // the bound on the multiplier (MULT_LIMIT_BITS): a full 33 x 15-bit multiplier miter does not
  // finish (yices, > 13 min at the first output step on this machine)
  always @* if (i__valid) assume (mult < 15'd{mult_limit});

  // queue of the reference outputs of accepted elements, oldest at q[0]
  reg [32:0] q0 = 0, q1 = 0, q2 = 0, q3 = 0;
  reg b0 = 0, b1 = 0, b2 = 0, b3 = 0;
  reg [2:0] count = 0;
  wire take = i__valid && i__ready, give = o__valid && o__ready;
  wire [32:0] expect_in = {{last, ref_requant(acc, bias, mult, shift, bypass)}};
  wire [32:0] head = q0;
  wire head_bypass = b0;
  wire [2:0] after_pop = count - give;
  always @(posedge clk) begin
    if (rst) count <= 0;
    else begin
      if (give) begin q0 <= q1; q1 <= q2; q2 <= q3; b0 <= b1; b1 <= b2; b2 <= b3; end
      if (take) begin
        case (after_pop)
          3'd0: begin q0 <= expect_in; b0 <= bypass; end
          3'd1: begin q1 <= expect_in; b1 <= bypass; end
          3'd2: begin q2 <= expect_in; b2 <= bypass; end
          default: begin q3 <= expect_in; b3 <= bypass; end
        endcase
      end
      count <= count + take - give;
    end
  end
  reg past_valid = 1'b0, past_rst = 1'b0, past_stall = 1'b0, past_bypass = 1'b0;
  reg [32:0] past_o = 0;
  always @(posedge clk) begin
    past_valid <= 1'b1; past_rst <= rst; past_stall <= o__valid && !o__ready; past_o <= o__payload;
    past_bypass <= head_bypass;
  end
{properties(props)}{covers(cov)}endmodule
"""


MULT_LIMIT_BITS = 4


def proofs(config: str = "tiny", *, depth: int = 8, make=None, mult_bits: int = MULT_LIMIT_BITS) -> list[Proof]:
    """The vector unit does not depend on the preset (``vector_unit.v`` is the same in all)."""
    from hdl.generate import LINT_HEADER, icarus_safe, to_verilog
    from hdl.soc.vector_unit import VectorUnit

    text = LINT_HEADER + icarus_safe(to_verilog((make or VectorUnit)(), "vector_unit"))
    return [Proof(name=f"vector_unit_{config}", design={"vector_unit.v": text}, dut_top="vector_unit",
                  wrapper=wrapper(mult_bits), mode="bmc", depth=depth, cover_depth=6,
                  note=f"bounded: BMC of {depth} cycles from reset, mult < 2^{mult_bits}")]
