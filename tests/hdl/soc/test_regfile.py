# amaranth: UnusedElaboratable=no
"""hdl.soc.regfile in the Amaranth simulator: reads, writes, strobes, lock and SLVERR answers."""

from hdl.soc.regfile import RegisterFile
from hdl.soc.regmap import by_name
from verif.amaranth_tb import simulate


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
