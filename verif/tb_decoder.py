"""cocotb: the cluster-byte decoder (decoder.v) on all 256 bytes in every lane."""

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from quant.core.format import DECODE_TABLE
from verif.cocotb_tb import Clocked, StreamSink, StreamSource, pack, random_pause, reset, start_clock, tb_rng, unpack


def lanes_of(dut) -> int:
    width = len(dut.i__payload)
    assert width % 8 == 0 and len(dut.o__payload) == 9 * width // 8, "unexpected port widths"
    return width // 8


def expected_codes(lanes_bytes):
    return [int(v) for b in lanes_bytes for v in DECODE_TABLE[b]]


async def run_bytes(dut, beats, pause_in, pause_out, what):
    lanes = lanes_of(dut)
    src = StreamSource(dut, "i", pause_in)
    sink = StreamSink(dut, "o", pause_out)
    for beat in beats:
        src.send(pack(beat, 8))
    bench = Clocked(dut, [src, sink])
    await bench.run(lambda: len(sink.beats) == len(beats), 20 * len(beats) + 50, what)
    for n, (beat, word) in enumerate(zip(beats, sink.beats, strict=True)):
        got = unpack(word, 3, 3 * lanes)
        want = expected_codes(beat)
        if got != want:
            i = next(i for i in range(len(got)) if got[i] != want[i])
            raise AssertionError(
                f"{what}: beat {n}, lane {i // 3}: byte 0x{beat[i // 3]:02x} position {i % 3} "
                f"decoded to {got[i]}, expected {want[i]} (all lanes: got {got}, want {want})")
    return bench


@cocotb.test()
async def all_bytes_every_lane(dut):
    """Every byte value passes through every lane, with idle cycles and back-pressure."""
    start_clock(dut)
    await reset(dut)
    rng = tb_rng("decoder")
    lanes = lanes_of(dut)
    order = list(range(256))
    rng.shuffle(order)
    # Beat j carries byte order[(j + 64*l) % 256] in lane l: each lane sees all 256 values.
    beats = [[order[(j + 97 * lane) % 256] for lane in range(lanes)] for j in range(256)]
    assert all(sorted(b[lane] for b in beats) == list(range(256)) for lane in range(lanes))
    await run_bytes(dut, beats, random_pause(rng, 0.3), random_pause(rng, 0.3), "decoder")


@cocotb.test()
async def latency_and_throughput(dut):
    """Without pauses the decoder takes one beat per cycle and answers one cycle later."""
    start_clock(dut)
    await reset(dut)
    lanes = lanes_of(dut)
    beats = [[(17 * j + lane) % 256 for lane in range(lanes)] for j in range(32)]
    bench = await run_bytes(dut, beats, None, None, "decoder (no pauses)")
    src, sink = bench.agents
    assert sink.last_transfer - src.last_transfer == 1, "latency is not 1 cycle"
    assert src.last_transfer == len(beats) - 1, "throughput is not one beat per cycle"


@cocotb.test()
async def reset_drops_output(dut):
    """A reset in the middle of a stream empties the output register."""
    start_clock(dut)
    await reset(dut)
    lanes = lanes_of(dut)
    dut.i__payload.value = pack([0x5A] * lanes, 8)
    dut.i__valid.value = 1
    dut.o__ready.value = 0
    await RisingEdge(dut.clk)
    dut.i__valid.value = 0
    await FallingEdge(dut.clk)
    assert int(dut.o__valid.value) == 1
    await reset(dut)
    await FallingEdge(dut.clk)
    assert int(dut.o__valid.value) == 0, "output still valid after reset"
    # ... and it works afterwards.
    await run_bytes(dut, [[b] * lanes for b in (0, 0x7F, 0x80, 0xFF)], None, None, "after reset")
