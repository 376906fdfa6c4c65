"""Vector unit proof: the requantization rule of docs/numbers.md, stage by stage, unbounded.

The six registered steps of ``hdl/soc/vector_unit.py`` are checked one at a time on
``expose``-d registers (the design is flattened and its FIFO memory mapped to registers first),
with free ``i.valid``, ``i.payload``, ``o.ready`` and ``rst``. Each stage's registers are
compared with a reference applied to the previous stage's registers one cycle earlier; the
references are written from the golden rule (``quant.core.golden.requantize``), not from the RTL:

- ``s0``: the inputs taken (``valid0`` = a handshake); bypass as ``bias 0, mult 1, shift 0``;
- ``s1``: ``t1 + (pending1[0] << 11) + (pending1[1] << 22) = acc0 + bias0`` exactly, ``t1``
  read as a signed 34-bit number (the chunked add's word and its pending carries); ``mult1 =
  mult0``; the Booth digits are each in -2..2 and their value ``sum digit_d * 4**d`` equals
  ``mult0`` (so they encode the unsigned multiplier); ``half1 = 2**(shift0-1)`` (0 for shift
  0); the control fields carried;
- ``s2``: ``sum2 + carry2 = sum_d (t1 * digit_d) * 4**d + pending1 * mult1 + half1`` modulo
  2**50 (``pending1 * mult1`` as the two shifted copies of ``mult1``). Each ``t1 * digit_d``
  is stated as a multiple of ``t1`` (0, +-t1, +-2 t1), not as the RTL's
  inverted-operand-plus-negation-bit trick. With ``s1`` this is ``t * mult + 2**(shift-1)`` by
  distributivity (the algebra is by hand, not by the solver); that value is below 2**48 in
  magnitude, so modulo 2**50 it is exact;
- ``s3``: ``{cy3 ? r_hi1_3 : r_hi0_3, r_lo3} = sum2 + carry2`` (the split 50-bit add);
- ``s4``: ``y4 = r >>> shift`` (the 50-bit sum of stage 3, arithmetic shift);
- ``s5``: every FIFO write is ``{last, sat8(y4)}``, or ``y4[31:0]`` (= ``r[31:0]``) in bypass.

Chained, every element written to the FIFO is the golden rule of its input. The stream rules:
``count``: the unit's credit counter equals the wrapper's own count of accepted minus delivered
elements, which equals the valid stages plus the FIFO level and is at most 7; ``no_overflow``: a
FIFO write never meets a full FIFO; ``no_spurious``: no output with nothing accepted;
``busy``: ``busy`` = some stage valid or the output valid; ``hold``: a back-pressured output
keeps valid and payload; ``order``: the output is the head of a reference queue of the FIFO
writes (invariant ``inv_fifo``: that queue is the FIFO's storage from its read pointer).
"""

from __future__ import annotations

from .runner import Proof, covers, dut_instance, properties

__all__ = ["proofs", "wrapper", "EXPOSE"]

W = 50  # t * mult + 2**(shift-1), signed (hdl.soc.vector_unit: tw + MULT_BITS + 1)
TW = 34  # stage 1's word
SPLITS = (11, 22)  # the bits its pending carries belong to
CTL = ("valid", "bypass", "last", "shift")
FIFO_DEPTH = 7

EXPOSE = {
    "acc0": "[31:0]", "bias0": "[31:0]", "mult0": "[14:0]",
    "t1": f"[{TW - 1}:0]", "pending1": "[1:0]", "mult1": "[14:0]", "one1": "[7:0]", "two1": "[7:0]", "neg1": "[7:0]", "half1": "[46:0]",
    "sum2": f"[{W - 1}:0]", "carry2": f"[{W - 1}:0]",
    "r_lo3": f"[{W // 2 - 1}:0]", "cy3": "", "r_hi0_3": f"[{W - W // 2 - 1}:0]", "r_hi1_3": f"[{W - W // 2 - 1}:0]",
    **{f"{n}{k}": ("[5:0]" if n == "shift" else "") for k in range(4) for n in CTL},
    "y4": f"[{W - 1}:0]", "valid4": "", "bypass4": "", "last4": "",
    "count": "[2:0]", "fifo_w_data": "[32:0]", "fifo_level": "[2:0]", "fifo_consume": "[2:0]",
    "fifo_produce": "[2:0]",
    **{f"fifo_st{k}": "[32:0]" for k in range(FIFO_DEPTH)},
}

# flatten the FIFO into the unit and its memory into registers, with names expose can select
PREP = ("flatten\nmemory_map\ncd vector_unit\n"
        + "".join(f"rename fifo.storage[{k}] fifo_st{k}\n" for k in range(FIFO_DEPTH))
        + "rename fifo.w_data fifo_w_data\nrename fifo.level fifo_level\n"
        + "rename fifo.consume fifo_consume\nrename fifo.produce fifo_produce\ncd ..\n")


def _refs() -> str:
    digits = "\n".join(
        f"  wire [1:0] mag{d} = {{two1[{d}], one1[{d}]}};\n"
        f"  wire signed [3:0] dv{d} = neg1[{d}] ? -$signed({{2'b0, mag{d}}}) : $signed({{2'b0, mag{d}}});\n"
        f"  wire signed [{W - 1}:0] mt{d} = mag{d} == 2'd1 ? tt : mag{d} == 2'd2 ? tt + tt : 0;\n"
        f"  wire signed [{W - 1}:0] pp{d} = neg1[{d}] ? -mt{d} : mt{d};"
        for d in range(8))
    msum = " + ".join(f"({{{{16{{dv{d}[3]}}}}, dv{d}}} << {2 * d})" for d in range(8))
    psum = " + ".join(f"(pp{d} << {2 * d})" for d in range(8))
    return f"""  // stage 0: the golden rule's inputs, bypass as bias 0, mult 1, shift 0
  wire in_byp = i__payload[85];
  wire [31:0] ref_bias0 = in_byp ? 32'd0 : i__payload[63:32];
  wire [14:0] ref_mult0 = in_byp ? 15'd1 : i__payload[78:64];
  wire [5:0] ref_shift0 = in_byp ? 6'd0 : i__payload[84:79];
  // stage 1: t = acc + bias exactly; the rounding constant 2^(shift-1)
  wire signed [{TW - 1}:0] ref_t1 = $signed(acc0) + $signed(bias0);
  wire signed [{TW - 1}:0] t1_value = $signed(t1) + ({{{TW - 1}'d0, pending1[0]}} << {SPLITS[0]})
                                      + ({{{TW - 1}'d0, pending1[1]}} << {SPLITS[1]});
  wire [46:0] ref_half1 = shift0 == 6'd0 ? 47'd0 : 47'd1 << (shift0 - 6'd1);
  // the digits' value sum d_k 4^k (20 bits, signed), and each t * d_k (no `*`: a 49-bit
  // multiplier per digit would swamp the solver)
  wire signed [{W - 1}:0] tt = $signed(t1);
{digits}
  wire [19:0] msum = {msum};
  // stage 2: sum of the shifted digit multiples of the word, the pending carries times the
  // multiplier and the rounding constant, mod 2^50
  wire [{W - 1}:0] pend_mult = (pending1[0] ? {{{W - 15}'d0, mult1}} << {SPLITS[0]} : {W}'d0)
                               + (pending1[1] ? {{{W - 15}'d0, mult1}} << {SPLITS[1]} : {W}'d0);
  wire [{W - 1}:0] ref_s2 = {psum} + pend_mult + {{{W - 47}'b0, half1}};
  wire [{W - 1}:0] rsum2 = sum2 + carry2;
  // stage 3: the 50-bit sum from its halves
  wire [{W - 1}:0] r3 = {{cy3 ? r_hi1_3 : r_hi0_3, r_lo3}};
  // stage 4: arithmetic shift (floor; the constant made it round half up)
  wire signed [{W - 1}:0] ref_y4 = $signed(r3) >>> shift3;
  // stage 5: clip to INT8 (bypass: the low 32 bits, unshifted)
  wire signed [{W - 1}:0] sy4 = $signed(y4);
  wire [31:0] ref_y5 = bypass4 ? y4[31:0] : (sy4 > 127 ? 32'sd127 : sy4 < -128 ? -32'sd128 : y4[31:0]);
"""


def _stream() -> str:
    st = "\n".join(f"  assign st[{k}] = fifo_st{k};" for k in range(FIFO_DEPTH))
    inv = " && ".join(f"({k} >= fifo_level || refq[{k}] == st[(fifo_consume + {k}) % {FIFO_DEPTH}])"
                      for k in range(FIFO_DEPTH))
    return f"""  // the wrapper's own count of accepted minus delivered elements
  wire take = i__valid && i__ready, give = o__valid && o__ready;
  reg [3:0] inflight = 0;
  always @(posedge clk) inflight <= rst ? 4'd0 : inflight + take - give;
  wire [3:0] staged = valid0 + valid1 + valid2 + valid3 + valid4 + fifo_level;
  // reference queue of the FIFO writes: pop the head on delivery, append each write
  reg [32:0] refq [0:{FIFO_DEPTH - 1}];
  reg [2:0] refn = 0;
  integer k;
  initial for (k = 0; k < {FIFO_DEPTH}; k = k + 1) refq[k] = 0;
  wire [2:0] kept = refn - give;
  always @(posedge clk) begin
    for (k = 0; k < {FIFO_DEPTH}; k = k + 1)
      refq[k] <= (valid4 && k == kept) ? fifo_w_data : (give && k < {FIFO_DEPTH - 1}) ? refq[k + 1] : refq[k];
    refn <= rst ? 3'd0 : kept + valid4;
  end
  wire [32:0] st [0:{FIFO_DEPTH - 1}];
{st}
  // the FIFO is a ring: read pointer + level = write pointer (mod 6)
  wire inv_ring = fifo_consume < {FIFO_DEPTH} && fifo_produce == (fifo_consume + fifo_level) % {FIFO_DEPTH};
  wire inv_fifo = inv_ring && refn == fifo_level && {inv};
"""


def wrapper(dut_text: str, only: tuple[str, ...] | None = None) -> str:
    """The property module; ``only``: the labels to assert and cover (default: all)."""
    lv = "past_valid && !past_rst"
    ctl = lambda k: f"{{{', '.join(f'{n}{k}' for n in CTL)}}}"
    past_regs = {  # name -> (width, value sampled each cycle)
        "in": (87, "i__payload"), "take": (1, "take"), "ref_bias0": (32, "ref_bias0"),
        "ref_mult0": (15, "ref_mult0"), "ref_shift0": (6, "ref_shift0"), "ref_t1": (TW, "ref_t1"),
        "mult0": (15, "mult0"), "ref_half1": (47, "ref_half1"), "ref_s2": (W, "ref_s2"),
        "rsum2": (W, "rsum2"), "ovalid": (1, "o__valid"), "oready": (1, "o__ready"),
        "o": (33, "o__payload"), **{f"ctl{k}": (9, ctl(k)) for k in range(4)}, "ref_y4": (W, "ref_y4"),
    }
    decl = "\n".join(f"  reg [{w - 1}:0] past_{n} = 0;" for n, (w, _) in past_regs.items())
    samp = " ".join(f"past_{n} <= {v};" for n, (_, v) in past_regs.items())
    props = [
        ("s0", lv, ("acc0 == past_in[31:0] && bias0 == past_ref_bias0 && mult0 == past_ref_mult0 "
                    "&& shift0 == past_ref_shift0 && bypass0 == past_in[85] && last0 == past_in[86] "
                    "&& valid0 == past_take")),
        ("s1", lv, ("t1_value == past_ref_t1 && mult1 == past_mult0 && (one1 & two1) == 8'd0 && msum == {5'd0, past_mult0} "
                    f"&& half1 == past_ref_half1 && {ctl(1)} == past_ctl0")),
        ("s2", lv, f"rsum2 == past_ref_s2 && {ctl(2)} == past_ctl1"),
        ("s3", lv, f"r3 == past_rsum2 && {ctl(3)} == past_ctl2"),
        ("bypass_shift", "1", " && ".join(f"(!bypass{k} || shift{k} == 6'd0)" for k in range(4))),
        ("s4", lv, "y4 == past_ref_y4 && {valid4, bypass4, last4} == past_ctl3[8:6]"),
        ("s5", "valid4", "fifo_w_data == {last4, ref_y5}"),
        ("count", "1", f"count == inflight && inflight == staged && inflight <= {FIFO_DEPTH}"),
        ("no_overflow", "valid4", f"fifo_level < {FIFO_DEPTH}"),
        ("no_spurious", "o__valid", "inflight != 0"),
        ("busy", "1", "busy == (valid0 || valid1 || valid2 || valid3 || valid4 || o__valid)"),
        ("hold", f"{lv} && past_ovalid && !past_oready", "o__valid && o__payload == past_o"),
        ("inv_fifo", "1", "inv_fifo"),
        ("order", "o__valid", "refn != 0 && o__payload == refq[0]"),
    ]
    if only is not None:
        props = [p for p in props if p[0] in only]
    cov = [("c_saturate_hi", "valid4 && !bypass4 && sy4 > 127"),
           ("c_saturate_lo", "valid4 && !bypass4 && sy4 < -128"),
           ("c_round_half", "valid1 && !bypass1 && shift1 == 6'd1 && t1[0] && msum[0]"),
           ("c_bypass_negative", "valid3 && bypass3 && r3[31]"),
           ("c_fifo_full", f"fifo_level == {FIFO_DEPTH} && !i__ready"),
           ("c_backpressure_full", f"o__valid && !o__ready && inflight == {FIFO_DEPTH}")] if only is None or "covers" in only else []
    ports, body = dut_instance(dut_text, "vector_unit", exposed=EXPOSE)
    return f"""module formal_top({ports});
{body}{_refs()}{_stream()}
  reg past_valid = 1'b0, past_rst = 1'b0;
{decl}
  always @(posedge clk) begin
    past_valid <= 1'b1; past_rst <= rst; {samp}
  end
{properties(props)}{covers(cov)}endmodule
"""


# s2 holds from any state (a one-step relation between stage 1 and stage 2 registers, no
# invariant needed), so it is a proof of its own: its solver time does not hold up the rest.
PRODUCT = ("s2",)


def proofs(config: str = "tiny", *, depth: int = 3, make=None, name: str | None = None) -> list[Proof]:
    """The vector unit does not depend on the preset (``vector_unit.v`` is the same in all)."""
    from hdl.generate import LINT_HEADER, icarus_safe, to_verilog
    from hdl.soc.vector_unit import VectorUnit

    text = LINT_HEADER + icarus_safe(to_verilog((make or VectorUnit)(), "vector_unit"))
    name = name or f"vector_unit_{config}"
    labels = ("s0", "s1", "s3", "bypass_shift", "s4", "s5", "count", "no_overflow", "no_spurious", "busy",
              "hold", "inv_fifo", "order")
    common = dict(design={"vector_unit.v": text}, dut_top="vector_unit", mode="prove",
                  expose=tuple(EXPOSE), prep=PREP)
    return [Proof(name=name, wrapper=wrapper(text, labels + ("covers",)), depth=depth, cover_depth=14,
                  note=f"stages 0, 1, 3, 4, 5 and the stream rules, unbounded (k = {depth})", **common),
            Proof(name=f"{name}_product", wrapper=wrapper(text, PRODUCT), depth=2, cover_depth=4,
                  note="stage 2 (the carry-save product), unbounded (k = 2)", **common)]
