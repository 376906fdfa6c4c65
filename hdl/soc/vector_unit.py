"""Vector unit: per-output-channel requantization of INT32 sums to INT8 (docs/numbers.md)."""

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["VectorUnit", "MULT_BITS", "SHIFT_BITS", "SHIFT_MIN", "SHIFT_MAX", "in_layout",
           "out_layout"]

# The same constants as quant.core.golden (checked by the tests, not imported: hdl stays numpy-free).
MULT_BITS = 15
SHIFT_BITS = 6
SHIFT_MIN, SHIFT_MAX = 1, 47
ACC_WIDTH = 32


def in_layout(acc_width: int = ACC_WIDTH) -> data.StructLayout:
    return data.StructLayout({
        "acc": signed(acc_width),  # exact sum of the array
        "bias": signed(32),  # in units of s_x * s_w[n]
        "mult": unsigned(MULT_BITS),  # mult / 2**shift ~ s_x * s_w[n] / s_y
        "shift": unsigned(SHIFT_BITS),  # SHIFT_MIN..SHIFT_MAX
        "bypass": 1,  # return acc itself (INT32 output)
        "last": 1,  # carried through untouched (end of an output segment)
    })


def out_layout(acc_width: int = ACC_WIDTH) -> data.StructLayout:
    return data.StructLayout({"data": signed(acc_width), "last": 1})


class VectorUnit(wiring.Component):
    """One element per cycle: ``y = sat8((((acc + bias) * mult) + 2**(shift-1)) >> shift)``.

    Exactly :func:`quant.core.golden.requantize`: the sum ``t = acc + bias`` is formed exactly (33 bits,
    so even sums the golden model rejects as INT32 overflow are exact, not wrapped), the product
    with the unsigned 15-bit multiplier exactly (48 bits), the shift is arithmetic (flooring), so
    adding ``2**(shift-1)`` first rounds to nearest with ties toward +infinity, and the result
    saturates to [-128, 127]. With ``bypass`` the output is ``acc`` itself (no bias, no rounding).
    ``shift`` must be in 1..47; the controller rejects other values before they get here.

    Latency: 3 cycles (three registered stages: add, multiply, round/shift/saturate).
    Throughput: one element per cycle; the whole pipeline holds while ``o`` is back-pressured.
    """

    def __init__(self, *, acc_width: int = ACC_WIDTH):
        if not isinstance(acc_width, int) or isinstance(acc_width, bool):
            raise TypeError(f"acc_width must be an integer, not {acc_width!r}")
        if not 2 <= acc_width <= 32:
            raise ValueError(f"acc_width must be in 2..32, not {acc_width}")
        self.acc_width = acc_width
        super().__init__({
            "i": In(stream.Signature(in_layout(acc_width))),
            "o": Out(stream.Signature(out_layout(acc_width))),
        })

    def elaborate(self, platform):
        m = Module()
        aw = self.acc_width
        en = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(en)

        # Stage 1: t = acc + bias, exact.
        v1 = Signal()
        t = Signal(signed(max(aw, 32) + 1))
        s1 = Signal(in_layout(aw))
        # Stage 2: p = t * mult, exact.
        v2 = Signal()
        p = Signal(signed(len(t) + MULT_BITS))
        s2 = Signal(in_layout(aw))

        with m.If(en):
            m.d.sync += [
                v1.eq(self.i.valid),
                t.eq(self.i.payload.acc + self.i.payload.bias),
                s1.eq(self.i.payload),
                v2.eq(v1),
                p.eq(t * s1.mult),  # unsigned mult: the product is signed, exact
                s2.eq(s1),
                self.o.valid.eq(v2),
            ]

        # Stage 3: round to nearest, ties toward +inf (add half, then floor-shift), saturate.
        half = Signal(unsigned(SHIFT_MAX))
        m.d.comb += half.eq(Const(1, 1) << (s2.shift - 1)[:SHIFT_BITS])
        rounded = Signal(signed(len(p) + 1))
        m.d.comb += rounded.eq(p + half)
        y = Signal(signed(len(p) + 1))
        m.d.comb += y.eq(rounded >> s2.shift)  # arithmetic shift of a signed value: floor
        sat = Mux(y > 127, 127, Mux(y < -128, -128, y))
        with m.If(en):
            m.d.sync += [
                self.o.payload.data.eq(Mux(s2.bypass, s2.acc, sat)),
                self.o.payload.last.eq(s2.last),
            ]
        return m
