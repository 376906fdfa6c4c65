"""AXI4-Lite subordinate proofs: the register file alone and inside the whole accelerator.

No assumption on the host: every input (``*valid``, ``*ready``, addresses, data, strobes, the
register file's read-only inputs, ``rst``) is free in every cycle, so the properties hold even
for a host that breaks the AXI rules. Unbounded (k-induction). Properties, with ``ar``, ``aw``,
``w``, ``r``, ``b`` handshakes counted by the wrapper since reset:

- ``reset``: RVALID and BVALID are low at power-on and in the cycle after a reset;
- ``r_hold`` / ``b_hold``: a response not taken holds VALID and its payload (RDATA, RRESP / BRESP);
- ``r_outstanding``: RVALID is high exactly when one read is outstanding (AR handshakes minus R
  handshakes is RVALID): no read response without a request, never two reads outstanding;
- ``aw_outstanding`` / ``w_outstanding``: the same for writes: AW and W handshakes minus B
  handshakes each equal BVALID (a response only after both address and data, one at a time);
- ``r_resp`` / ``b_resp``: responses are OKAY or SLVERR only.
"""

from __future__ import annotations

from .runner import Proof, covers, dut_instance, properties

__all__ = ["proofs", "regfile_verilog", "wrapper"]


def wrapper(design_text: str, module: str, prefix: str) -> str:
    ports, body = dut_instance(design_text, module)
    s = {n: f"{prefix}{n}" for n in ("arvalid", "arready", "rvalid", "rready", "rdata", "rresp",
                                     "awvalid", "awready", "wvalid", "wready", "bvalid", "bready",
                                     "bresp")}
    live = "past_valid && !past_rst"
    props = [
        ("reset", "!past_valid || past_rst", f"!{s['rvalid']} && !{s['bvalid']}"),
        ("r_hold", f"{live} && past_rvalid && !past_rready",
         f"{s['rvalid']} && {s['rdata']} == past_rdata && {s['rresp']} == past_rresp"),
        ("b_hold", f"{live} && past_bvalid && !past_bready", f"{s['bvalid']} && {s['bresp']} == past_bresp"),
        ("r_outstanding", "1", f"r_out == {s['rvalid']}"),
        ("aw_outstanding", "1", f"aw_out == {s['bvalid']}"),
        ("w_outstanding", "1", f"w_out == {s['bvalid']}"),
        ("r_resp", s["rvalid"], f"{s['rresp']} == 2'd0 || {s['rresp']} == 2'd2"),
        ("b_resp", s["bvalid"], f"{s['bresp']} == 2'd0 || {s['bresp']} == 2'd2"),
    ]
    cov = [("c_read_okay", f"{s['rvalid']} && {s['rresp']} == 2'd0 && {s['rdata']} != 0"),
           ("c_read_slverr", f"{s['rvalid']} && {s['rresp']} == 2'd2"),
           ("c_write_okay", f"{s['bvalid']} && {s['bresp']} == 2'd0"),
           ("c_write_slverr", f"{s['bvalid']} && {s['bresp']} == 2'd2"),
           ("c_back_to_back", f"{live} && past_rvalid && past_rready && {s['rvalid']} == 0 && ar_hs")]
    return f"""module formal_top({ports});
{body}
  wire ar_hs = {s['arvalid']} && {s['arready']}, r_hs = {s['rvalid']} && {s['rready']};
  wire aw_hs = {s['awvalid']} && {s['awready']}, w_hs = {s['wvalid']} && {s['wready']};
  wire b_hs = {s['bvalid']} && {s['bready']};
  reg [1:0] r_out = 0, aw_out = 0, w_out = 0;
  reg past_valid = 1'b0, past_rst = 1'b0, past_rvalid = 1'b0, past_rready = 1'b0;
  reg past_bvalid = 1'b0, past_bready = 1'b0;
  reg [31:0] past_rdata = 0;
  reg [1:0] past_rresp = 0, past_bresp = 0;
  always @(posedge clk) begin
    past_valid <= 1'b1; past_rst <= rst;
    past_rvalid <= {s['rvalid']}; past_rready <= {s['rready']}; past_rdata <= {s['rdata']};
    past_rresp <= {s['rresp']}; past_bvalid <= {s['bvalid']}; past_bready <= {s['bready']};
    past_bresp <= {s['bresp']};
    if (rst) begin
      r_out <= 0; aw_out <= 0; w_out <= 0;
    end else begin
      r_out <= r_out + ar_hs - r_hs; aw_out <= aw_out + aw_hs - b_hs; w_out <= w_out + w_hs - b_hs;
    end
  end
{properties(props)}{covers(cov)}endmodule
"""


def regfile_verilog() -> dict[str, str]:
    """The register file of every build (it does not depend on the preset)."""
    from hdl.generate import icarus_safe, to_verilog
    from hdl.soc.regfile import RegisterFile

    return {"regfile.v": icarus_safe(to_verilog(RegisterFile(), "regfile"))}


def regfile_proof(design: dict[str, str] | None = None, name: str = "axil_regfile") -> Proof:
    design = design or regfile_verilog()
    return Proof(name=name, design=design, dut_top="regfile",
                 wrapper=wrapper(design["regfile.v"], "regfile", "bus__"), depth=3, cover_depth=4,
                 note="unbounded (k-induction, k = 3)")


def top_proof(config: str, stem: str = "top", depth: int = 3) -> Proof:
    """The AXI4-Lite port of a generated accelerator build (``build/verilog/<config>/<stem>.v``)."""
    from verif.simulate import verilog_dir

    text = (verilog_dir(config) / f"{stem}.v").read_text()
    return Proof(name=f"axil_{stem}_{config}", design={f"{stem}.v": text}, dut_top=stem,
                 wrapper=wrapper(text, stem, "s_axil__"), depth=depth, cover_depth=4,
                 note=f"unbounded (k-induction, k = {depth}) on the whole accelerator")


def proofs(config: str) -> list[Proof]:
    return [regfile_proof(), top_proof(config)]
