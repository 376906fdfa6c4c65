"""Temporal-coding processing element: multiply by a 3-bit weight with pulses, not a multiplier."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import FINEQ_WEIGHT_WIDTH

__all__ = ["TemporalPE"]


def _check(name, value, lo):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}, not {value}")


class TemporalPE(wiring.Component):
    """Weight-stationary PE that adds or subtracts its activation once per pulse of its weight.

    The decoded weight ``q`` (3-bit two's complement, -4..3) is held in a register. Its temporal
    code is a sign, ``q < 0``, and ``|q|`` pulses: in a beat of ``P >= max|q|`` cycles the array
    broadcasts a phase counter that counts ``P-1, ..., 0``, and the PE pulses in every cycle whose
    phase is below ``|q|`` -- exactly ``|q|`` cycles. On a pulse it adds ``-x`` or ``+x`` to its
    accumulator, so after the beat ``psum_out = psum_in + q * x`` with no multiplier.

    Cycle by cycle, when ``en`` is high (all registers hold when it is low):

    - ``first`` (first cycle of a beat): ``acc <= psum_in + pulse * (+-x)``, taking the partial
      sum the PE above finished in the previous beat;
    - otherwise: ``acc <= acc + pulse * (+-x)``;
    - ``x_shift`` (last cycle of a beat): ``x <= x_in``, the activation for the next beat, passed
      on to the right through ``x_out``;
    - ``w_load`` (whether or not ``en``): ``w <= w_in``; ``w_out`` chains weights during loading.

    Latency: ``psum_out`` holds ``psum_in + q * x`` from the cycle after the beat's last cycle
    until the next beat's first cycle ends. Throughput: one multiply-accumulate per beat of ``P``
    cycles (``P = 1`` when the tile has no weight of magnitude above 1).

    Parameters
    ----------
    act_width : int
        Width of the signed activation.
    psum_width : int
        Width of the signed partial sums in and out (the array sizes it per row).
    phase_width : int
        Width of the broadcast phase counter.
    """

    def __init__(self, *, act_width: int = 8, psum_width: int = 32, phase_width: int = 3):
        _check("act_width", act_width, 2)
        _check("psum_width", psum_width, act_width + 2)
        _check("phase_width", phase_width, 1)
        self.act_width = act_width
        self.weight_width = FINEQ_WEIGHT_WIDTH
        self.psum_width = psum_width
        self.phase_width = phase_width
        super().__init__({
            "w_in": In(signed(FINEQ_WEIGHT_WIDTH)),
            "w_load": In(1),
            "w_out": Out(signed(FINEQ_WEIGHT_WIDTH)),
            "x_in": In(signed(act_width)),
            "x_shift": In(1),
            "x_out": Out(signed(act_width)),
            "psum_in": In(signed(psum_width)),
            "psum_out": Out(signed(psum_width)),
            "en": In(1),
            "first": In(1),
            "phase": In(unsigned(phase_width)),
        })

    def elaborate(self, platform):
        m = Module()
        # No reset on the datapath: after a reset the array's valid bits are clear and every
        # weight is reloaded before use, so these values are never observed (and reset muxes on
        # every PE flop would only add area).
        w = Signal(signed(FINEQ_WEIGHT_WIDTH), reset_less=True)
        x = Signal(signed(self.act_width), reset_less=True)
        acc = Signal(signed(self.psum_width), reset_less=True)

        negative = w[-1]
        magnitude = Mux(negative, -w, w).as_unsigned()  # 0..4; -(-4) = 4 needs the extra bit
        pulse = self.phase < magnitude
        addend = Mux(pulse, Mux(negative, -x, x), 0)
        base = Mux(self.first, self.psum_in, acc)

        with m.If(self.w_load):
            m.d.sync += w.eq(self.w_in)
        with m.If(self.x_shift):
            m.d.sync += x.eq(self.x_in)
        with m.If(self.en):
            m.d.sync += acc.eq(base + addend)

        m.d.comb += [
            self.w_out.eq(w),
            self.x_out.eq(x),
            self.psum_out.eq(acc),
        ]
        return m
