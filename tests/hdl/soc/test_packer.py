# amaranth: UnusedElaboratable=no
"""hdl.soc.packer.OutputPacker in the Amaranth simulator, against a Python model."""

import random

import pytest

from hdl.soc.packer import OutputPacker
from verif.amaranth_tb import get, put, simulate


def model(segments, nb):
    """Words (lane -> byte, strobes) for segments of (elem4, offset, values)."""
    words = []
    for elem4, offset, values in segments:
        e = 4 if elem4 else 1
        lane, word = offset, {}
        for i, v in enumerate(values):
            for k in range(e):
                word[lane + k] = (v >> 8 * k) & 0xFF
            lane += e
            if lane == nb or i == len(values) - 1:
                words.append(word)
                lane, word = 0, {}
    return [(sum(b << 8 * j for j, b in w.items()), sum(1 << j for j in w)) for w in words]


def watchdog(cycles):
    """A background testbench that fails the test when the design hangs."""
    async def bench(ctx):
        for _ in range(cycles):
            await ctx.tick()
        raise AssertionError(f"no result after {cycles} cycles")
    return bench


def masked(word, strb, nb):
    return word & sum(0xFF << 8 * j for j in range(nb) if strb >> j & 1)


def segments_for(nb, rng):
    """Every element size and legal offset, segment lengths from 1 element to 3 words and more."""
    segs = []
    for elem4 in (0, 1):
        per_word = nb // 4 if elem4 else nb
        for offset in range(0, nb, 4 if elem4 else 1):
            for length in (1, 2, per_word - 1, per_word, per_word + 1, 3 * per_word + 2,
                           rng.randint(1, 4 * per_word)):
                if length >= 1:
                    segs.append((elem4, offset, [rng.randrange(2**32) for _ in range(length)]))
    rng.shuffle(segs)
    return segs


@pytest.mark.parametrize("nb", [4, 8, 16])
def test_segments_every_offset_both_sizes_with_pauses(nb):
    rng = random.Random(nb)
    segs = segments_for(nb, rng)
    want = model(segs, nb)
    dut = OutputPacker(bus_bytes=nb)
    got = []

    async def source(ctx):
        for elem4, offset, values in segs:
            ctx.set(dut.elem4, elem4)
            ctx.set(dut.offset, offset)
            for i, v in enumerate(values):
                await put(ctx, dut.i, {"data": v, "last": int(i == len(values) - 1)},
                          rng=rng, pause=0.3)

    async def sink(ctx):
        for _ in want:
            p = await get(ctx, dut.o, rng=rng, pause=0.3)
            got.append((int(p.data), int(p.strb)))

    simulate(dut, sink, background=[source, watchdog(20 * len(want) + 100)], name=f"packer{nb}")
    assert [s for _, s in got] == [s for _, s in want]
    assert [masked(w, s, nb) for w, s in got] == [masked(w, s, nb) for w, s in want]


@pytest.mark.parametrize("nb, elem4", [(4, 0), (16, 0), (16, 1)])
def test_one_element_per_cycle_and_one_cycle_latency(nb, elem4):
    dut = OutputPacker(bus_bytes=nb)
    values = list(range(1, 2 * nb + 2))
    last_at = {len(values) - 1}
    log = []

    async def bench(ctx):
        ctx.set(dut.elem4, elem4)
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        for i, v in enumerate(values):
            ctx.set(dut.i.payload, {"data": v, "last": int(i in last_at)})
            _, _, ready, valid, strb = await ctx.tick().sample(dut.i.ready, dut.o.valid,
                                                               dut.o.payload.strb)
            assert ready, "the packer stalled with o ready"
            log.append((valid, int(strb)))
        ctx.set(dut.i.valid, 0)
        _, _, valid, strb = await ctx.tick().sample(dut.o.valid, dut.o.payload.strb)
        log.append((valid, int(strb)))

    simulate(dut, bench)
    per_word = nb // 4 if elem4 else nb
    # The word completed by element t is valid in cycle t + 1.
    done = {t + 1 for t in range(len(values)) if (t + 1) % per_word == 0 or t in last_at}
    assert [c for c, (v, _) in enumerate(log) if v] == sorted(done)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"bus_bytes": 2}, ValueError, "bus_bytes must be 4, 8 or 16, not 2"),
    ({"bus_bytes": 32}, ValueError, "bus_bytes must be 4, 8 or 16, not 32"),
    ({"bus_bytes": 4.0}, TypeError, "bus_bytes must be an integer, not 4.0"),
    ({"bus_bytes": True}, TypeError, "bus_bytes must be an integer, not True"),
])
def test_bad_parameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        OutputPacker(**kwargs)


def test_positional_arguments_are_refused():
    with pytest.raises(TypeError):
        OutputPacker(4)
