"""Radix-2 temporal-coding PE: each pulse adds x or 2x, so |q| <= 4 takes at most two cycles."""

from amaranth.hdl import Mux

from .temporal_pe import TemporalPE

__all__ = ["TemporalPE2"]


class TemporalPE2(TemporalPE):
    """A :class:`~hdl.datapath.temporal_pe.TemporalPE` whose pulses weigh 1 or 2.

    Same ports, registers, double buffering and gating as the radix-1 PE; only the code
    differs. A weight of magnitude ``|q|`` is ``ceil(|q| / 2)`` pulses, ``floor(|q| / 2)`` of
    which add ``2x`` (a shift of the activation, one more adder input bit) and, for odd ``|q|``,
    one adds ``x``:

    ========  ======  =====================================
    ``|q|``   pulses  addends (phases 1, 0 of a beat of 2)
    ========  ======  =====================================
    0         0       -
    1         1       x
    2         1       2x
    3         2       x, 2x
    4         2       2x, 2x
    ========  ======  =====================================

    With a phase counter ``P-1 .. 0`` the PE pulses where ``phase < ceil(|q|/2)`` and adds
    ``2x`` where ``phase < floor(|q|/2)``. A tile's beat is therefore ``P = max(1,
    ceil(max|q| / 2))``: one cycle for a tile without a magnitude above 2, two otherwise (the
    radix-1 PE needs ``max|q|``, up to 4). The accumulator is enabled only on pulses, the first
    pulse (``phase == ceil(|q|/2) - 1``) loading instead of adding.

    Latency and throughput as the radix-1 PE: ``product = q * x`` after each beat, one multiply
    per beat.
    """

    pulse_weight = 2  # one pulse adds +-x or +-2x

    def _pulse(self, magnitude):
        pulses = (magnitude + 1) >> 1  # ceil(|q| / 2)
        doubles = magnitude >> 1  # floor(|q| / 2)
        pulse = self.phase < pulses
        start = self.phase == pulses - 1
        double = self.phase < doubles
        return pulse, start, lambda signed_x: Mux(double, signed_x << 1, signed_x)
