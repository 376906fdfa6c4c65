"""hdl/soc/arith.py's short-cycle arithmetic against Python integers, in the Amaranth simulator:
carry-select adds (every chunk size, both carries in), chunked accumulation with pending carries, the product in carry-save form of a signed
by an unsigned factor, ceil(v / d) from its carry-save words, and the registered ``size - 1``."""

import random

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from hdl.soc.arith import (
    add_chunked,
    add_wide,
    carry_select,
    ceil_div_const_carry_save,
    minus_one,
    pending_word,
    product_carry_save,
)


def run(m, bench, clocked=False):
    sim = Simulator(m)
    if clocked:
        sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("w, k", [(32, 16), (33, 14), (23, 8), (7, 3), (5, 5)])
def test_carry_select_adds_modulo_2_to_the_w(w, k):
    m = Module()
    a, b, cin = Signal(w), Signal(w), Signal()
    total, carry = carry_select(a, b, cin, w, k)
    s, c = Signal(w), Signal()
    m.d.comb += [s.eq(total), c.eq(carry)]
    rng = random.Random(w * 100 + k)
    cases = [(0, 0, 0), (2**w - 1, 1, 0), (2**w - 1, 0, 1), (2**w - 1, 2**w - 1, 1)]
    cases += [(rng.getrandbits(w), rng.getrandbits(w), rng.getrandbits(1)) for _ in range(300)]

    async def bench(ctx):
        for x, y, z in cases:
            ctx.set(a, x), ctx.set(b, y), ctx.set(cin, z)
            want = x + y + z
            assert (ctx.get(s), ctx.get(c)) == (want % 2**w, want >> w), (x, y, z)
    run(m, bench)


@pytest.mark.parametrize("splits, w", [((11, 22), 32), ((11, 22), 34), ((4,), 8)])
def test_add_chunked_accumulates_with_pending_carries_then_settles(splits, w):
    """An accumulator over add_chunked (the carries fed back, as the accumulator, the vector
    unit and geometry use it): after every step its word plus the pending carries is the
    running sum modulo 2**w, and len(splits) steps adding zero leave no carry pending."""
    m = Module()
    x = Signal(w)
    word, carries = Signal(w), Signal(len(splits))
    nxt_word, nxt_carries = add_chunked(m, "t", [word, pending_word(carries, splits, w), x], splits, w)
    m.d.sync += [word.eq(nxt_word), carries.eq(nxt_carries)]
    rng = random.Random(w + len(splits))
    # runs of all-ones addends make carries ripple into chunks that are themselves all ones
    adds = [2**w - 1] * 5 + [1] * 3 + [rng.getrandbits(w) for _ in range(200)] + [2**w - 1, 1]

    async def bench(ctx):
        total = 0
        for v in adds:
            ctx.set(x, v)
            await ctx.tick()
            total = (total + v) % 2**w
            pend = sum(((ctx.get(carries) >> j) & 1) << bit for j, bit in enumerate(splits))
            assert (ctx.get(word) + pend) % 2**w == total
        ctx.set(x, 0)
        await ctx.tick().repeat(len(splits))
        assert (ctx.get(word), ctx.get(carries)) == (total, 0)
    run(m, bench, clocked=True)


def test_add_wide_wraps_like_an_address():
    m = Module()
    a, b, s = Signal(32), Signal(32), Signal(32)
    m.d.comb += s.eq(add_wide(m, "t", a, b))
    rng = random.Random(3)

    async def bench(ctx):
        for x, y in [(2**32 - 1, 1), (0xFFFF, 1)] + [(rng.getrandbits(32), rng.getrandbits(32)) for _ in range(300)]:
            ctx.set(a, x), ctx.set(b, y)
            assert ctx.get(s) == (x + y) % 2**32
    run(m, bench)


@pytest.mark.parametrize("width", [13, 14, 15])
def test_product_in_carry_save_form_sums_to_the_product(width):
    m = Module()
    a, b = Signal(signed(width)), Signal(8)
    x, y = product_carry_save(m, "p", a, b, 32)
    s = Signal(32)
    m.d.comb += s.eq(x + y)
    rng = random.Random(width)
    lo, hi = -(2 ** (width - 1)), 2 ** (width - 1) - 1
    cases = [(lo, 255), (hi, 255), (lo, 0), (-1, 1), (0, 255)]
    cases += [(rng.randint(lo, hi), rng.randint(0, 255)) for _ in range(300)]

    async def bench(ctx):
        for u, v in cases:
            ctx.set(a, u), ctx.set(b, v)
            assert ctx.get(s) == (u * v) % 2**32, (u, v)
    run(m, bench)


@pytest.mark.parametrize("divisor", [1, 6, 12, 16, 24, 96])
def test_ceil_division_from_carry_save_words(divisor):
    m = Module()
    v = Signal(16)
    words, finish = ceil_div_const_carry_save(m, "q", v, divisor, 16)
    q = Signal(16)
    m.d.comb += q.eq(finish(*words))
    rng = random.Random(divisor)
    values = [0, 1, divisor - 1, divisor, divisor + 1, 2**16 - 1] + [rng.getrandbits(16) for _ in range(300)]

    async def bench(ctx):
        for x in values:
            ctx.set(v, x)
            assert ctx.get(q) == -(-x // divisor), x
    run(m, bench)


def test_minus_one_is_registered():
    m = Module()
    v = Signal(16)
    r = minus_one(m, "size", v)

    async def bench(ctx):
        ctx.set(v, 5)
        assert ctx.get(r) == 0  # its reset value: not clocked yet
        await ctx.tick()
        assert ctx.get(r) == 4
        ctx.set(v, 0)
        await ctx.tick()
        assert ctx.get(r) == 2**16 - 1
    run(m, bench, clocked=True)
