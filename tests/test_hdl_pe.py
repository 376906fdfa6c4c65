# amaranth: UnusedElaboratable=no
"""hdl.datapath.temporal_pe and hdl.datapath.mac_pe in the Amaranth simulator: every weight times every activation."""

import random

import pytest

from hdl.datapath.mac_pe import MacPE
from hdl.datapath.temporal_pe import TemporalPE
from verif.amaranth_tb import simulate


def run_pe(dut, weights, activations, *, temporal, code_length=4, seed=0, holds=0.1):
    """Drive ``dut`` like the array does and check ``psum_out = psum_in + q * x`` per beat."""
    rng = random.Random(seed)
    pw = dut.psum_width
    margin = 128 * (1 << (dut.weight_width - 1))
    lo, hi = -(1 << (pw - 1)) + margin, (1 << (pw - 1)) - 1 - margin
    checked = []

    async def bench(ctx):
        for q in weights:
            ctx.set(dut.w_in, q)
            ctx.set(dut.w_load, 1)
            ctx.set(dut.x_in, activations[0])
            ctx.set(dut.x_shift, 1)
            await ctx.tick()
            ctx.set(dut.w_load, 0)
            ctx.set(dut.x_shift, 0)
            ctx.set(dut.w_in, rng.randint(-4, 3) if dut.weight_width == 3 else 0)
            assert ctx.get(dut.w_out) == q
            for j, x in enumerate(activations):
                beat = rng.randint(max(1, abs(q)), code_length) if temporal else 1
                p0 = rng.choice([lo, hi, rng.randint(lo, hi)])
                i = 0
                while i < beat:
                    if rng.random() < holds:  # en low: nothing may change whatever the inputs
                        ctx.set(dut.en, 0)
                        ctx.set(dut.x_shift, 0)
                        ctx.set(dut.psum_in, rng.randint(lo, hi))
                        if temporal:
                            ctx.set(dut.first, rng.randint(0, 1))
                            ctx.set(dut.phase, rng.randint(0, 3))
                        await ctx.tick()
                        continue
                    ctx.set(dut.en, 1)
                    ctx.set(dut.psum_in, p0 if i == 0 else rng.randint(lo, hi))
                    if temporal:
                        ctx.set(dut.first, i == 0)
                        ctx.set(dut.phase, beat - 1 - i)
                    last = i == beat - 1
                    ctx.set(dut.x_shift, last)
                    ctx.set(dut.x_in, activations[(j + 1) % len(activations)])
                    await ctx.tick()
                    i += 1
                ctx.set(dut.en, 0)
                ctx.set(dut.x_shift, 0)
                got = ctx.get(dut.psum_out)
                assert got == p0 + q * x, f"q={q} x={x} psum_in={p0} beat={beat}: got {got}"
                checked.append((q, x))

    simulate(dut, bench)
    return checked


def test_temporal_pe_every_weight_every_activation():
    dut = TemporalPE(act_width=8, psum_width=14, phase_width=3)
    checked = run_pe(dut, list(range(-4, 4)), list(range(-128, 128)), temporal=True)
    assert len(set(checked)) == 8 * 256


def test_temporal_pe_fixed_four_phase_schedule():
    # Non-adaptive arrays always run code_length phases, longer than every code.
    dut = TemporalPE(act_width=8, psum_width=12, phase_width=4)
    run_pe(dut, [-4, -1, 0, 3], [-128, -7, 0, 5, 127], temporal=True, code_length=8, seed=3)


def test_mac_pe_3bit_every_weight_every_activation():
    dut = MacPE(act_width=8, weight_width=3, psum_width=14)
    checked = run_pe(dut, list(range(-4, 4)), list(range(-128, 128)), temporal=False)
    assert len(set(checked)) == 8 * 256


def test_mac_pe_8bit_corners_and_random():
    dut = MacPE(act_width=8, weight_width=8, psum_width=20)
    rng = random.Random(8)
    weights = [-128, -127, -1, 0, 1, 127] + rng.sample(range(-128, 128), 10)
    xs = [-128, -1, 0, 1, 127] + rng.sample(range(-128, 128), 11)
    run_pe(dut, weights, xs, temporal=False)


@pytest.mark.parametrize("cls, kwargs, error, message", [
    (TemporalPE, {"act_width": 1}, ValueError, "act_width must be >= 2, not 1"),
    (TemporalPE, {"psum_width": 8}, ValueError, "psum_width must be >= 10, not 8"),
    (TemporalPE, {"phase_width": "3"}, TypeError, "phase_width must be an integer, not '3'"),
    (MacPE, {"weight_width": 1}, ValueError, "weight_width must be >= 2, not 1"),
    (MacPE, {"psum_width": 12}, ValueError, "psum_width must be >= 15, not 12"),
])
def test_bad_parameters(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls(**kwargs)
