"""Arithmetic for short clock cycles: division by a constant without a divider (``ceil(v / d)``
as a multiply and a shift), carry-save trees, carry-select adders, and chunked adds whose
carries wait a cycle.

ABC maps a carry-propagate adder here at about 0.15 ns a bit (OSU 0.18 um), so a 32-bit add
alone is about 5 ns, over the array's cycle (3.2 ns): the datapaths around the array add in
carry-select chunks and reduce products by carry-save trees instead.
"""

from __future__ import annotations

from functools import lru_cache

from amaranth.hdl import Cat, Const, Mux, Signal

__all__ = ["reciprocal", "ceil_div_const_carry_save", "named", "minus_one", "sign_extend", "carry_save_tree",
           "carry_select", "add_wide", "product_carry_save", "add_chunked", "pending_word", "SPLITS"]


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


def ceil_div_const_carry_save(m, name: str, value, divisor: int, width: int):
    """``ceil(value / divisor)`` in two cycles' worth of logic: ``(words, finish)``, where
    ``words`` are the two carry-save words of ``(value + divisor - 1) * mult`` (one shifted copy
    of ``value`` per set bit of ``mult``, and the constant) and ``finish(a, b)`` gives the
    quotient from them (registered or not): a carry-select add and the shift."""
    mult, shift = reciprocal(divisor, width)
    w = width + mult.bit_length() + 1
    ops = [named(m, f"{name}_t{i}", w, value << i) for i in range(mult.bit_length()) if mult >> i & 1]
    ops.append(Const((divisor - 1) * mult, w))
    words = carry_save_tree(m, f"{name}_", ops, w)

    def finish(a, b):
        return carry_select(a, b, 0, w, 12)[0][shift:shift + width]
    return words, finish


def named(m, name: str, shape, value):
    """``value`` as a named combinational signal of module ``m``: Amaranth copies an expression
    wherever it is used, so an operand used several times must be one net (the vector unit's
    carry-save tree, as expressions, grew to 2.8 MB of RTLIL)."""
    sig = Signal(shape, name=name)
    m.d.comb += sig.eq(value)
    return sig


def minus_one(m, name: str, value):
    """``value - 1`` registered: for a job's size, stable from the cycle of go, so that no cycle
    decrements a size and then compares a counter with it (the path that limited the engines)."""
    sig = Signal(len(value), name=f"{name}_m1")
    m.d.sync += sig.eq(value - 1)
    return sig


def sign_extend(v, w: int):
    return Cat(v, v[-1].replicate(w - len(v)))


def carry_save_tree(m, prefix: str, ops, w: int):
    """Three operands to two (sum and carry) until two are left, modulo 2**w; each level's
    words are named signals of ``m`` (``<prefix>csa<level>_<k>_s`` and ``_c``)."""
    ops, level = list(ops), 0
    while len(ops) > 2:
        nxt = []
        while len(ops) >= 3:
            a, b, c = ops.pop(0), ops.pop(0), ops.pop(0)
            k = len(nxt) // 2
            nxt += [named(m, f"{prefix}csa{level}_{k}_s", w, (a ^ b ^ c)[:w]),
                    named(m, f"{prefix}csa{level}_{k}_c", w, (((a & b) | (a & c) | (b & c)) << 1)[:w])]
        ops, level = nxt + ops, level + 1
    return ops


def carry_select(a, b, cin, w: int, k: int):
    """``a + b + cin`` modulo 2**w (``a``, ``b`` w bits wide) as chunks of k bits, each computed
    for both carries and picked by the carry of the chunk below: (sum, carry out). A chunk of
    k bits ripples in about as long as ABC's mapping of a k-bit adder."""
    parts, carry = [], cin
    for lo in range(0, w, k):
        hi = min(w, lo + k)
        x, y = a[lo:hi], b[lo:hi]
        s0, s1 = x + y, x + y + 1
        parts.append(Mux(carry, s1[:hi - lo], s0[:hi - lo]))
        carry = Mux(carry, s1[hi - lo], s0[hi - lo])
    return Cat(*parts), carry


def product_carry_save(m, name: str, a, b, w: int):
    """``a * b`` modulo 2**w for a signed ``a`` and an unsigned ``b``, as two words whose sum
    modulo 2**w is the product (carry-save form): one partial product per bit of ``b``, then a
    carry-save tree. The caller adds the two where its carry-propagate add is."""
    a_ext = named(m, f"{name}_a", w, sign_extend(a, w))
    pps = [named(m, f"{name}_pp{i}", w, Mux(b[i], a_ext << i, 0)[:w]) for i in range(len(b))]
    return carry_save_tree(m, f"{name}_", pps, w)


def add_wide(m, name: str, a, b, w: int = 32):
    """``a + b`` modulo 2**w as a carry-select adder of 16-bit chunks (an address, a count)."""
    x, y = named(m, f"{name}_a", w, a), named(m, f"{name}_b", w, b)
    return carry_select(x, y, 0, w, 16)[0]


# the chunk boundaries of the short adds (add_chunked) of 32- to 34-bit words: no carry ripples
# through more than 12 bits in a cycle
SPLITS = (11, 22)


def add_chunked(m, name: str, ops, splits, w: int):
    """The sum of ``ops`` modulo 2**w with no carry crossing the bits ``splits``: a carry-save
    tree, then one add per chunk, each chunk's carry out kept apart. Returns ``(word,
    carries)``; the sum is ``word + pending_word(carries, splits, w)``. Feeding the carries
    back as an operand of the next cycle's add (an accumulator) keeps every carry chain a
    chunk long: ABC maps a carry-select adder's two halves back into one ripple, so chunks
    with the carry picked in the same cycle do not shorten the cycle."""
    x, y = carry_save_tree(m, f"{name}_", ops, w)
    sums = [x[lo:hi] + y[lo:hi] for lo, hi in zip((0, *splits), (*splits, w), strict=True)]
    return Cat(*(v[:-1] for v in sums)), Cat(*(v[-1] for v in sums[:-1]))


def pending_word(carries, splits, w: int):
    """Carries pending into the bits ``splits``, as a w-bit word."""
    word = Const(0, w)
    for j, bit in enumerate(splits):
        word = word | (carries[j].as_unsigned() << bit)
    return word[:w]
