"""Width converters between the 32-bit DMA word streams and the on-chip buffers.

- :class:`WordUnpacker`: memory words of fixed-length rows -> the row's bytes, padding dropped.
- :class:`LineAssembler`: bytes -> buffer lines of ``lanes`` bytes, a row's last line zero-filled.
- :class:`OutputPacker`: result elements -> memory words with byte strobes (INT8 or INT32).

The buffers themselves (``amaranth.lib.memory.Memory``) are instantiated by the controller
(hdl/soc/control.py), which owns their address counters; see docs/accelerator.md for their sizes.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["WordUnpacker", "LineAssembler", "OutputPacker", "byte_layout", "packed_layout"]


def byte_layout() -> data.StructLayout:
    return data.StructLayout({"byte": 8, "last": 1})


def packed_layout() -> data.StructLayout:
    return data.StructLayout({"data": 32, "strb": 4})


def _check(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, not {value}")


class WordUnpacker(wiring.Component):
    """Splits rows of ``row_words`` little-endian 32-bit words into their first ``row_bytes``
    bytes (byte 0 = bits 7:0 of the first word); the padding bytes of a row's last word are
    dropped. ``last`` marks a row's final byte. ``row_bytes``/``row_words`` must be stable while
    a transfer runs and satisfy ``4 * (row_words - 1) < row_bytes <= 4 * row_words``.

    Latency: 1 cycle. Throughput: one byte per cycle (a padding byte costs a cycle too).
    """

    def __init__(self, *, count_width: int = 16):
        _check("count_width", count_width, 2, 32)
        self.count_width = count_width
        super().__init__({
            "row_bytes": In(count_width),
            "row_words": In(count_width),
            "i": In(stream.Signature(32)),
            "o": Out(stream.Signature(byte_layout())),
        })

    def elaborate(self, platform):
        m = Module()
        word = Signal(32)
        have = Signal()
        pos = Signal(self.count_width + 2)  # byte position inside the row
        lane = pos[:2]
        pad = pos >= self.row_bytes
        m.d.comb += [
            self.o.payload.byte.eq(word.word_select(lane, 8)),
            self.o.payload.last.eq(pos == self.row_bytes - 1),
            self.o.valid.eq(have & ~pad),
        ]
        advance = have & (pad | self.o.ready)
        with m.If(advance):
            m.d.sync += pos.eq(Mux(pos == (self.row_words << 2) - 1, 0, pos + 1))
            with m.If(lane == 3):
                m.d.sync += have.eq(0)
        m.d.comb += self.i.ready.eq(~have | (advance & (lane == 3)))
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [word.eq(self.i.payload), have.eq(1)]
        return m


class LineAssembler(wiring.Component):
    """Collects bytes into lines of ``lanes`` bytes (byte ``j`` of a line in bits 8j+7..8j).

    A line is emitted when it is full or when a byte carries ``last`` (the end of a row; the
    line then carries ``last`` too); the lanes a short line did not receive are zero, so a row's padding activations and weights are
    exact zeros in the buffer.

    Latency: 1 cycle from the line's last byte. Throughput: one byte per cycle, no bubble
    between lines when ``o`` is ready.
    """

    def __init__(self, *, lanes: int):
        _check("lanes", lanes, 1, 1024)
        self.lanes = lanes
        super().__init__({
            "i": In(stream.Signature(byte_layout())),
            "o": Out(stream.Signature(data.StructLayout({"data": 8 * lanes, "last": 1}))),
        })

    def elaborate(self, platform):
        m = Module()
        lanes = self.lanes
        line = [Signal(8, name=f"line{j}") for j in range(lanes)]
        idx = Signal(range(lanes))
        last = Signal()  # the line ends a row
        m.d.comb += [self.o.payload.data.eq(Cat(*line)), self.o.payload.last.eq(last)]
        take = self.o.valid & self.o.ready
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        accept = self.i.valid & self.i.ready
        with m.If(take):
            m.d.sync += self.o.valid.eq(0)
        for j in range(lanes):
            with m.If(accept & (idx == j)):
                m.d.sync += line[j].eq(self.i.payload.byte)
            with m.Elif(take):
                m.d.sync += line[j].eq(0)
        with m.If(accept):
            with m.If((idx == lanes - 1) | self.i.payload.last):
                m.d.sync += [self.o.valid.eq(1), idx.eq(0), last.eq(self.i.payload.last)]
            with m.Else():
                m.d.sync += idx.eq(idx + 1)
        return m


class OutputPacker(wiring.Component):
    """Packs result elements into 32-bit memory words with byte strobes.

    ``int8 = 1``: element ``i`` of a segment (the low byte of ``data``) goes to byte lane
    ``(offset + i) % 4``; a word is emitted when lane 3 is filled or at the segment's ``last``
    element, with ``strb`` set only on the lanes written. ``int8 = 0``: every element is a whole
    word (``strb = 0b1111``). ``int8`` and ``offset`` must be stable during a segment.

    Latency: 1 cycle. Throughput: one element per cycle, no bubble when ``o`` is ready.
    """

    def __init__(self):
        super().__init__({
            "int8": In(1),
            "offset": In(2),
            "i": In(stream.Signature(data.StructLayout({"data": 32, "last": 1}))),
            "o": Out(stream.Signature(packed_layout())),
        })

    def elaborate(self, platform):
        m = Module()
        lanes = [Signal(8, name=f"lane{j}") for j in range(4)]
        strb = Signal(4)
        lane = Signal(2)
        started = Signal()  # inside a segment (lane counts from offset at a segment's start)
        cur = Mux(started, lane, self.offset)
        m.d.comb += [
            self.o.payload.data.eq(Cat(*lanes)),
            self.o.payload.strb.eq(strb),
        ]
        take = self.o.valid & self.o.ready
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        accept = self.i.valid & self.i.ready
        with m.If(take):
            m.d.sync += [self.o.valid.eq(0), strb.eq(0)]
        with m.If(accept):
            with m.If(self.int8):
                for j in range(4):
                    with m.If(cur == j):
                        m.d.sync += lanes[j].eq(self.i.payload.data[:8])
                with m.If(take):
                    m.d.sync += strb.eq(1 << cur)
                with m.Else():
                    m.d.sync += strb.eq(strb | (1 << cur))
                m.d.sync += [lane.eq(cur + 1), started.eq(~self.i.payload.last)]
                with m.If((cur == 3) | self.i.payload.last):
                    m.d.sync += self.o.valid.eq(1)
            with m.Else():
                m.d.sync += [
                    Cat(*lanes).eq(self.i.payload.data),
                    strb.eq(0b1111),
                    self.o.valid.eq(1),
                ]
        return m
