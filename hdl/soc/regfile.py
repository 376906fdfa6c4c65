"""AXI4-Lite register file, built from the register map in hdl/soc/regmap.py."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .axi import RESP_OKAY, RESP_SLVERR, AxiLiteSignature
from .regmap import ADDR_BITS, REGISTERS, Register

__all__ = ["RegisterFile", "port_name"]


def port_name(reg: Register, fld=None) -> str:
    return reg.name.lower() if fld is None else f"{reg.name.lower()}_{fld.name.lower()}"


class RegisterFile(wiring.Component):
    """An AXI4-Lite subordinate with one port per register of :data:`hdl.soc.regmap.REGISTERS`.

    - ``rw`` register ``NAME``: output ``name`` (its value, reset 0). Writes honour ``wstrb``;
      while ``lock`` is high they are ignored and answered with SLVERR.
    - ``ro`` register ``NAME``: input ``name`` (the value read).
    - ``wo`` register ``NAME`` with fields: output ``name_field``, a one-cycle pulse when a write
      sets the bit (in the cycle after the write handshake).
    - Unmapped addresses and writes to ``ro`` registers answer SLVERR (reads of them return 0).

    Only address bits ``ADDR_BITS-1 .. 2`` are decoded, so the file repeats across a larger
    window. One transaction at a time per direction.

    Latency: a read returns one cycle after its address handshake; a write is acknowledged one
    cycle after both its address and data have arrived (AW and W are taken together).
    Throughput: one read and one write every two cycles.
    """

    def __init__(self, *, registers=REGISTERS):
        self.registers = tuple(registers)
        members = {"bus": In(AxiLiteSignature(addr_width=ADDR_BITS)), "lock": In(1)}
        for reg in self.registers:
            if reg.access == "rw":
                members[port_name(reg)] = Out(reg.width)
            elif reg.access == "ro":
                members[port_name(reg)] = In(32)
            else:
                for fld in reg.fields:
                    members[port_name(reg, fld)] = Out(fld.width)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        # Writes: take AW and W together, answer on B.
        take_w = bus.awvalid & bus.wvalid & ~bus.bvalid
        m.d.comb += [bus.awready.eq(take_w), bus.wready.eq(take_w)]
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += bus.bvalid.eq(0)
        waddr = bus.awaddr[2:ADDR_BITS]
        strobe_mask = Signal(32)
        m.d.comb += strobe_mask.eq(
            bus.wstrb[0].replicate(8) | (bus.wstrb[1].replicate(8) << 8)
            | (bus.wstrb[2].replicate(8) << 16) | (bus.wstrb[3].replicate(8) << 24))
        for reg in self.registers:
            if reg.access == "wo":
                for fld in reg.fields:
                    m.d.sync += getattr(self, port_name(reg, fld)).eq(0)
        with m.If(take_w):
            m.d.sync += [bus.bvalid.eq(1), bus.bresp.eq(RESP_SLVERR)]
            with m.Switch(waddr):
                for reg in self.registers:
                    if reg.access == "ro":
                        continue
                    with m.Case(reg.offset >> 2):
                        if reg.access == "rw":
                            port = getattr(self, port_name(reg))
                            with m.If(~self.lock):
                                merged = (port & ~strobe_mask) | (bus.wdata & strobe_mask)
                                m.d.sync += [port.eq(merged[:reg.width]),
                                             bus.bresp.eq(RESP_OKAY)]
                        else:
                            m.d.sync += bus.bresp.eq(RESP_OKAY)
                            for fld in reg.fields:
                                bits = bus.wdata[fld.lsb:fld.lsb + fld.width]
                                m.d.sync += getattr(self, port_name(reg, fld)).eq(
                                    bits & strobe_mask[fld.lsb:fld.lsb + fld.width])

        # Reads: one outstanding, data one cycle after the address.
        m.d.comb += bus.arready.eq(~bus.rvalid)
        with m.If(bus.rvalid & bus.rready):
            m.d.sync += bus.rvalid.eq(0)
        raddr = bus.araddr[2:ADDR_BITS]
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += [bus.rvalid.eq(1), bus.rdata.eq(0), bus.rresp.eq(RESP_SLVERR)]
            with m.Switch(raddr):
                for reg in self.registers:
                    with m.Case(reg.offset >> 2):
                        m.d.sync += bus.rresp.eq(RESP_OKAY)
                        if reg.access != "wo":
                            m.d.sync += bus.rdata.eq(getattr(self, port_name(reg)))
        return m
