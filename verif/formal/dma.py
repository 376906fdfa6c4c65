"""AXI4 manager proofs on the DMA (hdl/soc/axi_dma.py), unbounded, with the parameters of every
accelerator build of a preset (bus width, per-client burst limits).

Free in every cycle: the memory (every ``*ready``, R and B channels, responses), the clients'
``start``/``addr``/``words``/``space``/``ready``, ``halt`` and ``rst``. One assumption: the
write client's ``wr_data`` stream follows the stream rule (valid and payload held until ready).
Properties (B = bytes per beat):

- ``ar_hold`` / ``aw_hold`` / ``w_hold``: VALID and the payload held until READY;
- ``ar_incr`` / ``aw_incr``: INCR bursts of size log2(B); ``ar_align`` / ``aw_align``: the
  address is a multiple of B; ``ar_4k`` / ``aw_4k``: ``addr % 4096 + (len + 1) * B <= 4096``
  (no burst crosses a 4 KiB line);
- ``w_after_aw``: no W beat before its burst's AW; ``w_last``: WLAST exactly on beat AWLEN+1;
- ``one_write``: no AW while a burst's W beats or its response are outstanding;
- ``reads_in_flight``: at most ``max_outstanding_reads`` read bursts from AR to the last R beat.

Induction invariants on ``expose``-d registers: the write engine's state matches the wrapper's
view of the burst (``wr_sent`` = W beats sent, ``wr_len - 1`` = AWLEN = ``wr_awlen``), a
client's next burst length is 4 KiB-safe whenever it is up to date (``rd<c>_fresh``), and its
registered ARLEN (``rd<c>_next_arlen``) is that length less one, and its ``rd<c>_has_work``
flag is ``rd<c>_remain != 0``. A second assumption, on the
memory: no R beat while no read burst is outstanding (AXI's own rule for a subordinate).
"""

from __future__ import annotations

from .runner import Proof, covers, dut_instance, properties

__all__ = ["dma_parameters", "proofs", "wrapper"]

DATA, RESP = 3, 4  # WriteState values (RESP and the unused encodings are the default branch)


def dma_parameters(config: str) -> list[dict]:
    """The distinct AxiDma arguments of the preset's accelerator builds (as hdl/soc/top.py)."""
    from hdl.generate import accelerators
    from hdl.soc.top import READ_CLIENTS, READ_CREDIT

    seen = {}
    for cfg in accelerators(config).values():
        args = {"data_width": 8 * cfg.bus_bytes, "read_clients": len(READ_CLIENTS),
                "max_burst": (cfg.max_burst, cfg.max_burst, cfg.w_fifo_words // 2),
                "credit": READ_CREDIT}
        seen[repr(args)] = args
    return list(seen.values())


def wrapper(text: str, beat_bytes: int, read_clients: int, max_outstanding: int,
            max_burst) -> str:
    shift = beat_bytes.bit_length() - 1
    cw = max_outstanding.bit_length()
    exposed = {"state": "[2:0]", "wr_len": "[8:0]", "wr_awlen": "[7:0]", "wr_sent": "[8:0]",
               "bursts_in_flight": f"[{cw - 1}:0]" if cw > 1 else ""}
    for c in range(read_clients):
        exposed |= {f"rd{c}_addr": "[31:0]", f"rd{c}_fresh": "", f"rd{c}_next_len": "[8:0]",
                    f"rd{c}_next_arlen": "[7:0]",
                    f"rd{c}_remain": "[23:0]", f"rd{c}_has_work": ""}
    ports, body = dut_instance(text, "axi_dma", exposed=exposed)
    live = "past_valid && !past_rst"

    def line_ok(addr, beats):
        return f"({{20'd0, {addr}[11:0]}} + ({beats}) * {beat_bytes} <= 4096)"

    props = [
        ("ar_hold", f"{live} && past_arvalid && !past_arready",
         "bus__arvalid && bus__araddr == past_araddr && bus__arlen == past_arlen"),
        ("aw_hold", f"{live} && past_awvalid && !past_awready",
         "bus__awvalid && bus__awaddr == past_awaddr && bus__awlen == past_awlen"),
        ("w_hold", f"{live} && past_wvalid && !past_wready",
         "bus__wvalid && bus__wdata == past_wdata && bus__wstrb == past_wstrb && bus__wlast == past_wlast"),
        ("ar_incr", "bus__arvalid", f"bus__arburst == 2'd1 && bus__arsize == 3'd{shift}"),
        ("aw_incr", "bus__awvalid", f"bus__awburst == 2'd1 && bus__awsize == 3'd{shift}"),
        ("ar_align", "bus__arvalid", f"bus__araddr[{max(shift - 1, 0)}:0] == 0"),
        ("aw_align", "bus__awvalid", f"bus__awaddr[{max(shift - 1, 0)}:0] == 0"),
        ("ar_4k", "bus__arvalid", line_ok("bus__araddr", "{24'd0, bus__arlen} + 1")),
        ("aw_4k", "bus__awvalid", line_ok("bus__awaddr", "{24'd0, bus__awlen} + 1")),
        ("w_after_aw", "bus__wvalid", "w_open"),
        ("w_last", "bus__wvalid && w_open", "bus__wlast == (w_beats == {1'b0, w_len})"),
        ("one_write", "bus__awvalid", "!w_open && !b_wait"),
        ("reads_in_flight", "1", f"r_bursts <= {max_outstanding}"),
        # induction invariants
        ("inv_r_bursts", "1", f"r_bursts + bus__arvalid == bursts_in_flight && bursts_in_flight <= {max_outstanding}"),
        ("inv_w_data", "1", f"(state == 3'd{DATA}) == w_open"),
        ("inv_w_resp", "1", f"(state >= 3'd{RESP}) == b_wait"),
        ("inv_w_count", "w_open", "wr_sent == w_beats && wr_len - 9'd1 == {1'b0, w_len} && w_beats <= {1'b0, w_len}"),
        ("inv_w_addr", "state == 3'd2", "wr_sent == 0"),
        ("inv_w_burst", "state >= 3'd2", (f"wr_len >= 1 && wr_len <= 256 && {line_ok('bus__awaddr', 'wr_len')}"
                                          f" && bus__awaddr[{max(shift - 1, 0)}:0] == 0"
                                          " && {1'b0, wr_awlen} == wr_len - 9'd1")),
    ]
    for c in range(read_clients):
        props.append((f"inv_rd{c}", f"rd{c}_fresh",
                      (f"{line_ok(f'rd{c}_addr', f'rd{c}_next_len')} && rd{c}_next_len <= {max_burst[c]}"
                       f" && (rd{c}_remain == 0 || rd{c}_next_len >= 1)"
                       f" && rd{c}_next_arlen == rd{c}_next_len[7:0] - 8'd1")))
        props.append((f"inv_rd{c}_align", "1", f"rd{c}_addr[{max(shift - 1, 0)}:0] == 0"))
        props.append((f"inv_rd{c}_work", "1", f"rd{c}_has_work == (rd{c}_remain != 0)"))
    cov = [("c_ar_to_line", f"bus__arvalid && {{20'd0, bus__araddr[11:0]}} + ({{24'd0, bus__arlen}} + 1) * {beat_bytes} == 4096"),
           ("c_aw_to_line", f"bus__awvalid && {{20'd0, bus__awaddr[11:0]}} + ({{24'd0, bus__awlen}} + 1) * {beat_bytes} == 4096"),
           ("c_short_burst_end", "bus__wvalid && bus__wready && bus__wlast && w_len == 1"),
           ("c_two_reads", f"r_bursts == {max_outstanding}")]
    return f"""module formal_top({ports});
{body}
  wire ar_hs = bus__arvalid && bus__arready, aw_hs = bus__awvalid && bus__awready;
  wire w_hs = bus__wvalid && bus__wready, b_hs = bus__bvalid && bus__bready;
  wire r_end = bus__rvalid && bus__rready && bus__rlast;
  reg past_valid = 1'b0, past_rst = 1'b0;
  reg past_arvalid = 1'b0, past_arready = 1'b0, past_awvalid = 1'b0, past_awready = 1'b0;
  reg past_wvalid = 1'b0, past_wready = 1'b0, past_wlast = 1'b0;
  reg past_wd_valid = 1'b0, past_wd_ready = 1'b0;
  reg [31:0] past_araddr = 0, past_awaddr = 0;
  reg [7:0] past_arlen = 0, past_awlen = 0, w_len = 0;
  reg [{8 * beat_bytes - 1}:0] past_wdata = 0;
  reg [{beat_bytes - 1}:0] past_wstrb = 0;
  reg [{9 * beat_bytes - 1}:0] past_wd_payload = 0;
  reg w_open = 1'b0, b_wait = 1'b0;
  reg [8:0] w_beats = 0;
  reg [4:0] r_bursts = 0;
  always @(posedge clk) begin
    past_valid <= 1'b1; past_rst <= rst;
    past_arvalid <= bus__arvalid; past_arready <= bus__arready; past_araddr <= bus__araddr;
    past_arlen <= bus__arlen; past_awvalid <= bus__awvalid; past_awready <= bus__awready;
    past_awaddr <= bus__awaddr; past_awlen <= bus__awlen; past_wvalid <= bus__wvalid;
    past_wready <= bus__wready; past_wdata <= bus__wdata; past_wstrb <= bus__wstrb;
    past_wlast <= bus__wlast; past_wd_valid <= wr_data__valid; past_wd_ready <= wr_data__ready;
    past_wd_payload <= wr_data__payload;
    if (rst) begin
      w_open <= 1'b0; b_wait <= 1'b0; w_beats <= 0; r_bursts <= 0;
    end else begin
      r_bursts <= r_bursts + ar_hs - r_end;
      if (aw_hs) begin w_open <= 1'b1; w_beats <= 0; w_len <= bus__awlen; end
      if (w_hs) begin
        w_beats <= w_beats + 1'b1;
        if (bus__wlast) begin w_open <= 1'b0; b_wait <= 1'b1; end
      end
      if (b_hs && b_wait) b_wait <= 1'b0;
    end
  end
  // the memory answers only reads it was asked for
  always @* assume (!bus__rvalid || r_bursts != 0);
  // the write client follows the stream rule
  always @* if ({live} && past_wd_valid && !past_wd_ready)
    assume (wr_data__valid && wr_data__payload == past_wd_payload);
{properties(props)}{covers(cov)}endmodule
"""


def dma_verilog(args: dict, make=None) -> dict[str, str]:
    from hdl.generate import icarus_safe, to_verilog
    from hdl.soc.axi_dma import AxiDma

    return {"axi_dma.v": icarus_safe(to_verilog((make or AxiDma)(**args), "axi_dma"))}


def proof_of(design: dict[str, str], args: dict, *, name: str, depth: int = 3) -> Proof:
    bb = args["data_width"] // 8
    return Proof(name=name, design=design, dut_top="axi_dma",
                 wrapper=wrapper(design["axi_dma.v"], bb, args["read_clients"], 2, args["max_burst"]),
                 depth=depth, cover_depth=12,
                 expose=("state", "wr_len", "wr_awlen", "wr_sent", "bursts_in_flight",
                         *(f"rd{c}_{n}" for c in range(args["read_clients"])
                           for n in ("addr", "fresh", "next_len", "next_arlen", "remain", "has_work"))),
                 note=f"{bb * 8}-bit data, bursts {list(args['max_burst'])}, unbounded (k = {depth})")


def proofs(config: str, *, depth: int = 3) -> list[Proof]:
    return [proof_of(dma_verilog(args), args, name=f"dma_b{args['data_width']}_{config}", depth=depth)
            for args in dma_parameters(config)]
