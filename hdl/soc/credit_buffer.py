"""A credit buffer: a queue for the PE array's results that the array never has to wait for.

The array's enable is ``~(y.valid & ~y.ready)``. Behind a skid buffer it started at a flip-flop,
but it still fanned out to every PE and sat first in the array's control chain (stall, vector
intake, weight swap, shadow load), which limited the whole top on ECP5 (12.8 ns, 10.2 of it
routing, at 78 MHz against the array's own 90). Here ``y.ready`` is the constant 1, so the enable
is 1 and synthesis removes it; a vector is given to the array only while a credit says its result
will find room: the queue's ``depth`` entries cover every result in flight (in the array and in
the queue), and ``credit`` is a flip-flop.

Timing: a vector taken in cycle ``t`` gives a result at ``y`` from ``t + P + 3`` (``PEArray``),
in the queue's output register two cycles later, and its credit is back a cycle after ``y_out``
takes it: ``depth >= 7`` keeps a one-cycle beat (``P = 1``) at one vector a cycle while ``y_out``
takes every beat (``DEPTH``). Latency: two cycles more than a wire.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CreditBuffer", "DEPTH", "connect_results", "result_layout"]

DEPTH = 7  # the round trip of a result at P = 1 (see above; the test checks that 6 starves the array)


class CreditBuffer(wiring.Component):
    """``x_in`` -> ``x_out`` gated by a credit; ``y_in`` -> ``depth``-entry queue -> ``y_out``.

    Every beat taken at ``x_out`` must produce exactly one beat at ``y_in`` (the PE array's
    contract); ``y_in.ready`` is then always 1 and the queue never overflows.
    """

    def __init__(self, x_shape, y_shape, depth: int = DEPTH):
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2, not {depth!r}")
        self.depth = depth
        super().__init__({
            "x_in": In(stream.Signature(x_shape)),
            "x_out": Out(stream.Signature(x_shape)),
            "y_in": In(stream.Signature(y_shape)),
            "y_out": Out(stream.Signature(y_shape)),
        })

    def elaborate(self, platform):
        m = Module()
        width = self.y_in.payload.shape().size
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(width=width, depth=self.depth)
        owed = Signal(range(self.depth + 1))  # vectors taken whose result is not yet out of y_out
        credit = Signal(init=1)  # owed < depth, known a cycle ahead
        sent = self.x_out.valid & self.x_out.ready
        done = self.y_out.valid & self.y_out.ready
        m.d.comb += [
            self.x_out.valid.eq(self.x_in.valid & credit),
            self.x_out.payload.eq(self.x_in.payload),
            self.x_in.ready.eq(self.x_out.ready & credit),
            self.y_in.ready.eq(1),
            queue.w_en.eq(self.y_in.valid), queue.w_data.eq(self.y_in.payload),
            self.y_out.valid.eq(queue.r_rdy), self.y_out.payload.eq(queue.r_data),
            queue.r_en.eq(self.y_out.ready),
        ]
        # ``sent`` comes late (the array's intake logic): it only picks one of two sums
        after = Signal.like(owed)
        m.d.comb += after.eq(owed - done)
        m.d.sync += [owed.eq(after + sent),
                     credit.eq(Mux(sent, after + 1 < self.depth, after < self.depth))]
        return m


def result_layout(array):
    """The PE array's result payload with each column sum at its exact width, not ``acc_width``:
    what the queue stores."""
    cfg = array.config
    return data.StructLayout({"data": data.ArrayLayout(signed(cfg.sum_width(array.kind, cfg.rows)), cfg.cols),
                              "last": 1})


def connect_results(m, source, sink):
    """A result stream between the array's layout and ``result_layout``: truncating, or
    sign-extending back (the dropped bits are copies of the sign)."""
    m.d.comb += [sink.valid.eq(source.valid), source.ready.eq(sink.ready),
                 sink.payload.last.eq(source.payload.last)]
    for c in range(len(source.payload.data)):
        m.d.comb += sink.payload.data[c].eq(source.payload.data[c])
