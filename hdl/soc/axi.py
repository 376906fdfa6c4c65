"""AXI4 and AXI4-Lite interface signatures (AMBA AXI, IHI 0022), from the manager's side.

Members are flat and named as in the specification (``awaddr``, ``rvalid``, ...), so a
component port ``m_axi: Out(Axi4Signature(...))`` becomes Verilog ports ``m_axi__awaddr`` etc.,
which cocotbext-axi finds with ``AxiBus.from_prefix(dut, "m_axi_")`` (its separator is ``_``).
Only the signals this design needs are present; cache/prot/lock/qos take their AXI defaults.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Axi4Signature", "AxiLiteSignature", "RESP_OKAY", "RESP_SLVERR", "BURST_INCR"]

RESP_OKAY, RESP_EXOKAY, RESP_SLVERR, RESP_DECERR = 0, 1, 2, 3
BURST_INCR = 1


class Axi4Signature(wiring.Signature):
    """A full AXI4 manager port (read and write channels, INCR bursts)."""

    def __init__(self, *, addr_width: int = 32, data_width: int = 32, id_width: int = 1):
        for name, v in (("addr_width", addr_width), ("data_width", data_width),
                        ("id_width", id_width)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise TypeError(f"{name} must be a positive integer, not {v!r}")
        if data_width not in (32, 64, 128):
            raise ValueError(f"data_width must be 32, 64 or 128, not {data_width}")
        self.addr_width, self.data_width, self.id_width = addr_width, data_width, id_width
        super().__init__({
            "awid": Out(id_width), "awaddr": Out(addr_width), "awlen": Out(8), "awsize": Out(3),
            "awburst": Out(2), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(data_width), "wstrb": Out(data_width // 8), "wlast": Out(1),
            "wvalid": Out(1), "wready": In(1),
            "bid": In(id_width), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "arid": Out(id_width), "araddr": Out(addr_width), "arlen": Out(8), "arsize": Out(3),
            "arburst": Out(2), "arvalid": Out(1), "arready": In(1),
            "rid": In(id_width), "rdata": In(data_width), "rresp": In(2), "rlast": In(1),
            "rvalid": In(1), "rready": Out(1),
        })


class AxiLiteSignature(wiring.Signature):
    """An AXI4-Lite manager port (32-bit data)."""

    def __init__(self, *, addr_width: int = 32):
        if not isinstance(addr_width, int) or isinstance(addr_width, bool) or addr_width < 1:
            raise TypeError(f"addr_width must be a positive integer, not {addr_width!r}")
        self.addr_width = addr_width
        super().__init__({
            "awaddr": Out(addr_width), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(32), "wstrb": Out(4), "wvalid": Out(1), "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_width), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
            "rdata": In(32), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })
