"""cocotb: one processing element (temporal_pe.v, mac8x3_pe.v, mac8x8_pe.v) against q * x.

The temporal PE and the 3-bit MAC PE see every 3-bit weight times every INT8 activation; the
8-bit MAC PE every INT8 weight times the corner activations and 24 random ones. The PE is driven
the way the array drives it: a beat of P cycles with the phase counting P-1 .. 0 (P random in
max(1, |q|) .. code_length), ``first`` on the first cycle, the next activation shifted in on the
last cycle, and random hold cycles (en low, garbage on every other input) in between.
"""

import os

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from hdl.datapath.config import preset
from verif.cocotb_tb import reset, start_clock, tb_rng

CORNERS = [-128, -127, -1, 0, 1, 126, 127]


def signed(v: int, width: int) -> int:
    v &= (1 << width) - 1
    return v - (1 << width) if v >> (width - 1) else v


def as_bits(v: int, width: int) -> int:
    return v & ((1 << width) - 1)


async def check_weight(dut, q: int, xs: list[int], rng, code_length: int, what: str):
    temporal = hasattr(dut, "phase")
    aw, ww, pw = len(dut.x_in), len(dut.w_in), len(dut.psum_in)
    margin = (1 << (aw - 1)) * (1 << (ww - 1))
    lo, hi = -(1 << (pw - 1)) + margin, (1 << (pw - 1)) - 1 - margin

    def garbage(sig):
        sig.value = rng.getrandbits(len(sig))

    # Load the weight (one cycle of w_load) and the first activation (x_shift with en low).
    await RisingEdge(dut.clk)
    dut.w_in.value = as_bits(q, ww)
    dut.w_load.value = 1
    dut.x_in.value = as_bits(xs[0], aw)
    dut.x_shift.value = 1
    dut.en.value = 0
    await RisingEdge(dut.clk)
    dut.w_load.value = 0
    garbage(dut.w_in)
    await FallingEdge(dut.clk)
    assert dut.w_out.value.to_signed() == q, f"{what}: w_out {dut.w_out.value.to_signed()} != {q}"

    for j, x in enumerate(xs):
        beat = rng.randint(max(1, abs(q)), code_length) if temporal else 1
        p0 = rng.choice([0, lo, hi, rng.randint(lo, hi)])
        i = 0
        while i < beat:
            if rng.random() < 0.15:  # hold: nothing may change
                dut.en.value = 0
                dut.x_shift.value = 0
                for sig in (dut.x_in, dut.psum_in, *((dut.phase, dut.first) if temporal else ())):
                    garbage(sig)
                await RisingEdge(dut.clk)
                continue
            dut.en.value = 1
            dut.psum_in.value = as_bits(p0, pw) if i == 0 else rng.getrandbits(pw)
            if temporal:
                dut.phase.value = beat - 1 - i
                dut.first.value = int(i == 0)
            last = i == beat - 1
            dut.x_shift.value = int(last)
            if last and j + 1 < len(xs):
                dut.x_in.value = as_bits(xs[j + 1], aw)
            else:
                garbage(dut.x_in)
            await RisingEdge(dut.clk)
            i += 1
        dut.en.value = 0
        dut.x_shift.value = 0
        await FallingEdge(dut.clk)
        got = dut.psum_out.value.to_signed()
        want = p0 + q * x
        if got != want:
            raise AssertionError(
                f"{what}: q={q} x={x} psum_in={p0} beat of {beat} cycles: psum_out={got}, "
                f"expected {want} (difference {got - want})")
        # The last cycle of the beat shifted in the next activation, which x_out passes on.
        if j + 1 < len(xs) and dut.x_out.value.to_signed() != xs[j + 1]:
            raise AssertionError(
                f"{what}: x_out {dut.x_out.value.to_signed()} != next activation {xs[j + 1]}")


@cocotb.test()
async def every_weight_times_activations(dut):
    start_clock(dut)
    await reset(dut)
    cfg = preset(os.environ.get("FINEQ_TB_CONFIG", "tiny"))
    name = os.environ.get("COCOTB_TOPLEVEL", "pe")
    rng = tb_rng(name)
    ww = len(dut.w_in)
    weights = list(range(-(1 << (ww - 1)), 1 << (ww - 1)))
    rng.shuffle(weights)
    for q in weights:
        if ww <= 3:
            xs = list(range(-128, 128))  # exhaustive
        else:
            xs = CORNERS + [rng.randint(-128, 127) for _ in range(24)]
        rng.shuffle(xs)
        await check_weight(dut, q, xs, rng, cfg.code_length, name)
    dut._log.info("checked %d weights", len(weights))
