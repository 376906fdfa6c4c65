"""Vector unit: per-output-channel requantization of INT32 sums to INT8 (docs/numbers.md)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .arith import SPLITS, add_chunked, carry_save_tree, carry_select, named, sign_extend

__all__ = ["VectorUnit", "MULT_BITS", "SHIFT_BITS", "SHIFT_MIN", "SHIFT_MAX", "LATENCY",
           "in_layout", "out_layout"]

# The same constants as quant.core.golden (checked by the tests, not imported: hdl stays numpy-free).
MULT_BITS = 15
SHIFT_BITS = 6
SHIFT_MIN, SHIFT_MAX = 1, 47
ACC_WIDTH = 32
BOOTH_DIGITS = (MULT_BITS + 2) // 2  # radix-4 digits of the unsigned multiplier
LATENCY = 6  # cycles from an accepted input to its output (5 stages, the output FIFO)


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
    ``shift`` must be in 1..47 (the controller rejects other values); ``shift = 0`` adds no
    rounding constant, so the result is ``sat8(t * mult)``.

    Five pipeline stages, none with more than one short carry-propagate adder (ABC maps an
    n-bit adder here to about 0.15 ns a bit: the unpipelined 49-bit round/shift/saturate stage
    set the whole accelerator's clock), and a FIFO:

    0. the inputs, registered (bypass becomes ``bias = 0, mult = 1, shift = 0``);
    1. ``t = acc + bias`` as three chunk adds (``arith.SPLITS``), each chunk's carry out kept
       apart, so ``t = word + pending carries`` (a carry-select add here, whose two halves ABC
       merges back into one ripple, limited the whole accelerator); the radix-4 Booth digits
       of ``mult``; ``2**(shift-1)``;
    2. the eight partial products ``word * digit * 4**d``, ``mult`` shifted to each pending
       carry's bit, the rounding constant and the negation bits reduced to a sum and a carry
       word by a carry-save tree (all modulo 2**50);
    3. ``r = sum + carry``: the low 25 bits, and the high 25 bits for both carries into them;
    4. the high half picked, ``y = r >> shift`` (arithmetic: with the constant, round half up);
    5. saturation (or ``y = t = acc`` in bypass), written into the output FIFO.

    The stages never stall: ``i.ready`` is high while fewer than ``LATENCY + 1`` elements are
    in flight or in the FIFO, so nothing is lost or duplicated under back-pressure, and the
    stage registers have no enable multiplexer (nor a combinational path from ``o.ready``).
    ``busy`` is high while an element is in flight or waiting.

    Latency: :data:`LATENCY` cycles from the cycle an element is taken to the first cycle it is
    offered on ``o``. Throughput: one element per cycle.
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
            "busy": Out(1),  # an element is in the pipeline or waiting at the output
        })

    def elaborate(self, platform):
        m = Module()
        # acc + bias is exact in 33 bits; one bit more so that its chunked word (the sum less the
        # carries pending into SPLITS) is exact as a signed number too
        tw = max(self.acc_width, 32) + 2
        w = tw + MULT_BITS + 1  # t * mult + 2**(shift-1), exact, signed; all sums are mod 2**w
        i = self.i.payload

        # The stages never stall (no enable multiplexer in front of their registers): the input
        # takes an element only while the output FIFO has room for everything in flight.
        m.submodules.fifo = fifo = SyncFIFO(width=self.acc_width + 1, depth=LATENCY + 1)
        count = Signal(range(LATENCY + 2))  # accepted, not yet delivered
        take, give = self.i.valid & self.i.ready, self.o.valid & self.o.ready
        m.d.comb += [self.i.ready.eq(count < LATENCY + 1), self.busy.eq(count != 0)]
        m.d.sync += count.eq(count + take - give)
        m.d.comb += [self.o.valid.eq(fifo.r_rdy), fifo.r_en.eq(self.o.ready),
                     self.o.payload.data.eq(fifo.r_data[:-1]), self.o.payload.last.eq(fifo.r_data[-1])]

        def reg(name, shape, value):
            sig = Signal(shape, name=name)
            m.d.sync += sig.eq(value)
            return sig

        def control(k, valid, bypass, last, shift):
            return (reg(f"valid{k}", 1, valid), reg(f"bypass{k}", 1, bypass),
                    reg(f"last{k}", 1, last), reg(f"shift{k}", SHIFT_BITS, shift))

        # 0: the inputs, bypass as mult 1, shift 0, bias 0 (then y = acc exactly)
        acc0 = reg("acc0", signed(32), i.acc)
        bias0 = reg("bias0", signed(32), Mux(i.bypass, 0, i.bias))
        mult0 = reg("mult0", MULT_BITS, Mux(i.bypass, 1, i.mult))
        ctl0 = control(0, take, i.bypass, i.last, Mux(i.bypass, 0, i.shift))

        # 1: t = acc + bias in chunks, each with the carry from the chunk below pending (t is the
        #    word plus the carries at their bits), the multiplier's radix-4 Booth digits, 2**(shift-1)
        word, carries = add_chunked(m, "t", [sign_extend(acc0, tw), sign_extend(bias0, tw)], SPLITS, tw)
        t1, pending1 = reg("t1", signed(tw), word), reg("pending1", len(SPLITS), carries)
        mult1 = reg("mult1", MULT_BITS, mult0)
        digits = [_booth_digit(mult0, d) for d in range(BOOTH_DIGITS)]
        one1, two1, neg1 = (reg(f"{n}1", BOOTH_DIGITS, Cat(*(d[k] for d in digits)))
                            for k, n in enumerate(("one", "two", "neg")))
        s0 = ctl0[3]
        half1 = reg("half1", SHIFT_MAX, Mux(s0 == 0, 0, Const(1, SHIFT_MAX) << (s0 - 1)[:SHIFT_BITS]))
        ctl1 = control(1, *ctl0)

        # 2: the partial products word * digit * 4**d, the pending carries times the multiplier,
        #    the constant and the negation bits: a carry-save tree down to two operands
        t_ext = Signal(w)
        m.d.comb += t_ext.eq(t1)  # sign-extended
        ops = [half1, Cat(*(Cat(neg1[d], Const(0, 1)) for d in range(BOOTH_DIGITS)))[:w]]
        ops += [Mux(pending1[j], mult1 << bit, 0) for j, bit in enumerate(SPLITS)]
        for d in range(BOOTH_DIGITS):
            sel = Mux(two1[d], t_ext << 1, Mux(one1[d], t_ext, 0))[:w]
            ops.append(named(m, f"pp{d}", w, ((sel ^ neg1[d].replicate(w)) << (2 * d))[:w]))
        s, c = carry_save_tree(m, "", ops, w)
        sum2, carry2 = reg("sum2", w, s), reg("carry2", w, c)
        ctl2 = control(2, *ctl1)

        # 3: r = sum + carry: the low half, and the high half for both carries into it
        lo = w // 2
        r_lo, cy = carry_select(sum2[:lo], carry2[:lo], 0, lo, 13)
        r_lo3, cy3 = reg("r_lo3", lo, r_lo), reg("cy3", 1, cy)
        hi0 = reg("r_hi0_3", w - lo, carry_select(sum2[lo:], carry2[lo:], 0, w - lo, 13)[0])
        hi1 = reg("r_hi1_3", w - lo, carry_select(sum2[lo:], carry2[lo:], 1, w - lo, 13)[0])
        valid3, bypass3, last3, shift3 = control(3, *ctl2)

        # 4: the high half picked, arithmetic shift (floor; with the constant, round half up)
        r = Cat(r_lo3, Mux(cy3, hi1, hi0)).as_signed()
        y4 = reg("y4", signed(w), r >> shift3)
        valid4, bypass4, last4 = reg("valid4", 1, valid3), reg("bypass4", 1, bypass3), reg("last4", 1, last3)

        # 5: saturation, into the FIFO. y fits INT8 when the bits from 7 up are all equal (a
        #    reduction; the compares y > 127 and y < -128 were 50-bit carry chains, the FPGA
        #    build's longest path, and so was this stage behind the shift, 14.8 ns estimated)
        fits = y4[7:].all() | ~y4[7:].any()
        sat = Mux(fits, y4[:8].as_signed(), Mux(y4[-1], -128, 127))
        m.d.comb += [fifo.w_en.eq(valid4), fifo.w_data.eq(Cat(Mux(bypass4, y4, sat)[:self.acc_width], last4))]
        return m


def _booth_digit(mult, d):
    """Radix-4 Booth digit d of an unsigned multiplier, in {-2..2}: (one, two, negative)."""
    bit = lambda k: mult[k] if 0 <= k < len(mult) else Const(0, 1)
    b2, b1, b0 = bit(2 * d + 1), bit(2 * d), bit(2 * d - 1)
    return b1 ^ b0, (b2 & ~b1 & ~b0) | (~b2 & b1 & b0), b2
