"""Conventional multiply-accumulate processing element: the baseline the temporal PE replaces."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["MacPE"]


def _check(name, value, lo):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}, not {value}")


class MacPE(wiring.Component):
    """Weight-stationary PE with a multiplier: ``acc <= psum_in + x * w`` every enabled cycle.

    The ports are those of :class:`~hdl.datapath.temporal_pe.TemporalPE` minus ``first`` and ``phase``
    (every beat is one cycle), so both PEs sit in the same systolic skeleton:

    - ``en``: ``acc <= psum_in + x * w`` with the activation loaded at the previous beat;
    - ``x_shift``: ``x <= x_in`` (the array raises it together with ``en``);
    - ``w_load``: ``w <= w_in``; ``w_out`` chains weights during loading.

    Latency: 1 cycle per multiply-accumulate. Throughput: one multiply-accumulate per cycle.

    Parameters
    ----------
    act_width : int
        Width of the signed activation.
    weight_width : int
        Width of the signed weight: 8 for the W8A8 baseline, 3 for FineQ's decoded codes.
    psum_width : int
        Width of the signed partial sums in and out.
    """

    def __init__(self, *, act_width: int = 8, weight_width: int = 8, psum_width: int = 32):
        _check("act_width", act_width, 2)
        _check("weight_width", weight_width, 2)
        _check("psum_width", psum_width, act_width + weight_width - 1)
        self.act_width = act_width
        self.weight_width = weight_width
        self.psum_width = psum_width
        super().__init__({
            "w_in": In(signed(weight_width)),
            "w_load": In(1),
            "w_out": Out(signed(weight_width)),
            "x_in": In(signed(act_width)),
            "x_shift": In(1),
            "x_out": Out(signed(act_width)),
            "psum_in": In(signed(psum_width)),
            "psum_out": Out(signed(psum_width)),
            "en": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        # Datapath registers need no reset, for the same reason as in the temporal PE.
        w = Signal(signed(self.weight_width), reset_less=True)
        x = Signal(signed(self.act_width), reset_less=True)
        acc = Signal(signed(self.psum_width), reset_less=True)

        with m.If(self.w_load):
            m.d.sync += w.eq(self.w_in)
        with m.If(self.x_shift):
            m.d.sync += x.eq(self.x_in)
        with m.If(self.en):
            m.d.sync += acc.eq(self.psum_in + x * w)

        m.d.comb += [
            self.w_out.eq(w),
            self.x_out.eq(x),
            self.psum_out.eq(acc),
        ]
        return m
