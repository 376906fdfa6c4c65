import cocotb, os
from cocotb.triggers import RisingEdge, ReadOnly
import verif.tb_top as T

@cocotb.test()
async def probe(dut):
    async def mon():
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            if int(dut.m_axi__awvalid.value) and int(dut.m_axi__awready.value):
                dut._log.info("AW addr=%x len=%d", dut.m_axi__awaddr.value.to_unsigned(), dut.m_axi__awlen.value.to_unsigned())
            if int(dut.m_axi__wvalid.value) and int(dut.m_axi__wready.value):
                dut._log.info("W data=%032x strb=%04x last=%d", dut.m_axi__wdata.value.to_unsigned(), dut.m_axi__wstrb.value.to_unsigned(), int(dut.m_axi__wlast.value))
            if int(dut.m_axi__bvalid.value) and int(dut.m_axi__bready.value):
                dut._log.info("B")
    cocotb.start_soon(mon())
    await T.run_jobs.func(dut)
