# amaranth: UnusedElaboratable=no
"""hdl.datapath.decoder in the Amaranth simulator, against quant.core.format's decode table."""

import random

import pytest

from hdl.datapath.decoder import Decoder
from quant.core.format import DECODE_TABLE
from verif.amaranth_tb import get, put, simulate


@pytest.mark.parametrize("lanes", [1, 4])
def test_all_bytes_with_pauses(lanes):
    dut = Decoder(lanes=lanes)
    rng = random.Random(lanes)
    order = list(range(256))
    rng.shuffle(order)
    beats = [[order[(j + 101 * lane) % 256] for lane in range(lanes)] for j in range(256)]

    async def source(ctx):
        for beat in beats:
            await put(ctx, dut.i, beat, rng=rng, pause=0.3)

    async def sink(ctx):
        for beat in beats:
            codes = [int(v) for v in await get(ctx, dut.o, rng=rng, pause=0.3)]
            want = [int(v) for b in beat for v in DECODE_TABLE[b]]
            assert codes == want, f"bytes {[hex(b) for b in beat]}: got {codes}, want {want}"

    simulate(dut, sink, background=[source], name=f"decoder{lanes}")


def test_latency_one_cycle_and_full_throughput():
    dut = Decoder(lanes=1)
    seen = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        for cycle, byte in enumerate([0x00, 0x3F, 0x40, 0xFF, 0x81]):
            ctx.set(dut.i.payload, [byte])
            _, _, ready, valid, out = await ctx.tick().sample(dut.i.ready, dut.o.valid, dut.o.payload)
            assert ready, "the decoder stalled a stream that is not back-pressured"
            seen.append((cycle, valid, [int(v) for v in out]))
        ctx.set(dut.i.valid, 0)

    simulate(dut, bench)
    # Output of the byte offered in cycle t is valid in cycle t+1.
    assert [v for _, v, _ in seen] == [0, 1, 1, 1, 1]
    assert seen[1][2] == DECODE_TABLE[0x00].tolist() and seen[4][2] == DECODE_TABLE[0xFF].tolist()


def test_holds_output_under_back_pressure():
    dut = Decoder(lanes=1)

    async def bench(ctx):
        ctx.set(dut.i.payload, [0x7B])
        ctx.set(dut.i.valid, 1)
        await ctx.tick()
        ctx.set(dut.i.payload, [0x01])
        for _ in range(3):  # o not ready: the second byte must wait, the first must stay
            _, _, ready, valid, out = await ctx.tick().sample(dut.i.ready, dut.o.valid, dut.o.payload)
            assert not ready and valid and [int(v) for v in out] == DECODE_TABLE[0x7B].tolist()

    simulate(dut, bench)


@pytest.mark.parametrize("lanes, error, message", [
    (0, ValueError, "lanes must be >= 1, not 0"),
    ("2", TypeError, "lanes must be an integer, not '2'"),
])
def test_bad_lanes(lanes, error, message):
    with pytest.raises(error, match=message):
        Decoder(lanes=lanes)
