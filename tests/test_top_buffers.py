# amaranth: UnusedElaboratable=no
"""hdl.soc.buffers and hdl.soc.regfile in the Amaranth simulator, against small Python models."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring

from hdl.soc.buffers import LineAssembler, OutputPacker, WordUnpacker
from hdl.soc.regfile import RegisterFile
from hdl.soc.regmap import by_name
from verif.amaranth_tb import get, put, simulate


class UnpackChain(wiring.Component):
    """WordUnpacker -> LineAssembler, as the controller wires them."""

    def __init__(self, lanes):
        self.unpacker = WordUnpacker(count_width=16)
        self.asm = LineAssembler(lanes=lanes)
        super().__init__({
            "i": wiring.In(self.unpacker.i.signature.flip()),
            "o": wiring.Out(self.asm.o.signature),
            "row_bytes": wiring.In(16), "row_words": wiring.In(16),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.u, m.submodules.a = self.unpacker, self.asm
        wiring.connect(m, wiring.flipped(self.i), self.unpacker.i)
        wiring.connect(m, self.unpacker.o, self.asm.i)
        wiring.connect(m, self.asm.o, wiring.flipped(self.o))
        m.d.comb += [self.unpacker.row_bytes.eq(self.row_bytes),
                     self.unpacker.row_words.eq(self.row_words)]
        return m


@pytest.mark.parametrize("lanes, row_bytes, rows", [(6, 11, 3), (4, 13, 2), (2, 4, 3), (12, 1, 2),
                                                    (3, 9, 2)])
def test_rows_of_words_become_zero_padded_lines(lanes, row_bytes, rows):
    rng = random.Random(lanes * 100 + row_bytes)
    words_per_row = -(-row_bytes // 4)
    data = [[rng.randrange(256) for _ in range(4 * words_per_row)] for _ in range(rows)]
    want = []
    for row in data:
        real = row[:row_bytes]  # padding bytes are dropped
        for j in range(0, row_bytes, lanes):
            chunk = real[j:j + lanes] + [0] * lanes
            want.append((sum(b << (8 * i) for i, b in enumerate(chunk[:lanes])),
                         int(j + lanes >= row_bytes)))
    dut = UnpackChain(lanes)
    got = []

    async def source(ctx):
        ctx.set(dut.row_bytes, row_bytes)
        ctx.set(dut.row_words, words_per_row)
        for row in data:
            for w in range(words_per_row):
                word = sum(b << (8 * i) for i, b in enumerate(row[4 * w:4 * w + 4]))
                await put(ctx, dut.i, word, rng=rng, pause=0.3)

    async def sink(ctx):
        for _ in want:
            p = await get(ctx, dut.o, rng=rng, pause=0.3)
            got.append((int(p.data), int(p.last)))

    simulate(dut, sink, background=[source], name="unpack")
    assert got == want


@pytest.mark.parametrize("int8, offset, count", [(1, 0, 5), (1, 3, 6), (1, 1, 1), (1, 2, 2),
                                                 (0, 0, 3)])
def test_output_packer_strobes(int8, offset, count):
    rng = random.Random(count * 7 + offset)
    segments = [[rng.randrange(-2**31, 2**31) for _ in range(count)] for _ in range(3)]
    want = []
    for seg in segments:
        if not int8:
            want += [(v & 0xFFFFFFFF, 0xF) for v in seg]
            continue
        lane, word, strb = offset, 0, 0
        for i, v in enumerate(seg):
            word = (word & ~(0xFF << 8 * lane)) | ((v & 0xFF) << 8 * lane)
            strb |= 1 << lane
            if lane == 3 or i == len(seg) - 1:
                want.append((word, strb))
                word, strb = 0, 0
            lane = (lane + 1) % 4
    dut = OutputPacker()
    got = []

    async def source(ctx):
        ctx.set(dut.int8, int8)
        ctx.set(dut.offset, offset)
        for seg in segments:
            for i, v in enumerate(seg):
                await put(ctx, dut.i, {"data": v & 0xFFFFFFFF, "last": int(i == len(seg) - 1)},
                          rng=rng, pause=0.3)

    async def sink(ctx):
        for _ in want:
            p = await get(ctx, dut.o, rng=rng, pause=0.3)
            got.append((int(p.data), int(p.strb)))

    simulate(dut, sink, background=[source], name="packer")
    # Bytes outside the strobes are don't-care.
    masked = [(w & sum(0xFF << 8 * b for b in range(4) if s >> b & 1), s) for w, s in got]
    assert masked == [(w & sum(0xFF << 8 * b for b in range(4) if s >> b & 1), s) for w, s in want]


def test_register_file_reads_writes_strobes_lock_and_errors():
    dut = RegisterFile()
    regs = by_name()

    async def write(ctx, addr, value, strb=0xF):
        bus = dut.bus
        ctx.set(bus.awaddr, addr)
        ctx.set(bus.wdata, value)
        ctx.set(bus.wstrb, strb)
        ctx.set(bus.awvalid, 1)
        ctx.set(bus.wvalid, 1)
        await ctx.tick().until(bus.awready)
        ctx.set(bus.awvalid, 0)
        ctx.set(bus.wvalid, 0)
        ctx.set(bus.bready, 1)
        resp, = await ctx.tick().sample(bus.bresp).until(bus.bvalid)
        ctx.set(bus.bready, 0)
        return resp

    async def read(ctx, addr):
        bus = dut.bus
        ctx.set(bus.araddr, addr)
        ctx.set(bus.arvalid, 1)
        await ctx.tick().until(bus.arready)
        ctx.set(bus.arvalid, 0)
        ctx.set(bus.rready, 1)
        data, resp = await ctx.tick().sample(bus.rdata, bus.rresp).until(bus.rvalid)
        ctx.set(bus.rready, 0)
        return int(data), int(resp)

    async def bench(ctx):
        ctx.set(dut.id, 0x12345678)
        assert await read(ctx, regs["ID"].offset) == (0x12345678, 0)
        assert await write(ctx, regs["K"].offset, 0xAABBCCDD) == 0
        assert ctx.get(dut.k) == 0xAABBCCDD
        assert await write(ctx, regs["K"].offset, 0x00001100, strb=0b0010) == 0
        assert await read(ctx, regs["K"].offset) == (0xAABB11DD, 0)
        assert await write(ctx, regs["ID"].offset, 1) == 2  # read-only: SLVERR
        assert await write(ctx, 0xF0, 1) == 2  # unmapped: SLVERR
        assert await read(ctx, 0xF0) == (0, 2)
        assert await read(ctx, regs["CTRL"].offset) == (0, 0)  # write-only reads 0
        ctx.set(dut.lock, 1)
        assert await write(ctx, regs["K"].offset, 7) == 2  # locked while busy
        assert ctx.get(dut.k) == 0xAABB11DD
        ctx.set(dut.lock, 0)
        assert await write(ctx, regs["MODE"].offset, 0xFFFFFFFF) == 0
        assert ctx.get(dut.mode) == 1  # only the implemented bit

    simulate(dut, bench, name="regfile")
