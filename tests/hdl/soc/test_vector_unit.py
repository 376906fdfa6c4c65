# amaranth: UnusedElaboratable=no
"""hdl.soc.vector_unit in the Amaranth simulator against quant.core.golden.requantize, corners exhaustively.

For every shift 1..47 and several multipliers, sums are chosen so that the scaled value lands on
and next to the rounding ties (x.5) around 0 and around both saturation bounds, plus the INT32
extremes; the bypass returns the raw sum. The oracle is the golden model, never this file.
"""

import random

import numpy as np
import pytest

from hdl.soc import vector_unit as vu
from hdl.soc.vector_unit import VectorUnit
from quant.core import golden
from verif.amaranth_tb import get, put, simulate

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def test_constants_match_the_golden_model():
    assert vu.MULT_BITS == golden.MULT_BITS
    assert (vu.SHIFT_MIN, vu.SHIFT_MAX) == (golden.SHIFT_MIN, golden.SHIFT_MAX)
    assert (1 << vu.SHIFT_BITS) > vu.SHIFT_MAX


def corner_cases(rng: random.Random):
    """(acc, bias, mult, shift) tuples with acc + bias inside INT32."""
    cases = []
    # The smallest and largest normal multipliers, an odd one (exact ties), and a folded one
    # (mult < 2**14, what fixed_point_multiplier makes when the shift would exceed 47).
    mults = [2**14, 2**15 - 1, 2**14 + 1, 3]
    targets = [-129, -128.5, -128, -127.5, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 126.5, 127, 127.5, 128]
    for shift in range(vu.SHIFT_MIN, vu.SHIFT_MAX + 1):
        for mult in mults:
            ts = {0, 1, -1, INT32_MIN, INT32_MAX}
            for v in targets:
                # t with t * mult / 2**shift close to v, and its neighbours (ties land exactly
                # when mult divides v * 2**shift).
                t0 = int(round(v * 2**shift / mult))
                ts.update({t0 - 1, t0, t0 + 1})
            for t in sorted(ts):
                if not INT32_MIN <= t <= INT32_MAX:
                    continue
                bias = rng.randint(max(INT32_MIN, t - INT32_MAX), min(INT32_MAX, t - INT32_MIN))
                cases.append((t - bias, bias, mult, shift))
    # Exact ties at every shift: t * mult = odd * 2**(shift-1).
    for shift in range(vu.SHIFT_MIN, 32):
        for odd in (1, -1, 3, -3, 255, -255, 257, -257):
            t = odd * 2 ** (shift - 1)
            if INT32_MIN <= t <= INT32_MAX:
                cases.append((t, 0, 1, shift))
                cases.append((t - 7, 7, 1, shift))
    return cases


def expected(cases, bypass):
    acc = np.array([c[0] for c in cases], dtype=np.int64)
    if bypass:
        return acc.tolist()
    rq = golden.Requant(bias=np.array([c[1] for c in cases], dtype=np.int32),
                        mult=np.array([c[2] for c in cases], dtype=np.int32),
                        shift=np.array([c[3] for c in cases], dtype=np.int32))
    # requantize is per output channel: give every case its own channel.
    return golden.requantize(acc[None, :], rq)[0].astype(np.int64).tolist()


def run(cases, bypass_flags, *, pause=0.0, seed=0):
    dut = VectorUnit()
    rng = random.Random(seed)
    got = []

    async def source(ctx):
        for (acc, bias, mult, shift), bp in zip(cases, bypass_flags, strict=True):
            await put(ctx, dut.i, {"acc": acc, "bias": bias, "mult": mult, "shift": shift,
                                   "bypass": bp, "last": int(acc & 1)}, rng=rng, pause=pause)

    async def sink(ctx):
        for acc, *_ in cases:
            out = await get(ctx, dut.o, rng=rng, pause=pause)
            got.append(int(out.data))
            assert out.last == (acc & 1), "last flag not carried through"

    simulate(dut, sink, background=[source], name="vector_unit")
    return got


def check(cases, bypass_flags, got):
    for i, (case, bp, g) in enumerate(zip(cases, bypass_flags, got, strict=True)):
        want = expected([case], bp)[0]
        if g != want:
            acc, bias, mult, shift = case
            raise AssertionError(
                f"element {i}: acc={acc} bias={bias} mult={mult} shift={shift} bypass={bp}: "
                f"got {g}, golden {want} (t*mult = {(acc + bias) * mult}, "
                f"exact {(acc + bias) * mult / 2**shift})")


def run_streaming(cases):
    """No pauses: one element in per cycle, outputs sampled every cycle (the fast path)."""
    dut = VectorUnit()
    got = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        pending = list(cases)
        for _ in range(len(cases) + 10):
            if pending:
                acc, bias, mult, shift = pending.pop(0)
                ctx.set(dut.i.payload, {"acc": acc, "bias": bias, "mult": mult, "shift": shift,
                                        "bypass": 0, "last": 0})
                ctx.set(dut.i.valid, 1)
            else:
                ctx.set(dut.i.valid, 0)
            _, _, valid, data = await ctx.tick().sample(dut.o.valid, dut.o.payload.data)
            if valid:
                got.append(int(data))
        assert len(got) == len(cases), f"{len(got)} outputs for {len(cases)} inputs"

    simulate(dut, bench, name="vector_unit_fast")
    return got


def test_rounding_and_saturation_corners():
    cases = corner_cases(random.Random(1))
    assert len(cases) > 3000
    flags = [0] * len(cases)
    check(cases, flags, run_streaming(cases))


def test_bypass_returns_the_raw_sum_and_pauses_keep_order():
    rng = random.Random(2)
    cases = [(rng.choice([INT32_MIN, INT32_MAX, 0, -1, rng.randint(INT32_MIN, INT32_MAX)]),
              rng.randint(-1000, 1000), rng.randint(2**14, 2**15 - 1), rng.randint(1, 47))
             for _ in range(300)]
    cases = [(a, b if INT32_MIN <= a + b <= INT32_MAX else 0, m, s) for a, b, m, s in cases]
    flags = [rng.randint(0, 1) for _ in cases]
    check(cases, flags, run(cases, flags, pause=0.4, seed=3))


def test_real_layer_parameters():
    """Parameters made by the golden model from real-looking scales, on random sums."""
    rng = np.random.default_rng(4)
    n = 64
    rq = golden.make_requant(0.02, rng.uniform(0.001, 0.05, size=n), 0.05,
                             rng.normal(0, 0.5, size=n))
    acc = rng.integers(-60000, 60000, size=n)
    cases = [(int(a), int(b), int(mu), int(s)) for a, b, mu, s in
             zip(acc, rq.bias, rq.mult, rq.shift, strict=True)]
    flags = [0] * n
    check(cases, flags, run(cases, flags))


@pytest.mark.parametrize("arg, error", [("8", TypeError), (33, ValueError), (1, ValueError)])
def test_bad_arguments(arg, error):
    with pytest.raises(error, match="acc_width must be"):
        VectorUnit(acc_width=arg)


def random_cases(rng: random.Random, n: int):
    """Random elements over the whole contract: any INT32 sum (INT32_MIN included), any
    multiplier the golden model makes (normal and folded), every shift 1..47."""
    cases = []
    for _ in range(n):
        t = rng.choice([INT32_MIN, INT32_MAX, rng.randint(INT32_MIN, INT32_MAX),
                        rng.randint(-2**16, 2**16), rng.randint(-300, 300)])
        bias = rng.randint(max(INT32_MIN, t - INT32_MAX), min(INT32_MAX, t - INT32_MIN))
        mult = rng.choice([rng.randint(2**14, 2**15 - 1), rng.randint(1, 2**14), 2**15 - 1])
        cases.append((t - bias, bias, mult, rng.randint(vu.SHIFT_MIN, vu.SHIFT_MAX)))
    return cases


def test_random_elements_under_stalls_on_both_sides():
    """Random idle input cycles and random back-pressure: every output in order, none lost."""
    rng = random.Random(5)
    cases = random_cases(rng, 400)
    # the INT32 extremes at both saturation bounds and at the largest shift
    cases += [(INT32_MIN, 0, 2**15 - 1, 1), (INT32_MAX, 0, 2**15 - 1, 1),
              (INT32_MIN, 0, 2**15 - 1, vu.SHIFT_MAX), (INT32_MAX, 0, 2**15 - 1, vu.SHIFT_MAX),
              (INT32_MIN, 0, 2**14, 39), (INT32_MAX, 0, 2**14, 39), (INT32_MIN + 5, -5, 1, 1)]
    flags = [int(rng.random() < 0.2) for _ in cases]
    check(cases, flags, run(cases, flags, pause=0.5, seed=6))


def test_per_token_mode_parameters():
    """Per-token mode (golden.make_requant_per_token: no bias, mult / 2**shift ~ s_w / sigma)
    is the same per-channel requantizer; fineq-v2 group factors act in the accumulator, not here."""
    rng = np.random.default_rng(7)
    n = 48
    rq = golden.make_requant_per_token(rng.uniform(0.001, 0.05, size=n), 3.0)
    acc = rng.integers(-2**20, 2**20, size=n)
    cases = [(int(a), int(b), int(mu), int(s)) for a, b, mu, s in
             zip(acc, rq.bias, rq.mult, rq.shift, strict=True)]
    assert all(b == 0 for _, b, _, _ in cases)
    flags = [0] * n
    check(cases, flags, run(cases, flags, pause=0.3, seed=8))


def exact(t, mult, shift):
    """round-half-up(t * mult / 2**shift), saturated: Python integers, for inputs outside the
    golden model's contract (which rejects them)."""
    p = t * mult
    y = (p + (1 << (shift - 1))) >> shift if shift else p
    return max(-128, min(127, y))


def test_outside_the_contract_shift_zero_and_int32_overflowing_sums():
    """shift 0 adds no rounding constant; acc + bias beyond INT32 is still exact (33 bits)."""
    cases = [(a, 0, m, 0) for a in (0, 1, -1, 127, 128, -128, -129, INT32_MIN, INT32_MAX)
             for m in (1, 2**15 - 1)]
    cases += [(INT32_MIN, INT32_MIN, 2**15 - 1, s) for s in (1, 40, vu.SHIFT_MAX)]
    cases += [(INT32_MAX, INT32_MAX, 2**15 - 1, s) for s in (1, 40, vu.SHIFT_MAX)]
    got = run(cases, [0] * len(cases), pause=0.3, seed=9)
    for (acc, bias, mult, shift), g in zip(cases, got, strict=True):
        assert g == exact(acc + bias, mult, shift), (acc, bias, mult, shift, g)


def test_latency_and_one_element_per_cycle():
    """An element accepted at cycle c leaves at c + LATENCY; back to back, one per cycle."""
    dut = VectorUnit()
    n = 20

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        seen = []
        for cycle in range(n + vu.LATENCY + 2):
            if cycle == n:
                ctx.set(dut.i.valid, 0)
            ctx.set(dut.i.payload, {"acc": cycle, "bias": 0, "mult": 1, "shift": 0, "bypass": 1,
                                    "last": 0})
            _, _, ready, valid, data = await ctx.tick().sample(dut.i.ready, dut.o.valid,
                                                               dut.o.payload.data)
            assert ready, "the unit stalled without back-pressure"
            if valid:
                seen.append((cycle, int(data)))
        # offered in cycle c, taken at its closing edge: valid in the output register (sampled
        # at the closing edge of the cycle it is in) LATENCY cycles later
        assert seen == [(c + vu.LATENCY, c) for c in range(n)], seen

    simulate(dut, bench, name="vector_unit_latency")


def test_rtlil_names_its_shared_words():
    """Amaranth copies an expression into every use: the carry-save tree, written with
    expressions, was 2.8 MB of RTLIL with 2,549 shifters (every simulator and synthesis run paid
    for it). With its words as signals the unit is about 90 kB."""
    from amaranth.back import rtlil

    text = rtlil.convert(VectorUnit(), name="vu", emit_src=False)
    assert len(text) < 300_000, f"{len(text)} bytes of RTLIL"
    assert text.count("cell $shl") < 100
