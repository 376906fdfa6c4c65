"""Sequencer proofs (hdl/soc/sequencer.py): the documented contract of START, CLEAR, the error
codes and the counters (unbounded), and bounded liveness.

Every input is free (the host's START/CLEAR/parameters and every engine's status, errors and
``rst``). Unbounded properties (k-induction), written from docs/accelerator.md:

- ``reject``: a START when idle with illegal parameters finishes at once: DONE, ERROR, not BUSY,
  and ERR_CODE = the *lowest* code among the failed checks (a reference that takes the minimum
  over the checks ZERO_SIZE, M/K/N_TOO_LARGE, MISALIGNED, BAD_GROUP, not the RTL's priority chain);
- ``accept``: a START when idle with legal parameters makes the sequencer BUSY with ERR_CODE 0,
  START_IGNORED clear and a one-cycle ``flush`` of the datapath;
- ``counters_reset``: every START taken when idle, rejected or not, zeroes CYCLES, BUSY_CYCLES
  and STALL_CYCLES;
- ``start_ignored``: a START while BUSY raises STATUS.START_IGNORED and leaves the running job's
  sizes unchanged; ``clear_busy``: a CLEAR while BUSY clears nothing (ERR_CODE, START_IGNORED);
- ``flushed_before_go`` (no state from an earlier, aborted job): the engines' ``go`` of a job comes
  only after that job's flush, with ``halt`` low.

Bounded liveness (BMC from reset, ``depth`` cycles): with engines that answer (DMA idle, loads
and feeds complete, write-back done, no errors), the sequencer never waits more than ``stuck``
cycles in one state, so every job ends; ``c_job_done`` covers a job that completes.
"""

from __future__ import annotations

from .runner import Proof, covers, dut_instance, properties

__all__ = ["proofs"]

CODES = {"ZERO_SIZE": 1, "M_TOO_LARGE": 2, "K_TOO_LARGE": 3, "N_TOO_LARGE": 4, "MISALIGNED": 5,
         "BAD_GROUP": 10}


def _reference(cfg) -> str:
    low = cfg.bus_bytes - 1
    checks = [("m_size == 0 || k_size == 0 || n_size == 0", CODES["ZERO_SIZE"]),
              (f"m_size > {cfg.max_m}", CODES["M_TOO_LARGE"]),
              (f"k_size > {cfg.max_k}", CODES["K_TOO_LARGE"]),
              (f"n_size > {cfg.max_n}", CODES["N_TOO_LARGE"]),
              (f"((w_addr | x_addr | y_addr) & {low}) != 0 || (!bypass_in && (p_addr & {low}) != 0)",
               CODES["MISALIGNED"]),
              (f"group_in[4] && {0 if cfg.group_scales else 1}", CODES["BAD_GROUP"])]
    lines = ["  reg [7:0] ref_code;", "  always @* begin", "    ref_code = 8'd0;"]
    # the minimum over the failed checks, in reverse so that a lower code overwrites a higher one
    for cond, code in sorted(checks, key=lambda c: -c[1]):
        lines.append(f"    if ({cond}) ref_code = 8'd{code};")
    return "\n".join(lines + ["  end"]) + "\n"


def wrapper(text: str, cfg, *, live: bool = False, stuck: int = 48) -> str:
    ports, body = dut_instance(text, "sequencer", exposed={"state": "[2:0]"})
    lv = "past_valid && !past_rst"
    props = [
        ("reject", f"{lv} && past_start_idle && past_ref != 0",
         "done && error && !busy && err_code == past_ref"),
        ("accept", f"{lv} && past_start_idle && past_ref == 0",
         "busy && flush && err_code == 0 && !start_ignored"),
        ("counters_reset", f"{lv} && past_start_idle", "cycles == 0 && busy_cycles == 0 && stall_cycles == 0"),
        ("start_ignored", f"{lv} && past_start && past_busy",
         "start_ignored && m == past_m && k == past_k && n == past_n"),
        ("clear_busy", f"{lv} && past_clear && past_busy",
         "(past_err == 0 || err_code != 0) && (!past_ignored || start_ignored)"),
        ("flushed_before_go", "go", "flushed && !halt"),
        # induction invariants
        ("inv_busy", "1", "(state != 3'd0) == busy"),
        ("inv_flushed", "state != 3'd0", "flushed || flush"),
        ("inv_setup", "state == 3'd1", "!halt && !go"),
    ]
    cov = [("c_code_lowest", f"{lv} && past_start_idle && past_ref == 8'd1 && past_msize > {cfg.max_m}"),
           ("c_bad_group_or_misaligned", f"{lv} && past_start_idle && past_ref == 8'd5")]
    extra = ""
    if live:
        extra = """  // engines that answer: no errors, loads and feeds complete, write-back done, DMA idle
  always @* assume (!rd_error && !wr_error && !p_bad && !x_busy && x_fed && wb_done && dma_idle
                    && x_loaded == x_mc && !rst);
  reg [7:0] same = 0;
  reg [2:0] last_state = 0;
  always @(posedge clk) begin
    last_state <= state;
    same <= (state != last_state || state == 3'd0) ? 8'd0 : same + 8'd1;
  end
"""
        props = [("progress", "1", f"same <= {stuck}")]
        cov = [("c_job_done", f"{lv} && past_busy && !busy && done && !error && past_m > 1")]
    return f"""module formal_top({ports});
{body}
{_reference(cfg)}
  reg past_valid = 1'b0, past_rst = 1'b0, past_start = 1'b0, past_busy = 1'b0, past_clear = 1'b0;
  reg past_start_idle = 1'b0, past_ignored = 1'b0, flushed = 1'b0;
  reg [31:0] past_msize = 0;
  reg [7:0] past_ref = 0, past_err = 0;
  reg [15:0] past_m = 0, past_k = 0, past_n = 0;
  always @(posedge clk) begin
    past_valid <= 1'b1; past_rst <= rst; past_start <= start; past_busy <= busy; past_clear <= clear;
    past_start_idle <= start && !busy; past_ref <= ref_code; past_err <= err_code;
    past_ignored <= start_ignored; past_msize <= m_size;
    past_m <= m; past_k <= k; past_n <= n;
    if (rst || (start && !busy)) flushed <= 1'b0;
    else if (flush) flushed <= 1'b1;
  end
{extra}{properties(props)}{covers(cov)}endmodule
"""


def sequencer_verilog(cfg) -> dict[str, str]:
    from hdl.generate import icarus_safe, to_verilog
    from hdl.soc.sequencer import Sequencer

    return {"sequencer.v": icarus_safe(to_verilog(Sequencer(cfg), "sequencer"))}


def proofs(config: str, *, depth: int = 4, live_depth: int = 80) -> list[Proof]:
    from hdl.soc.accel_config import accel_preset

    cfg = accel_preset(config)
    design = sequencer_verilog(cfg)
    text = design["sequencer.v"]
    return [
        Proof(name=f"sequencer_{config}", design=design, dut_top="sequencer",
              wrapper=wrapper(text, cfg), depth=depth, cover_depth=48, expose=("state",),
              note=f"contract of START/CLEAR/codes/counters, unbounded (k = {depth})"),
        Proof(name=f"sequencer_live_{config}", design=design, dut_top="sequencer",
              wrapper=wrapper(text, cfg, live=True), mode="bmc", depth=live_depth,
              cover_depth=live_depth, expose=("state",),
              note=f"bounded liveness: BMC of {live_depth} cycles, no state waits > 48 cycles"),
    ]
