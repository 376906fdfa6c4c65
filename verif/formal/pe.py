"""PE proofs (unbounded): temporal PE, radix-2 temporal PE, MAC PEs.

Temporal PEs. The wrapper plays the array: a beat is a run of cycles whose broadcast phase
counts ``P-1 .. 0``, advancing only in enabled cycles (``en`` low anywhere inside is a stall),
with the row's activation held and no swap inside the beat; the beat length, the stalls, the
activation, the weights loaded into the shadow register, and every input between beats are free.
The only assumption is the schedule's ``P >= pulses(|q|)`` (``|q|`` for radix 1, ``ceil(|q|/2)``
for radix 2). Properties:

- ``product``: in the cycle after a beat's last cycle, ``product = q * x`` for every q and
  every INT8 x (the PE's ``product`` is the partial product its column's adder tree sums);
- ``code`` (the induction invariant, the temporal code itself): inside a beat, after the
  enabled cycles with phases ``P-1 .. p+1``, the accumulator holds exactly the pulses of those
  phases, ``acc = sign(q) * x * sum of pulse weights``, once a pulse has happened;
- ``weights``: ``w_load`` writes the shadow register, ``swap`` the active one.

MAC PEs (``P = 1``): after every enabled cycle ``product = x * w`` with the active weight of
that cycle; after a disabled cycle ``product`` holds.
"""

from __future__ import annotations

from hdl.datapath.config import ArrayKind, preset

from .runner import Proof, component_verilog, covers, properties

__all__ = ["mac_wrapper", "proofs", "temporal_wrapper"]


def temporal_wrapper(pw: int, radix: int, aw: int = 8) -> str:
    pwid = aw + 3  # product width
    pulses = "mag" if radix == 1 else "((mag + 3'd1) >> 1)"
    doubles = "3'd0" if radix == 1 else "(mag >> 1)"
    props = [
        ("product", "ended", "product == ended_qx"),
        ("code", "in_beat && done_pulses != 0", "product == expect_acc"),
        ("weights", "past_valid", "shadow == exp_shadow && w == exp_w"),
    ]
    cov = [("c_neg4", "ended && ended_q == -3'sd4 && ended_x == -8'sd128"),
           ("c_stall_in_beat", "in_beat && !en_in && done_pulses != 0"),
           ("c_zero_after_nonzero", "ended && ended_q == 0 && past_product != 0"),
           ("c_long_beat", f"ended && top_seen == {(1 << pw) - 1}")]
    return f"""module formal_top(input clk, input rst, input [2:0] w_in, input w_load, input swap_in,
                  input signed [{aw - 1}:0] x_in, input en_in, input en_idle, input first,
                  input [{pw - 1}:0] phase_idle, input start_in, input [{pw - 1}:0] top_in);
  wire signed [{pwid - 1}:0] product;
  wire signed [2:0] w, shadow;
  reg in_beat = 1'b0;
  reg [{pw - 1}:0] cnt = 0, top_seen = 0;
  reg signed [{aw - 1}:0] beat_x = 0;
  wire last = in_beat && en_in && cnt == 0;
  wire can_start = !in_beat || last;   // a beat (and its swap) begins after the previous one
  wire swap = swap_in && can_start;
  wire en = in_beat ? en_in : en_idle;
  wire [{pw - 1}:0] phase = in_beat ? cnt : phase_idle;
  wire signed [{aw - 1}:0] x = in_beat ? beat_x : x_in;
  temporal_pe dut(.clk(clk), .rst(rst), .w_in(w_in), .w_load(w_load), .swap(swap), .x(x), .en(en),
                  .first(first), .phase(phase), .product(product), .w(w), .shadow(shadow));

  // the schedule: P >= pulses(|q|) while a beat runs (q is constant inside it)
  wire [2:0] mag = w[2] ? -w : w;
  wire [2:0] pulses = {pulses};
  wire [2:0] doubles = {doubles};
  always @* if (in_beat) assume ({{1'b0, top_seen}} + 1 >= pulses);

  always @(posedge clk) begin
    if (can_start) begin
      in_beat <= start_in; cnt <= top_in; top_seen <= top_in; beat_x <= x_in;
    end else if (en_in) cnt <= cnt - 1'b1;
  end

  // pulses of the phases already done in this beat (top .. cnt+1), and their weight
  wire [3:0] done_pulses = (pulses > cnt + 1) ? pulses - cnt - 1 : 4'd0;
  wire [3:0] done_doubles = (doubles > cnt + 1) ? doubles - cnt - 1 : 4'd0;
  wire signed [4:0] weight = $signed({{1'b0, done_pulses}} + {{1'b0, done_doubles}});
  wire signed [{pwid - 1}:0] expect_acc = w[2] ? -(weight * beat_x) : weight * beat_x;

  reg past_valid = 1'b0, ended = 1'b0;
  reg signed [2:0] ended_q = 0, exp_shadow = 0, exp_w = 0;
  reg signed [{aw - 1}:0] ended_x = 0;
  reg signed [{pwid - 1}:0] past_product = 0;
  wire signed [{pwid - 1}:0] ended_qx = ended_q * ended_x;
  always @(posedge clk) begin
    past_valid <= 1'b1; ended <= last; ended_q <= w; ended_x <= beat_x; past_product <= product;
    exp_shadow <= w_load ? w_in : shadow;
    exp_w <= swap ? shadow : w;
  end
{properties(props)}{covers(cov)}endmodule
"""


def mac_wrapper(ww: int, aw: int = 8) -> str:
    pwid = aw + ww
    props = [("product", "past_valid && past_en", "product == past_x * past_w"),
             ("hold", "past_valid && !past_en", "product == past_product"),
             ("weights", "past_valid", "shadow == exp_shadow && w == exp_w")]
    cov = [("c_corner", (f"past_valid && past_en && past_x == -{aw}'sd{1 << (aw - 1)} "
                         f"&& past_w == -{ww}'sd{1 << (ww - 1)}")),
           ("c_clear", "past_valid && past_en && past_product != 0 && product == 0")]
    return f"""module formal_top(input clk, input rst, input [{ww - 1}:0] w_in, input w_load,
                  input swap, input signed [{aw - 1}:0] x, input en);
  wire signed [{pwid - 1}:0] product;
  wire signed [{ww - 1}:0] w, shadow;
  mac_pe dut(.clk(clk), .rst(rst), .w_in(w_in), .w_load(w_load), .swap(swap), .x(x), .en(en),
             .product(product), .w(w), .shadow(shadow));
  reg past_valid = 1'b0, past_en = 1'b0;
  reg signed [{aw - 1}:0] past_x = 0;
  reg signed [{ww - 1}:0] past_w = 0, exp_shadow = 0, exp_w = 0;
  reg signed [{pwid - 1}:0] past_product = 0;
  always @(posedge clk) begin
    past_valid <= 1'b1; past_en <= en; past_x <= x; past_w <= w; past_product <= product;
    exp_shadow <= w_load ? w_in : shadow;
    exp_w <= swap ? shadow : w;
  end
{properties(props)}{covers(cov)}endmodule
"""


def _rename(design: dict[str, str], old: str, new: str) -> dict[str, str]:
    """The wrappers instantiate ``temporal_pe`` / ``mac_pe``: rename the generated module."""
    return {f: text.replace(f"module {old}(", f"module {new}(") for f, text in design.items()}


STEMS = ("temporal_pe", "temporal_pe_r2", "mac8x8_pe", "mac8x3_pe")


def proofs(config: str, *, makes: dict | None = None, prefix: str = "", stems=STEMS) -> list[Proof]:
    """Proofs of the PEs ``stems`` of preset ``config``; ``makes``: stem -> constructor of a
    replacement component (a mutant)."""
    cfg = preset(config)
    makes = makes or {}
    out = []
    for stem, radix in (("temporal_pe", 1), ("temporal_pe_r2", 2)):
        if stem not in stems:
            continue
        design = _rename(component_verilog(config, stem, makes.get(stem)), stem, "temporal_pe")
        out.append(Proof(name=f"{prefix}{stem}_{config}", design=design, dut_top="temporal_pe",
                         wrapper=temporal_wrapper(cfg.phase_width, radix, cfg.act_width),
                         depth=4, cover_depth=3 + (1 << cfg.phase_width), expose=("w", "shadow"),
                         note=f"unbounded (k-induction, k = 4), phase width {cfg.phase_width}"))
    for kind in (ArrayKind.MAC8X8, ArrayKind.MAC8X3):
        stem = f"{kind.value.split('_')[0]}_pe"
        if stem not in stems:
            continue
        design = _rename(component_verilog(config, stem, makes.get(stem)), stem, "mac_pe")
        out.append(Proof(name=f"{prefix}{stem}_{config}", design=design, dut_top="mac_pe",
                         wrapper=mac_wrapper(cfg.weight_bits(kind), cfg.act_width), depth=3, cover_depth=6,
                         expose=("w", "shadow"), note="unbounded (k-induction, k = 3)"))
    return out
