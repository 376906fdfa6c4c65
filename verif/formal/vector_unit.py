"""Vector unit proof: the requantization rule of docs/numbers.md, stage by stage, unbounded.

The pipeline's three registered stages are checked one at a time on ``expose``-d registers, with
free ``i.valid``, ``i.payload``, ``o.ready`` and ``rst``; chained, they give every output =
``quant.golden.requantize`` of its input, in order:

- ``stage1``: an enabled cycle takes ``t = acc + bias`` exactly (33 bits), the payload and valid;
- ``stage2``: ``p = t * mult`` as a signed 33-bit by unsigned 15-bit product, 48 bits, exact. The
  wrapper states it with Verilog's own ``*`` on the same registers, so this checks the widths and
  signedness of the RTL's product, not the multiplier circuit (Yosys merges identical ``$mul``
  cells). A first, end-to-end miter of the product against an independent reference did not
  finish (yices: more than 13 minutes on the first output step, with or without limiting
  ``mult`` to 4 bits);
- ``stage3``: the output is the golden rule applied to ``p`` (``ref_round``: ``(p +
  2^(shift-1)) >> shift`` arithmetic, clip to [-128, 127]; ``bypass`` returns ``acc``), for every
  legal ``shift`` (1..47; the parameter loader rejects the others), with ``last`` and ``valid``;
- ``hold``: a back-pressured pipeline holds every stage; ``ready``: ``i.ready = ~o.valid | o.ready``.
"""

from __future__ import annotations

from .runner import Proof, covers, properties

__all__ = ["proofs", "wrapper"]

REF = """  function signed [31:0] ref_round(input signed [47:0] p, input [5:0] shift, input bypass,
                                   input signed [31:0] acc);
    reg signed [49:0] r;
    begin
      r = ($signed({{2{p[47]}}, p}) + (50'sd1 <<< (shift - 6'd1))) >>> shift;
      if (bypass) ref_round = acc;
      else if (r > 50'sd127) ref_round = 32'sd127;
      else if (r < -50'sd128) ref_round = -32'sd128;
      else ref_round = r[31:0];
    end
  endfunction
"""


def wrapper() -> str:
    lv = "past_valid && !past_rst"
    props = [
        ("ready", "1", "i__ready == (!o__valid || o__ready)"),
        ("stage1", f"{lv} && past_en",
         ("t == $signed({past_acc[31], past_acc}) + $signed({past_bias[31], past_bias}) && s1 == past_in "
          "&& v1 == past_ivalid")),
        ("stage2", f"{lv} && past_en", "p == past_expect_p && s2 == past_s1 && v2 == past_v1"),
        ("stage3", f"{lv} && past_en && past_shift_ok",
         "o__payload[31:0] == past_ref && o__payload[32] == past_s2[86] && o__valid == past_v2"),
        ("hold", f"{lv} && !past_en",
         ("t == past_t && p == past_p && s1 == past_s1 && s2 == past_s2 && v1 == past_v1 && v2 == past_v2 "
          "&& o__valid == past_ovalid && o__payload == past_o")),
    ]
    cov = [("c_saturate_hi", f"{lv} && past_en && past_shift_ok && !past_s2[85] && past_ref == 32'sd127"),
           ("c_saturate_lo", f"{lv} && past_en && past_shift_ok && !past_s2[85] && past_ref == -32'sd128"),
           ("c_round_half", f"{lv} && past_en && past_shift_ok && !past_s2[85] && past_p[0] && past_s2[84:79] == 6'd1"),
           ("c_bypass", f"{lv} && past_en && o__valid && past_s2[85]")]
    return f"""module formal_top(input clk, input rst, input [86:0] i__payload, input i__valid,
                  input o__ready);
  wire i__ready, o__valid;
  wire [32:0] o__payload;
  wire [32:0] t;
  wire [47:0] p;
  wire [86:0] s1, s2;
  wire v1, v2;
  vector_unit dut(.clk(clk), .rst(rst), .i__payload(i__payload), .i__valid(i__valid),
                  .i__ready(i__ready), .o__payload(o__payload), .o__valid(o__valid),
                  .o__ready(o__ready), .t(t), .p(p), .s1(s1), .s2(s2), .v1(v1), .v2(v2));
{REF}
  wire en = !o__valid || o__ready;
  // stage 2: the exact product of the stage-1 sum and the unsigned multiplier, 48 bits
  wire signed [47:0] expect_p = $signed(t) * $signed({{1'b0, s1[78:64]}});
  // stage 3: the golden rule applied to that product
  wire [31:0] ref3 = ref_round(p, s2[84:79], s2[85], s2[31:0]);
  wire shift_ok = s2[84:79] >= 6'd1 && s2[84:79] <= 6'd47;
  reg past_valid = 1'b0, past_rst = 1'b0, past_en = 1'b0, past_ivalid = 1'b0, past_v1 = 1'b0;
  reg past_v2 = 1'b0, past_ovalid = 1'b0, past_shift_ok = 1'b0;
  reg [31:0] past_acc = 0, past_bias = 0, past_ref = 0;
  reg [86:0] past_in = 0, past_s1 = 0, past_s2 = 0;
  reg [32:0] past_t = 0, past_o = 0;
  reg [47:0] past_p = 0, past_expect_p = 0;
  always @(posedge clk) begin
    past_valid <= 1'b1; past_rst <= rst; past_en <= en; past_ivalid <= i__valid;
    past_acc <= i__payload[31:0]; past_bias <= i__payload[63:32]; past_in <= i__payload;
    past_t <= t; past_p <= p; past_s1 <= s1; past_s2 <= s2; past_v1 <= v1; past_v2 <= v2;
    past_ovalid <= o__valid; past_o <= o__payload; past_expect_p <= expect_p;
    past_ref <= ref3; past_shift_ok <= shift_ok;
  end
{properties(props)}{covers(cov)}endmodule
"""


def proofs(config: str = "tiny", *, depth: int = 3, make=None) -> list[Proof]:
    """The vector unit does not depend on the preset (``vector_unit.v`` is the same in all)."""
    from hdl.generate import LINT_HEADER, icarus_safe, to_verilog
    from hdl.soc.vector_unit import VectorUnit

    text = LINT_HEADER + icarus_safe(to_verilog((make or VectorUnit)(), "vector_unit"))
    return [Proof(name=f"vector_unit_{config}", design={"vector_unit.v": text}, dut_top="vector_unit",
                  wrapper=wrapper(), mode="prove", depth=depth, cover_depth=6,
                  expose=("t", "p", "s1", "s2", "v1", "v2"),
                  note=f"stage by stage, unbounded (k = {depth})")]
