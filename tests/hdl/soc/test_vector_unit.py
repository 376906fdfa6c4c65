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
