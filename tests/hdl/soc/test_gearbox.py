# amaranth: UnusedElaboratable=no
"""hdl.soc.gearbox.RowGearbox in the Amaranth simulator, against a Python model."""

import itertools
import random

import pytest

from hdl.soc.gearbox import RowGearbox
from verif.amaranth_tb import get, put, simulate


def ceil_div(a, b):
    return -(-a // b)


def model(rows, row_bytes, nb, L):
    """Lines (data, last) of rows of bus words."""
    lines = []
    for row in rows:
        raw = b"".join(w.to_bytes(nb, "little") for w in row)[:row_bytes]
        for j in range(0, row_bytes, L):
            chunk = raw[j:j + L].ljust(L, b"\0")
            lines.append((int.from_bytes(chunk, "little"), int(j + L >= row_bytes)))
    return lines


def transfers_for(nb, L, rng):
    """(row_bytes, row_words, rows): 1-byte rows, exact multiples of a line and of a word,
    stride padding, random lengths."""
    shapes = [(1, 1), (1, 3), (L, 0), (2 * L, 1), (3 * nb, 0), (L * nb, 0), (nb + 1, 2),
              (rng.randint(2, 3 * L + nb), rng.randint(0, 2)), (rng.randint(2, 5 * L), 0)]
    out = []
    for k, pad in shapes:
        w = ceil_div(k, nb) + pad
        rows = [[rng.randrange(2 ** (8 * nb)) for _ in range(w)] for _ in range(rng.randint(1, 3))]
        out.append((k, w, rows))
    return out


def watchdog(cycles):
    """A background testbench that fails the test when the design hangs."""
    async def bench(ctx):
        for _ in range(cycles):
            await ctx.tick()
        raise AssertionError(f"no result after {cycles} cycles")
    return bench


@pytest.mark.parametrize("nb, L", list(itertools.product([4, 8, 16], [3, 6, 12, 16, 24])))
def test_rows_become_zero_filled_lines_with_pauses(nb, L):
    rng = random.Random(nb * 100 + L)
    transfers = transfers_for(nb, L, rng)
    wants = [model(rows, k, nb, L) for k, _, rows in transfers]
    dut = RowGearbox(bus_bytes=nb, line_bytes=L)
    got = []

    async def source(ctx):
        done = 0
        for (k, w, rows), want in zip(transfers, wants, strict=True):
            while len(got) < done:  # parameters change only between transfers
                await ctx.tick()
            ctx.set(dut.row_bytes, k)
            ctx.set(dut.row_words, w)
            await ctx.tick()  # set in the cycle before the transfer's first word
            for word in itertools.chain(*rows):
                await put(ctx, dut.i, word, rng=rng, pause=0.3)
            done += len(want)

    async def sink(ctx):
        for _ in itertools.chain(*wants):
            p = await get(ctx, dut.o, rng=rng, pause=0.3)
            got.append((int(p.data), int(p.last)))

    total = sum(len(w) for w in wants) + sum(len(r) for _, _, rr in transfers for r in rr)
    simulate(dut, sink, background=[source, watchdog(10 * total + 100)], name=f"gearbox{nb}_{L}")
    assert got == list(itertools.chain(*wants))


def run_unpaused(nb, L, row_bytes, row_words, nrows):
    """Words offered every cycle, ``o`` always ready: (cycles with i stalled, cycles of each
    line, lines, expected lines)."""
    rng = random.Random(row_bytes)
    rows = [[rng.randrange(2 ** (8 * nb)) for _ in range(row_words)] for _ in range(nrows)]
    want = model(rows, row_bytes, nb, L)
    dut = RowGearbox(bus_bytes=nb, line_bytes=L)
    words = list(itertools.chain(*rows))
    stalled, line_cycles, lines = [], [], []

    async def bench(ctx):
        ctx.set(dut.row_bytes, row_bytes)
        ctx.set(dut.row_words, row_words)
        ctx.set(dut.o.ready, 1)
        await ctx.tick()  # the sizes are set in the cycle before the first word
        k = cycle = 0
        while len(lines) < len(want) and cycle < 10 * len(words) + 50:
            ctx.set(dut.i.valid, k < len(words))
            ctx.set(dut.i.payload, words[k] if k < len(words) else 0)
            _, _, ready, valid, p = await ctx.tick().sample(dut.i.ready, dut.o.valid,
                                                             dut.o.payload)
            if k < len(words):
                stalled.extend([cycle] if not ready else [])
                k += bool(ready)
            if valid:
                line_cycles.append(cycle)
                lines.append((int(p.data), int(p.last)))
            cycle += 1

    simulate(dut, bench)
    return stalled, line_cycles, lines, want


@pytest.mark.parametrize("nb, L", list(itertools.product([4, 8, 16], [3, 6, 12, 16, 24])))
def test_sustained_rate_without_pauses(nb, L):
    """bus_bytes <= line_bytes: a word every cycle (stride padding included); bus_bytes >
    line_bytes: a line every cycle. Rows follow each other with no idle cycle."""
    rng = random.Random(nb + L)
    for row_bytes in (1, L, nb + 1, 2 * L + 1, rng.randint(2, 4 * L)):
        pad = rng.randint(0, 2) if nb <= L else 0
        stalled, line_cycles, lines, want = run_unpaused(
            nb, L, row_bytes, ceil_div(row_bytes, nb) + pad, nrows=4)
        assert lines == want, f"row_bytes {row_bytes}"
        if nb <= L:
            assert stalled == [], f"row_bytes {row_bytes}: i back-pressured in cycles {stalled}"
        else:
            assert line_cycles == list(range(1, 1 + len(want))), \
                f"row_bytes {row_bytes}: lines in cycles {line_cycles}"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"bus_bytes": 2, "line_bytes": 4}, ValueError, "bus_bytes must be 4, 8 or 16, not 2"),
    ({"bus_bytes": "4", "line_bytes": 4}, TypeError, "bus_bytes must be an integer, not '4'"),
    ({"bus_bytes": 4, "line_bytes": 0}, ValueError, "line_bytes must be in 1..64, not 0"),
    ({"bus_bytes": 4, "line_bytes": 65}, ValueError, "line_bytes must be in 1..64, not 65"),
    ({"bus_bytes": 4, "line_bytes": 1.5}, TypeError, "line_bytes must be an integer, not 1.5"),
    ({"bus_bytes": 4, "line_bytes": 4, "count_width": 1}, ValueError,
     "count_width must be in 2..32, not 1"),
])
def test_bad_parameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        RowGearbox(**kwargs)
