"""AXI4 manager DMA: a read engine (memory -> word stream) and a write engine (word stream ->
memory) sharing one AXI4 port, with INCR bursts that never cross a 4 KiB boundary."""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .axi import BURST_INCR, Axi4Signature

__all__ = ["AxiDma", "write_layout"]


class ReadState(enum.Enum, shape=2):
    IDLE = 0
    PREP = 1
    ADDR = 2
    DATA = 3  # decoded as the default branch


class WriteState(enum.Enum, shape=3):
    IDLE = 0
    PREP = 1
    ADDR = 2
    DATA = 3
    RESP = 4  # decoded as the default branch

WORD_BYTES = 4


def write_layout(data_width: int = 32) -> data.StructLayout:
    return data.StructLayout({"data": data_width, "strb": data_width // 8})


class AxiDma(wiring.Component):
    """Two independent engines on one AXI4 manager port (32-bit data, one ID, INCR bursts).

    Read engine: a pulse on ``rd_start`` latches ``rd_addr`` (word-aligned byte address) and
    ``rd_words``; the engine then reads ``rd_words`` words in bursts of up to ``max_burst`` beats,
    cut at 4 KiB boundaries, one burst outstanding at a time, and delivers them in order on
    ``rd_data`` (R beats pass straight through: ``rready`` is ``rd_data.ready``). ``rd_busy`` is
    high until the last beat of the last burst has been taken.

    Write engine: a pulse on ``wr_start`` latches ``wr_addr`` and ``wr_words``; the engine writes
    the words offered on ``wr_data`` (data and byte strobes) in bursts as above, waiting for each
    burst's write response before the next address. ``wr_busy`` is high until the last response.

    Errors: a SLVERR or DECERR response sets ``rd_error`` / ``wr_error`` (held until the next
    start). The engine still completes the burst in flight as the protocol requires (read data
    after an error is dropped, not delivered) and then stops, so it never hangs the bus.

    ``stall`` is high in every cycle an engine is busy but no R or W beat moves (latency, idle
    cycles and back-pressure of the memory or of our own consumers).

    Latency: one cycle from start (or from the previous burst's end) to ``arvalid``/``awvalid``.
    Throughput: one word per cycle within a burst; a burst costs two extra cycles on reads
    (address preparation and handshake) and the write response latency on writes.
    """

    def __init__(self, *, addr_width: int = 32, max_burst: int = 256, count_width: int = 24):
        if not isinstance(max_burst, int) or isinstance(max_burst, bool):
            raise TypeError(f"max_burst must be an integer, not {max_burst!r}")
        if not 1 <= max_burst <= 256:
            raise ValueError(f"max_burst must be in 1..256 (AXI4 INCR), not {max_burst}")
        self.addr_width = addr_width
        self.max_burst = max_burst
        self.count_width = count_width
        super().__init__({
            "bus": Out(Axi4Signature(addr_width=addr_width, data_width=32)),
            "rd_start": In(1), "rd_addr": In(addr_width), "rd_words": In(count_width),
            "rd_busy": Out(1), "rd_error": Out(1),
            "rd_data": Out(stream.Signature(32)),
            "wr_start": In(1), "wr_addr": In(addr_width), "wr_words": In(count_width),
            "wr_busy": Out(1), "wr_error": Out(1),
            "wr_data": In(stream.Signature(write_layout())),
            "stall": Out(1),
        })

    def _burst_length(self, m, addr, remain):
        """Words of the next burst: min(remain, max_burst, words up to the next 4 KiB line)."""
        to_line = Signal(range(1025))
        m.d.comb += to_line.eq(1024 - addr[2:12])
        cap = Signal(range(1025))
        m.d.comb += cap.eq(Mux(to_line < self.max_burst, to_line, self.max_burst))
        return Mux(remain < cap, remain, cap)

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        size = (WORD_BYTES - 1).bit_length()
        m.d.comb += [
            bus.arsize.eq(size), bus.arburst.eq(BURST_INCR), bus.arid.eq(0),
            bus.awsize.eq(size), bus.awburst.eq(BURST_INCR), bus.awid.eq(0),
        ]

        # Read engine ------------------------------------------------------------------------
        r_addr = Signal(self.addr_width)
        r_remain = Signal(self.count_width)
        r_len = Signal(range(257))
        r_err = Signal()
        m.d.comb += [
            self.rd_error.eq(r_err),
            bus.araddr.eq(r_addr),
            bus.arlen.eq(r_len - 1),
            self.rd_data.payload.eq(bus.rdata),
        ]
        r_beat = bus.rvalid & bus.rready
        r_state = Signal(ReadState)
        with m.Switch(r_state):
            with m.Case(r_state.enum.IDLE):
                with m.If(self.rd_start):
                    m.d.sync += [r_addr.eq(self.rd_addr), r_remain.eq(self.rd_words), r_err.eq(0)]
                    with m.If(self.rd_words != 0):
                        m.d.sync += r_state.eq(r_state.enum.PREP)
            with m.Case(r_state.enum.PREP):
                m.d.comb += self.rd_busy.eq(1)
                m.d.sync += r_len.eq(self._burst_length(m, r_addr, r_remain))
                m.d.sync += r_state.eq(r_state.enum.ADDR)
            with m.Case(r_state.enum.ADDR):
                m.d.comb += [self.rd_busy.eq(1), bus.arvalid.eq(1)]
                with m.If(bus.arready):
                    m.d.sync += r_state.eq(r_state.enum.DATA)
            with m.Default():  # DATA
                m.d.comb += [
                    self.rd_busy.eq(1),
                    bus.rready.eq(r_err | self.rd_data.ready),
                    self.rd_data.valid.eq(bus.rvalid & ~r_err),
                ]
                with m.If(r_beat):
                    m.d.sync += [r_addr.eq(r_addr + WORD_BYTES), r_remain.eq(r_remain - 1)]
                    bad = bus.rresp[1]  # SLVERR or DECERR
                    with m.If(bad):
                        m.d.sync += r_err.eq(1)
                    with m.If(bus.rlast):
                        with m.If((r_remain == 1) | r_err | bad):
                            m.d.sync += r_state.eq(r_state.enum.IDLE)
                        with m.Else():
                            m.d.sync += r_state.eq(r_state.enum.PREP)

        # Write engine -----------------------------------------------------------------------
        w_addr = Signal(self.addr_width)
        w_remain = Signal(self.count_width)
        w_len = Signal(range(257))
        w_beat_n = Signal(range(257))
        w_err = Signal()
        m.d.comb += [
            self.wr_error.eq(w_err),
            bus.awaddr.eq(w_addr),
            bus.awlen.eq(w_len - 1),
            bus.wdata.eq(self.wr_data.payload.data),
            bus.wstrb.eq(self.wr_data.payload.strb),
            bus.wlast.eq(w_beat_n == w_len - 1),
        ]
        w_beat = bus.wvalid & bus.wready
        w_state = Signal(WriteState)
        with m.Switch(w_state):
            with m.Case(w_state.enum.IDLE):
                with m.If(self.wr_start):
                    m.d.sync += [w_addr.eq(self.wr_addr), w_remain.eq(self.wr_words), w_err.eq(0)]
                    with m.If(self.wr_words != 0):
                        m.d.sync += w_state.eq(w_state.enum.PREP)
            with m.Case(w_state.enum.PREP):
                m.d.comb += self.wr_busy.eq(1)
                m.d.sync += [w_len.eq(self._burst_length(m, w_addr, w_remain)), w_beat_n.eq(0)]
                m.d.sync += w_state.eq(w_state.enum.ADDR)
            with m.Case(w_state.enum.ADDR):
                m.d.comb += [self.wr_busy.eq(1), bus.awvalid.eq(1)]
                with m.If(bus.awready):
                    m.d.sync += w_state.eq(w_state.enum.DATA)
            with m.Case(w_state.enum.DATA):
                m.d.comb += [
                    self.wr_busy.eq(1),
                    bus.wvalid.eq(self.wr_data.valid),
                    self.wr_data.ready.eq(bus.wready),
                ]
                with m.If(w_beat):
                    m.d.sync += w_beat_n.eq(w_beat_n + 1)
                    with m.If(bus.wlast):
                        m.d.sync += w_state.eq(w_state.enum.RESP)
            with m.Default():  # RESP
                m.d.comb += [self.wr_busy.eq(1), bus.bready.eq(1)]
                with m.If(bus.bvalid):
                    m.d.sync += [
                        w_addr.eq(w_addr + (w_len << 2)),
                        w_remain.eq(w_remain - w_len),
                    ]
                    with m.If(bus.bresp[1]):
                        m.d.sync += w_err.eq(1)
                    with m.If((w_remain == w_len) | bus.bresp[1]):
                        m.d.sync += w_state.eq(w_state.enum.IDLE)
                    with m.Else():
                        m.d.sync += w_state.eq(w_state.enum.PREP)

        m.d.comb += self.stall.eq((self.rd_busy & ~r_beat) | (self.wr_busy & ~w_beat))
        return m
