"""Row gearbox: rows of bus words (with stride padding) -> zero-filled buffer lines, full width."""

import math

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RowGearbox", "line_layout"]

BUS_BYTES = (4, 8, 16)


def line_layout(line_bytes: int) -> data.StructLayout:
    return data.StructLayout({"data": 8 * line_bytes, "last": 1})


def _check(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, not {value}")


class RowGearbox(wiring.Component):
    """Turns rows of ``row_words`` little-endian bus words into lines of ``line_bytes`` bytes.

    A row's first ``row_bytes`` bytes (byte 0 = bits 7:0 of its first word) become
    ``ceil(row_bytes / line_bytes)`` lines, byte ``j`` of a line in bits 8j+7..8j; the row's last
    line is zero-filled beyond the row and carries ``last``. The row's other bytes (the rest of
    its last data word and any stride-padding words) are dropped. ``row_bytes`` (>= 1) and
    ``row_words`` (>= ceil(row_bytes / bus_bytes)) must be stable while a transfer runs and in
    the cycle before its first word, and a transfer must be a whole number of rows (the word
    count wraps at ``row_words``).

    Ports: ``row_bytes`` In(count_width), ``row_words`` In(count_width), ``i`` In(stream of
    8*bus_bytes bits), ``o`` Out(stream {data: 8*line_bytes, last: 1}).

    How: the bytes of the row wait in an accumulator of ``max(line_bytes, bus_bytes)`` bytes;
    the arriving word's row bytes are appended in the cycle they arrive, and a line leaves as
    soon as ``line_bytes`` bytes (or the row's end) are there, taken from the accumulator and
    the arriving word together. The accumulator never mixes rows: while the end of a row is
    still in it (its final line straddles a word), the next row's first word waits, and enters
    in the cycle that final line leaves.

    Latency: a line is valid in the cycle after the word that completes it (``o`` is a
    register); further lines completed by the same word (``bus_bytes > line_bytes``, or a row's
    final line straddling the word) follow one per cycle.
    Throughput (``o`` ready, words offered every cycle): with ``bus_bytes <= line_bytes`` one
    word per cycle, always (``i.ready`` stays high); with ``bus_bytes > line_bytes`` one full
    line (``line_bytes`` bytes) per cycle. A row boundary costs no cycle in either case: the
    next row's first word is taken in the cycle the previous row's final line leaves. A padding
    word costs its input cycle (it is taken in parallel with the lines of the row's end when
    there are any).
    """

    def __init__(self, *, bus_bytes: int, line_bytes: int, count_width: int = 16):
        if not isinstance(bus_bytes, int) or isinstance(bus_bytes, bool):
            raise TypeError(f"bus_bytes must be an integer, not {bus_bytes!r}")
        if bus_bytes not in BUS_BYTES:
            raise ValueError(f"bus_bytes must be 4, 8 or 16, not {bus_bytes}")
        _check("line_bytes", line_bytes, 1, 64)
        _check("count_width", count_width, 2, 32)
        self.bus_bytes, self.line_bytes, self.count_width = bus_bytes, line_bytes, count_width
        self.capacity = max(line_bytes, bus_bytes)  # accumulator bytes: enough for full rate
        super().__init__({
            "row_bytes": In(count_width),
            "row_words": In(count_width),
            "i": In(stream.Signature(8 * bus_bytes)),
            "o": Out(stream.Signature(line_layout(line_bytes))),
        })

    def _word_bytes(self, m, first, take, row_end):
        """Row bytes in the next word of its row (``first``: the row's first word), and whether
        it holds the row's last byte: registers, set when a word is taken from the row's bytes
        left (a register too, less ``bus_bytes`` a word) or from ``row_bytes`` for a row's first
        word, instead of ``row_bytes - wi * bus_bytes`` and its compares in the cycle (that
        chain began the gearbox's longest path), and of a multiplexer on ``first`` (it began
        the FPGA top's)."""
        nb = self.bus_bytes

        def split(rem):  # (bytes in the word, whether the row ends in it)
            return Mux(rem <= 0, 0, Mux(rem >= nb, nb, rem)), (rem > 0) & (rem <= nb)
        left = Signal(signed(self.count_width + nb.bit_length() + 1))  # from the next word on
        rem = Mux(first, self.row_bytes, left)
        v, last = Signal(range(nb + 1)), Signal()
        v_first, last_first = split(self.row_bytes)
        with m.If(take):
            after = rem - nb
            v_after, last_after = split(after)
            m.d.sync += [left.eq(after), v.eq(Mux(row_end, v_first, v_after)),
                         last.eq(Mux(row_end, last_first, last_after))]
        with m.Elif(first):
            m.d.sync += [v.eq(v_first), last.eq(last_first)]
        return v, last

    def _drain(self, m, can_out, total, end):
        """Whether a line leaves (``total`` bytes with the row's end among them if ``end``),
        whether it takes them all, and the bytes that stay."""
        L = self.line_bytes
        emit = can_out & ((total >= L) | (end & (total != 0)))
        whole = total <= L
        # a named signal: the FPGA top was measured so (ABC maps the two forms differently)
        stay = Signal(range(self.capacity + self.bus_bytes + 1))
        m.d.comb += stay.eq(Mux(emit, Mux(whole, 0, total - L), total))
        return emit, whole, stay

    def elaborate(self, platform):
        m = Module()
        nb, L, cap = self.bus_bytes, self.line_bytes, self.capacity
        acc = Signal(8 * cap)       # bytes of one row, zero above ``n``
        n = Signal(range(cap + 1))
        tail = Signal()             # ``acc`` holds the end of its row
        wi = Signal(self.count_width)  # index of the next word in its row

        take = Signal()
        first = Signal(init=1)  # wi == 0, as a register
        row_end = wi == self.row_words - 1
        v, lastw = self._word_bytes(m, first, take, row_end)
        word = Signal(8 * nb)       # the arriving word, only its row bytes
        m.d.comb += word.eq(Cat(*(Mux(j < v, self.i.payload.word_select(j, 8), 0)
                                  for j in range(nb))))
        can_out = ~self.o.valid | self.o.ready
        wait_row = tail & first  # the next row's first word, while this row's end is here

        # Ready: the accumulator has room for the word after this cycle's line (if any).
        _, _, stay1 = self._drain(m, can_out, n + v, tail | lastw)
        m.d.comb += self.i.ready.eq(Mux(wait_row, can_out & (n <= L), stay1 <= cap))
        m.d.comb += take.eq(self.i.valid & self.i.ready)
        fresh = take & wait_row     # starts the accumulator anew
        merge = take & ~wait_row    # appended to the accumulator (nothing for a padding word)

        total = Signal(range(cap + nb + 1))
        m.d.comb += total.eq(n + Mux(merge, v, 0))
        end = tail | (merge & lastw)
        emit, whole, stay = self._drain(m, can_out, total, end)

        # The accumulator with the word appended at byte n. A word with row bytes is only
        # appended while the row's end is not in the accumulator, and then n is a multiple of
        # gcd(bus_bytes, line_bytes) (whole words in, whole lines out): only those shifts exist.
        joined = Signal(8 * (cap + nb))
        with m.Switch(n):
            for k in range(0, cap + 1, math.gcd(nb, L)):
                with m.Case(k):
                    m.d.comb += joined.eq(acc | (Mux(merge, word, 0) << 8 * k))
            with m.Default():
                m.d.comb += joined.eq(acc)

        with m.If(emit):
            m.d.sync += [
                self.o.valid.eq(1),
                self.o.payload.data.eq(joined[:8 * L]),
                self.o.payload.last.eq(end & whole),
            ]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        kept = Mux(emit, Mux(whole, 0, joined[8 * L:]), joined)
        m.d.sync += [
            acc.eq(Mux(fresh, word, kept)),
            n.eq(Mux(fresh, v, stay)),
            tail.eq(Mux(fresh, lastw, end & ~(emit & whole))),
        ]
        with m.If(take):
            m.d.sync += [wi.eq(Mux(row_end, 0, wi + 1)), first.eq(row_end)]
        return m
