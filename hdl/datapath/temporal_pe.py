"""Temporal-coding processing element: multiply by a 3-bit weight with pulses, not a multiplier."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import FINEQ_WEIGHT_WIDTH

__all__ = ["TemporalPE", "check_width"]


def check_width(name, value, lo):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}, not {value}")


class TemporalPE(wiring.Component):
    """Weight-stationary PE that adds or subtracts its activation once per pulse of its weight.

    The decoded weight ``q`` (3-bit two's complement, -4..3) is held in the *active* register; a
    *shadow* register takes the next tile's weight while the current tile computes (double
    buffering), and ``swap`` moves it in. The temporal code of ``q`` is a sign, ``q < 0``, and
    ``|q|`` pulses: in a beat of ``P >= max|q|`` cycles the array broadcasts a phase counter that
    counts ``P-1, ..., 0``, and the PE pulses in every cycle whose phase is below ``|q|`` --
    exactly ``|q|`` cycles, the last ones of the beat. On a pulse it adds ``-x`` or ``+x`` to its
    accumulator, so after the beat ``product = q * x`` with no multiplier.

    Energy proportional to pulses: the accumulator is enabled *only* in pulse cycles (the first
    pulse, ``phase == |q| - 1``, loads ``+-x`` instead of adding), so a synthesis flow with clock
    gating clocks it ``|q|`` times per beat. A zero weight clocks it at most once per tile: in
    the first enabled cycle after the swap, if it still holds the previous tile's non-zero
    product (the column tree takes that product at the same clock edge), it is cleared.

    Cycle by cycle, when ``en`` is high (nothing changes when it is low, except the weights):

    - on the beat's first pulse (``phase == |q| - 1``): ``acc <= +-x``;
    - on every later pulse (``phase < |q| - 1``): ``acc <= acc + (+-x)``;
    - with a zero weight, ``acc <= 0`` if ``acc != 0``; otherwise ``acc`` holds;
    - ``w_load``: ``shadow <= w_in``; ``swap``: ``active <= shadow`` (both may happen together:
      the active register takes the old shadow value).

    ``first`` (high in the beat's first cycle) is part of the array's PE interface; this PE does
    not need it any more (the phase says where its pulses start).

    Latency: ``product`` holds ``q * x`` from the cycle after the beat's last cycle until the
    next beat's first pulse. Throughput: one multiply per beat of ``P`` cycles.

    Parameters
    ----------
    act_width : int
        Width of the signed activation (broadcast to the PE by its row).
    phase_width : int
        Width of the broadcast phase counter.
    """

    pulse_weight = 1  # one pulse adds +-x

    def __init__(self, *, act_width: int = 8, phase_width: int = 3):
        check_width("act_width", act_width, 2)
        check_width("phase_width", phase_width, 1)
        self.act_width = act_width
        self.weight_width = FINEQ_WEIGHT_WIDTH
        self.product_width = act_width + FINEQ_WEIGHT_WIDTH  # |q * x| <= 4 * 128
        self.phase_width = phase_width
        super().__init__({
            "w_in": In(signed(FINEQ_WEIGHT_WIDTH)),
            "w_load": In(1),
            "swap": In(1),
            "x": In(signed(act_width)),
            "en": In(1),
            "first": In(1),
            "phase": In(unsigned(phase_width)),
            "product": Out(signed(self.product_width)),
        })

    def _pulse(self, magnitude):
        """(pulse, start of the beat's pulses, addend) for a weight of ``magnitude``."""
        pulse = self.phase < magnitude
        start = self.phase == magnitude - 1
        return pulse, start, None

    def elaborate(self, platform):
        m = Module()
        # No reset on the datapath: after a reset the array loads a tile before any vector uses
        # it, so these values are never observed (and reset muxes on every flop cost area).
        shadow = Signal(signed(FINEQ_WEIGHT_WIDTH), reset_less=True)
        w = Signal(signed(FINEQ_WEIGHT_WIDTH), reset_less=True)
        acc = Signal(signed(self.product_width), reset_less=True)

        negative = w[-1]
        magnitude = Signal(range((1 << (FINEQ_WEIGHT_WIDTH - 1)) + 1))  # 0..4
        m.d.comb += magnitude.eq(Mux(negative, -w, w).as_unsigned())
        signed_x = Mux(negative, -self.x, self.x)
        pulse, start, addend = self._pulse(magnitude)
        if addend is None:
            addend = signed_x
        else:
            addend = addend(signed_x)

        with m.If(self.w_load):
            m.d.sync += shadow.eq(self.w_in)
        with m.If(self.swap):
            m.d.sync += w.eq(shadow)
        with m.If(self.en & pulse):
            m.d.sync += acc.eq(Mux(start, 0, acc) + addend)
        with m.Elif(self.en & (magnitude == 0) & (acc != 0)):
            m.d.sync += acc.eq(0)  # a zero weight: clear the previous tile's product once
        m.d.comb += self.product.eq(acc)
        return m
