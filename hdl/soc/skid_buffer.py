"""A zero-latency skid buffer: a stream stage whose ``i.ready`` is a flip-flop.

The top puts one on the accumulator's factor input and one on the array's weight input (the
array's results take a credit buffer, ``credit_buffer.py``). The factor FIFO's ``r_en`` updates
its level and storage, and the array's weight load reached the weight FIFO's read and level;
driven straight by the consumer's ready logic, those limited the whole top on ECP5 (16.2 ns, 13.2
of it routing, then 17.3 ns, 15.4 routing). Here ``i.ready`` is "the spare register is empty", so
they start at a flip-flop.

Timing: never later than a plain wire. A beat passes through in the cycle it arrives while the
spare register is empty. When ``o`` stalls, the beat offered in that cycle goes into the spare
register and ``i`` stalls from the next cycle on; when ``o`` takes the spare beat, ``i`` resumes the
cycle after. A producer that offers a beat every cycle so stalls as many cycles as on a wire, one
cycle later, and ``o`` sees every beat in the same cycle. A producer with gaps between its beats
(the FineQ array: one beat per ``P`` cycles) keeps working through a stall until its next beat,
so its later beats can come earlier.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """``i`` -> ``o`` for any payload layout, one spare register, ``i.ready`` registered."""

    def __init__(self, payload_shape):
        self.payload_shape = payload_shape
        super().__init__({
            "i": In(stream.Signature(payload_shape)),
            "o": Out(stream.Signature(payload_shape)),
        })

    def elaborate(self, platform):
        m = Module()
        spare = Signal(self.payload_shape, reset_less=True)
        full = Signal()  # the spare register holds a beat
        m.d.comb += [
            self.i.ready.eq(~full),
            self.o.valid.eq(full | self.i.valid),
            self.o.payload.eq(Mux(full, spare, self.i.payload)),
        ]
        with m.If(self.o.ready):
            m.d.sync += full.eq(0)
        with m.Elif(self.i.valid & ~full):  # o stalls the beat offered now: keep it
            m.d.sync += [full.eq(1), spare.eq(self.i.payload)]
        return m
