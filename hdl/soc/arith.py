"""Division by a constant without a divider: ``ceil(v / d)`` as a multiply and a shift."""

from __future__ import annotations

from functools import lru_cache

__all__ = ["ceil_div_const", "reciprocal"]


@lru_cache(maxsize=None)
def reciprocal(divisor: int, width: int) -> tuple[int, int]:
    """(mult, shift) with ``((v + divisor - 1) * mult) >> shift == ceil(v / divisor)`` for every
    ``0 <= v < 2**width``, checked exhaustively (so the hardware is exact by construction)."""
    if divisor < 1:
        raise ValueError(f"divisor must be >= 1, not {divisor}")
    if divisor & (divisor - 1) == 0:
        return 1, divisor.bit_length() - 1
    for shift in range(width, 3 * width + 8):
        mult = -(-(1 << shift) // divisor)
        if all(((v + divisor - 1) * mult) >> shift == -(-v // divisor) for v in range(1 << width)):
            return mult, shift
    raise ValueError(f"no reciprocal for {divisor} at {width} bits")  # pragma: no cover


def ceil_div_const(value, divisor: int, width: int):
    """An Amaranth expression for ``ceil(value / divisor)``, exact for ``value < 2**width``."""
    mult, shift = reciprocal(divisor, width)
    if mult == 1:
        return (value + divisor - 1) >> shift
    return ((value + divisor - 1) * mult) >> shift
