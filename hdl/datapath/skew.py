"""Triangular delay line: the input skew and the output de-skew of the systolic array."""

from amaranth.hdl import Module, Signal, ShapeCastable, Shape
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Skew"]


class Skew(wiring.Component):
    """Delays lane ``l`` by ``delays[l]`` steps; a step happens in every cycle ``en`` is high.

    This is lockstep plumbing inside the array, not a stream: the whole array advances together
    under one enable, so per-lane handshakes would only cost area. The array puts one in front of
    its rows (row ``r`` delayed ``r`` beats, so activations meet their partial sums) and one after
    its columns (column ``c`` delayed ``cols-1-c`` beats, so a result vector leaves aligned).

    Latency: ``delays[l]`` enabled cycles on lane ``l`` (a lane with delay 0 is a wire).
    Throughput: one vector per enabled cycle.

    Parameters
    ----------
    shape : shape-castable
        Shape of one lane.
    delays : sequence of int
        Delay of each lane, in steps.
    """

    def __init__(self, *, shape, delays):
        if not isinstance(shape, ShapeCastable):
            try:
                Shape.cast(shape)
            except TypeError:
                raise TypeError(f"shape must be a shape-castable object, not {shape!r}") from None
        delays = list(delays)
        if not delays:
            raise ValueError("delays must name at least one lane")
        for d in delays:
            if not isinstance(d, int) or isinstance(d, bool) or d < 0:
                raise ValueError(f"every delay must be a non-negative integer, not {d!r}")
        self.shape = shape
        self.delays = delays
        layout = data.ArrayLayout(shape, len(delays))
        super().__init__({
            "i": In(layout),
            "o": Out(layout),
            "en": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        for lane, delay in enumerate(self.delays):
            prev = self.i[lane]
            for stage in range(delay):
                # No reset: the array's valid bits say which stages hold live data.
                reg = Signal(self.shape, name=f"lane{lane}_stage{stage}", reset_less=True)
                with m.If(self.en):
                    m.d.sync += reg.eq(prev)
                prev = reg
            m.d.comb += self.o[lane].eq(prev)
        return m
