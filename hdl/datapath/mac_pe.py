"""Conventional multiply-accumulate processing element: the baseline the temporal PE replaces."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .temporal_pe import check_width

__all__ = ["MacPE"]


class MacPE(wiring.Component):
    """Weight-stationary PE with a multiplier: ``product <= x * w`` every enabled cycle.

    The ports are those of :class:`~hdl.datapath.temporal_pe.TemporalPE` without ``first`` and
    ``phase`` (every beat is one cycle), so both PEs sit in the same array:

    - ``en``: ``product <= x * w`` (the row's broadcast activation times the active weight);
    - ``w_load``: ``shadow <= w_in``; ``swap``: ``active <= shadow`` (double buffering).

    Zero-operand gating, the MAC's counterpart of the temporal PE's pulse-only accumulator: the
    product register is enabled only when ``x != 0`` and ``w != 0``, or when it still holds a
    non-zero product that must become 0 (then ``x * w`` is 0). A zero weight or a run of zero
    activations therefore costs at most one register update, and a flow with clock gating does
    not clock the register at all in those cycles; ``product`` is always ``x * w`` of the last
    enabled cycle.

    Latency: 1 cycle. Throughput: one multiply per cycle.

    Parameters
    ----------
    act_width : int
        Width of the signed activation.
    weight_width : int
        Width of the signed weight: 8 for the W8A8 baseline, 3 for FineQ's decoded codes.
    """

    def __init__(self, *, act_width: int = 8, weight_width: int = 8):
        check_width("act_width", act_width, 2)
        check_width("weight_width", weight_width, 2)
        self.act_width = act_width
        self.weight_width = weight_width
        self.product_width = act_width + weight_width  # (-2^(a-1)) * (-2^(w-1)) needs a+w bits
        super().__init__({
            "w_in": In(signed(weight_width)),
            "w_load": In(1),
            "swap": In(1),
            "x": In(signed(act_width)),
            "en": In(1),
            "product": Out(signed(self.product_width)),
        })

    def elaborate(self, platform):
        m = Module()
        # Datapath registers need no reset, for the same reason as in the temporal PE.
        shadow = Signal(signed(self.weight_width), reset_less=True)
        w = Signal(signed(self.weight_width), reset_less=True)
        product = Signal(signed(self.product_width), reset_less=True)
        with m.If(self.w_load):
            m.d.sync += shadow.eq(self.w_in)
        with m.If(self.swap):
            m.d.sync += w.eq(shadow)
        update = Signal()  # a non-zero product to compute, or a stale non-zero one to clear
        m.d.comb += update.eq(((self.x != 0) & (w != 0)) | (product != 0))
        with m.If(self.en & update):
            m.d.sync += product.eq(self.x * w)
        m.d.comb += self.product.eq(product)
        return m
