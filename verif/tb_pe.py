"""cocotb: one processing element (temporal_pe.v, mac8x3_pe.v, mac8x8_pe.v) against q * x.

The temporal PE and the 3-bit MAC PE see every 3-bit weight times every INT8 activation; the
8-bit MAC PE every INT8 weight times the corner activations and 24 random ones. The PE is driven
the way the array drives it: each weight loads into the shadow register while the previous one
still computes a beat, then ``swap``; a beat of P cycles with the phase counting P-1 .. 0 (P
random in max(1, |q|) .. code_length) and ``first`` on the first cycle, with random hold cycles
(en low, garbage on every other input) in between.
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


async def check_weight(dut, q: int, prev: int | None, xs: list[int], rng, code_length: int,
                       what: str):
    """Load ``q`` into the shadow register while the previous weight ``prev`` still computes
    one beat, swap it in, then one beat per activation (with random holds)."""
    temporal = hasattr(dut, "phase")
    ww = len(dut.w_in)

    def garbage(sig):
        sig.value = rng.getrandbits(len(sig))

    await RisingEdge(dut.clk)
    dut.w_in.value = as_bits(q, ww)
    dut.w_load.value = 1
    dut.en.value = 0
    await RisingEdge(dut.clk)
    dut.w_load.value = 0
    garbage(dut.w_in)
    if prev is not None:  # the shadow holds q; the active weight is still prev
        await beat(dut, prev, xs[0], code_length if temporal else 1, rng, garbage, what)
    dut.swap.value = 1
    await RisingEdge(dut.clk)
    dut.swap.value = 0
    for x in xs:
        length = rng.randint(max(1, abs(q)), code_length) if temporal else 1
        await beat(dut, q, x, length, rng, garbage, what)


async def beat(dut, q, x, length, rng, garbage, what):
    temporal = hasattr(dut, "phase")
    aw = len(dut.x)
    i = 0
    while i < length:
        if rng.random() < 0.15:  # hold: the product may not change whatever the inputs
            dut.en.value = 0
            for sig in (dut.x, *((dut.phase, dut.first) if temporal else ())):
                garbage(sig)
            await RisingEdge(dut.clk)
            continue
        dut.en.value = 1
        dut.x.value = as_bits(x, aw)
        if temporal:
            dut.phase.value = length - 1 - i
            dut.first.value = int(i == 0)
        await RisingEdge(dut.clk)
        i += 1
    dut.en.value = 0
    garbage(dut.x)
    await FallingEdge(dut.clk)
    got = dut.product.value.to_signed()
    if got != q * x:
        raise AssertionError(f"{what}: q={q} x={x} beat of {length} cycles: product={got}, "
                             f"expected {q * x} (difference {got - q * x})")


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
    prev = None
    for q in weights:
        if ww <= 3:
            xs = list(range(-128, 128))  # exhaustive
        else:
            xs = CORNERS + [rng.randint(-128, 127) for _ in range(24)]
        rng.shuffle(xs)
        await check_weight(dut, q, prev, xs, rng, cfg.code_length, name)
        prev = q
    dut._log.info("checked %d weights", len(weights))
