"""Output packer (v2): result elements -> bus words with byte strobes, for the DMA write engine."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["OutputPacker", "element_layout", "packed_layout"]

BUS_BYTES = (4, 8, 16)


def element_layout() -> data.StructLayout:
    return data.StructLayout({"data": 32, "last": 1})


def packed_layout(bus_bytes: int) -> data.StructLayout:
    """The DMA's write-data layout (hdl.soc.axi_dma.write_layout(8 * bus_bytes))."""
    return data.StructLayout({"data": 8 * bus_bytes, "strb": bus_bytes})


class OutputPacker(wiring.Component):
    """Packs result elements into ``bus_bytes``-wide memory words with byte strobes.

    ``elem4 = 0`` (INT8): element ``i`` of a segment is the low byte of ``i.payload.data`` and
    goes to byte lane ``(offset + i) % bus_bytes``. ``elem4 = 1`` (INT32 bypass): element ``i``
    is the whole 32-bit word, in lanes ``(offset + 4 i) % bus_bytes`` and the three above it
    (``offset`` must then be a multiple of 4; its low two bits are ignored). A word is emitted
    when its top lane has been written or at the segment's ``last`` element, with ``strb`` set
    on exactly the lanes written; the next segment starts a new word. Lanes outside ``strb`` are
    don't-care. ``elem4`` and ``offset`` must be stable during a segment (they are read at every
    element; ``offset`` only at a segment's first).

    Ports: ``elem4`` In(1), ``offset`` In(log2 bus_bytes), ``i`` In(stream {data: 32, last: 1}),
    ``o`` Out(stream {data: 8*bus_bytes, strb: bus_bytes}).

    Latency: 1 cycle (a word's last element in cycle t, the word valid in t+1).
    Throughput: one element per cycle, no bubble between words when ``o`` is ready.
    """

    def __init__(self, *, bus_bytes: int):
        if not isinstance(bus_bytes, int) or isinstance(bus_bytes, bool):
            raise TypeError(f"bus_bytes must be an integer, not {bus_bytes!r}")
        if bus_bytes not in BUS_BYTES:
            raise ValueError(f"bus_bytes must be 4, 8 or 16, not {bus_bytes}")
        self.bus_bytes = bus_bytes
        super().__init__({
            "elem4": In(1),
            "offset": In(range(bus_bytes)),
            "i": In(stream.Signature(element_layout())),
            "o": Out(stream.Signature(packed_layout(bus_bytes))),
        })

    def elaborate(self, platform):
        m = Module()
        nb = self.bus_bytes
        lanes = [Signal(8, name=f"lane{j}") for j in range(nb)]
        strb = Signal(nb)
        lane = Signal(range(nb))  # next lane inside a segment
        started = Signal()  # inside a segment: lanes count on from ``lane``, not from ``offset``
        elem4 = self.elem4
        start = Mux(started, lane, self.offset)
        cur = Signal(range(nb))
        m.d.comb += cur.eq(Mux(elem4, start & ~3, start))
        m.d.comb += [self.o.payload.data.eq(Cat(*lanes)), self.o.payload.strb.eq(strb)]

        take = self.o.valid & self.o.ready
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        accept = self.i.valid & self.i.ready

        # Lanes this element writes, and its bytes lined up with them.
        hit = Signal(nb)
        for j in range(nb):
            m.d.comb += hit[j].eq(Mux(elem4, (cur >> 2) == (j >> 2), cur == j))
        step = Mux(elem4, 4, 1)
        nxt = Signal(range(nb + 4))
        m.d.comb += nxt.eq(cur + step)

        with m.If(take):
            m.d.sync += [self.o.valid.eq(0), strb.eq(0)]
        with m.If(accept):
            for j in range(nb):
                with m.If(hit[j]):
                    byte = Mux(elem4, self.i.payload.data.word_select(j % 4, 8),
                               self.i.payload.data[:8])
                    m.d.sync += lanes[j].eq(byte)
            # A word just taken frees its strobes in the same cycle.
            m.d.sync += strb.eq(Mux(take, 0, strb) | hit)
            m.d.sync += [lane.eq(nxt), started.eq(~self.i.payload.last)]
            with m.If((nxt == nb) | self.i.payload.last):
                m.d.sync += self.o.valid.eq(1)
        return m
