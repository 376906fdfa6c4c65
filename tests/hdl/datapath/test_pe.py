# amaranth: UnusedElaboratable=no
"""hdl.datapath.temporal_pe, temporal_pe_r2 and mac_pe in the Amaranth simulator: every weight
times every activation, the double-buffered weight registers, holds in the middle of a beat,
and the radix-1 and radix-2 PEs cycle by cycle against a Python model of their pulses."""

import random

import pytest

from hdl.datapath.mac_pe import MacPE
from hdl.datapath.temporal_pe import TemporalPE
from hdl.datapath.temporal_pe_r2 import TemporalPE2
from verif.amaranth_tb import simulate


def run_pe(dut, weights, activations, *, temporal, code_length=4, seed=0, holds=0.1):
    """Drive ``dut`` as the array does and check ``product = q * x`` after every beat.

    Each weight goes through the shadow register while the previous weight is still active
    (its last beat is checked after the load), then ``swap`` makes it active."""
    rng = random.Random(seed)
    checked = []
    wmax = 1 << (dut.weight_width - 1)
    radix = getattr(dut, "pulse_weight", 1)  # a beat must hold ceil(|q| / radix) pulses

    async def beat(ctx, q, x, length):
        i = 0
        while i < length:
            if rng.random() < holds:  # en low: the product may not change whatever the inputs
                ctx.set(dut.en, 0)
                ctx.set(dut.x, rng.randint(-128, 127))
                if temporal:
                    ctx.set(dut.first, rng.randint(0, 1))
                    ctx.set(dut.phase, rng.randint(0, code_length - 1))
                await ctx.tick()
                continue
            ctx.set(dut.en, 1)
            ctx.set(dut.x, x)
            if temporal:
                ctx.set(dut.first, i == 0)
                ctx.set(dut.phase, length - 1 - i)
            await ctx.tick()
            i += 1
        ctx.set(dut.en, 0)
        got = ctx.get(dut.product)
        assert got == q * x, f"q={q} x={x} beat={length}: got {got}"
        checked.append((q, x))

    async def bench(ctx):
        active = None
        for q in weights:
            ctx.set(dut.w_in, q)
            ctx.set(dut.w_load, 1)  # the next weight enters the shadow register ...
            await ctx.tick()
            ctx.set(dut.w_load, 0)
            ctx.set(dut.w_in, rng.randint(-wmax, wmax - 1))
            if active is not None:  # ... while the active one still computes
                await beat(ctx, active, activations[0], code_length if temporal else 1)
            ctx.set(dut.swap, 1)
            await ctx.tick()
            ctx.set(dut.swap, 0)
            active = q
            for x in activations:
                length = rng.randint(max(1, -(-abs(q) // radix)), code_length) if temporal else 1
                await beat(ctx, q, x, length)

    simulate(dut, bench)
    return checked


def test_temporal_pe_every_weight_every_activation():
    dut = TemporalPE(act_width=8, phase_width=3)
    checked = run_pe(dut, list(range(-4, 4)), list(range(-128, 128)), temporal=True)
    assert len(set(checked)) == 8 * 256


def test_temporal_pe_fixed_long_schedule():
    # Non-adaptive arrays run code_length phases, longer than every code.
    dut = TemporalPE(act_width=8, phase_width=4)
    run_pe(dut, [-4, -1, 0, 3], [-128, -7, 0, 5, 127], temporal=True, code_length=8, seed=3)


def test_temporal_pe_updates_its_accumulator_only_on_pulses():
    """Clock-gating friendly: after the beat's first cycle, acc changes only on a pulse."""
    dut = TemporalPE(act_width=8, phase_width=3)
    trace = []

    async def bench(ctx):
        ctx.set(dut.w_in, 1)
        ctx.set(dut.w_load, 1)
        await ctx.tick()
        ctx.set(dut.w_load, 0)
        ctx.set(dut.swap, 1)
        await ctx.tick()
        ctx.set(dut.swap, 0)
        ctx.set(dut.en, 1)
        ctx.set(dut.x, 9)
        for i in range(4):  # q = 1 in a beat of 4: one pulse, in the last cycle (phase 0)
            ctx.set(dut.first, i == 0)
            ctx.set(dut.phase, 3 - i)
            await ctx.tick()
            trace.append(ctx.get(dut.product))

    simulate(dut, bench)
    assert trace == [0, 0, 0, 9]


def test_radix2_pe_every_weight_every_activation():
    dut = TemporalPE2(act_width=8, phase_width=3)
    checked = run_pe(dut, list(range(-4, 4)), list(range(-128, 128)), temporal=True)
    assert len(set(checked)) == 8 * 256


def test_radix2_pe_fixed_schedule():
    dut = TemporalPE2(act_width=8, phase_width=3)
    run_pe(dut, [-4, -3, 2, 0, 3], [-128, -7, 0, 5, 127], temporal=True, code_length=2, seed=4)


def pulse_model(q, x, length, radix, acc):
    """Python model of a temporal PE over one beat: (product after each cycle, pulses, acc)."""
    pulses = -(-abs(q) // radix)
    doubles = abs(q) // radix if radix == 2 else 0
    sign = -1 if q < 0 else 1
    trace, n = [], 0
    for phase in range(length - 1, -1, -1):
        if phase < pulses:
            n += 1
            addend = sign * x * (2 if phase < doubles else 1)
            acc = (0 if phase == pulses - 1 else acc) + addend
        elif q == 0:
            acc = 0  # a zero weight clears a stale product once
        trace.append(acc)
    return trace, n, acc


@pytest.mark.parametrize("cls", [TemporalPE, TemporalPE2], ids=["radix1", "radix2"])
def test_temporal_pes_against_the_pulse_model(cls):
    """Cycle by cycle, the product follows the model in which the accumulator changes only on a
    pulse (ceil(|q| / radix) of them, the last of the beat), every weight, every beat length."""
    dut = cls(act_width=8, phase_width=3)
    radix = dut.pulse_weight
    cases = [(q, x, length) for q in range(-4, 4) for x in (-128, -7, 5, 127)
             for length in range(max(1, -(-abs(q) // radix)), 5)]
    cases += [(0, 9, 2), (3, 9, 4), (0, 1, 1), (0, 1, 3), (-1, 100, 3)]  # stale products
    traces = []

    async def bench(ctx):
        for q, x, length in cases:
            ctx.set(dut.w_in, q)
            ctx.set(dut.w_load, 1)
            await ctx.tick()
            ctx.set(dut.w_load, 0)
            ctx.set(dut.swap, 1)
            await ctx.tick()
            ctx.set(dut.swap, 0)
            ctx.set(dut.en, 1)
            ctx.set(dut.x, x)
            got = []
            for i in range(length):
                ctx.set(dut.first, i == 0)
                ctx.set(dut.phase, length - 1 - i)
                await ctx.tick()
                got.append(ctx.get(dut.product))
            ctx.set(dut.en, 0)
            traces.append(got)

    simulate(dut, bench)
    acc = 0
    for (q, x, length), got in zip(cases, traces, strict=True):
        want, pulses, acc_after = pulse_model(q, x, length, radix, acc)
        assert got == want, f"q={q} x={x} beat={length}: {got} != {want}"
        assert got[-1] == q * x
        assert pulses == (-(-abs(q) // radix))
        acc = acc_after


def test_mac_pe_3bit_every_weight_every_activation():
    dut = MacPE(act_width=8, weight_width=3)
    checked = run_pe(dut, list(range(-4, 4)), list(range(-128, 128)), temporal=False)
    assert len(set(checked)) == 8 * 256


def test_mac_pe_8bit_corners_and_random():
    dut = MacPE(act_width=8, weight_width=8)
    rng = random.Random(8)
    weights = [-128, -127, -1, 0, 1, 127] + rng.sample(range(-128, 128), 10)
    xs = [-128, -1, 0, 1, 127] + rng.sample(range(-128, 128), 11)
    run_pe(dut, weights, xs, temporal=False)


@pytest.mark.parametrize("cls, kwargs, error, message", [
    (TemporalPE, {"act_width": 1}, ValueError, "act_width must be >= 2, not 1"),
    (TemporalPE, {"phase_width": "3"}, TypeError, "phase_width must be an integer, not '3'"),
    (TemporalPE2, {"act_width": 1}, ValueError, "act_width must be >= 2, not 1"),
    (MacPE, {"weight_width": 1}, ValueError, "weight_width must be >= 2, not 1"),
])
def test_bad_parameters(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls(**kwargs)
