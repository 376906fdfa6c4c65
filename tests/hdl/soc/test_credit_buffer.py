# amaranth: UnusedElaboratable=no
"""hdl.soc.credit_buffer.CreditBuffer in the Amaranth simulator, wired to a real PE array as the
top wires it: every result exact and in order under random pauses and stalls, the queue never
asked to hold more than its depth, one vector a cycle at P = 1 with ``DEPTH`` (and not with one
entry less), and ``x_in.ready`` never following ``y_out.ready`` within a cycle."""

import random

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring

from hdl.datapath.array import PEArray
from hdl.datapath.config import ArrayKind, preset
from hdl.soc.credit_buffer import DEPTH, CreditBuffer, connect_results, result_layout
from quant.core.golden import int_gemm
from verif.amaranth_tb import put, simulate


def run(kind, vectors, *, depth=DEPTH, pause=0.0, seed=0):
    """One tile of ``vectors`` random vectors through array + credit buffer; returns the cycles
    the vectors entered the array in, and whether anything went wrong in a cycle."""
    cfg = preset("tiny")
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    limit = 1 << (cfg.weight_bits(kind) - 1)
    q = nprng.integers(-limit, limit, size=(cfg.cols, cfg.rows))
    x = nprng.integers(-128, 128, size=(vectors, cfg.rows))
    m = Module()
    m.submodules.array = array = PEArray(cfg, kind, load_width=cfg.rows * cfg.cols)
    m.submodules.credit = credit = CreditBuffer(array.x_layout, result_layout(array), depth)
    wiring.connect(m, credit.x_out, array.x)
    connect_results(m, array.y, credit.y_in)
    y_out = credit.y_out
    entered, faults = [], []

    async def monitor(ctx):
        cycle, held = 0, 0  # held: results written into the queue and not yet read
        signals = (array.x.valid, array.x.ready, credit.y_in.valid, y_out.valid, y_out.ready)
        async for _, _, x_valid, x_ready, written, out_valid, out_ready in ctx.tick().sample(*signals):
            cycle += 1
            if x_valid and x_ready:
                entered.append(cycle)
            held += written - (out_valid and out_ready)
            if held > depth:
                faults.append(f"cycle {cycle}: {held} results for a queue of {depth}")

    async def weights(ctx):
        flat = q.reshape(-1)  # column-major: q[c, r] is weight c * rows + r
        await put(ctx, array.w, {"data": [int(v) for v in flat],
                                 "rows": (1 << cfg.rows) - 1, "cols": (1 << cfg.cols) - 1})

    async def activations(ctx):
        for i in range(vectors):
            await put(ctx, credit.x_in, {"data": [int(v) for v in x[i]], "last": int(i == vectors - 1)},
                      rng=rng, pause=pause)

    async def results(ctx):
        want, got = int_gemm(x, q), 0
        while got < vectors:
            ready = int(rng.random() >= pause)
            ctx.set(y_out.ready, 1 - ready)
            before = ctx.get(credit.x_in.ready)
            ctx.set(y_out.ready, ready)
            if ctx.get(credit.x_in.ready) != before:
                faults.append("x_in.ready followed y_out.ready")
            if ready and ctx.get(y_out.valid):
                payload = ctx.get(y_out.payload)
                assert [int(v) for v in payload.data] == want[got].tolist(), f"vector {got}"
                assert payload.last == (got == vectors - 1)
                got += 1
            await ctx.tick()

    simulate(m, results, background=[weights, activations, monitor], name=f"credit-{kind.value}")
    return entered, faults


@pytest.mark.parametrize("kind", [ArrayKind.FINEQ, ArrayKind.MAC8X8], ids=lambda k: k.value)
@pytest.mark.parametrize("seed", range(3))
def test_exact_and_in_order_under_pauses_and_stalls(kind, seed):
    entered, faults = run(kind, 60, pause=0.5, seed=seed)
    assert len(entered) == 60
    assert faults == []


def test_a_one_cycle_beat_runs_at_one_vector_a_cycle():
    entered, faults = run(ArrayKind.MAC8X8, 60)
    assert faults == []
    assert set(np.diff(entered).tolist()) == {1}


def test_a_queue_shorter_than_the_round_trip_starves_the_array():
    """Why DEPTH is what it is: one entry fewer than the round trip of a result leaves gaps."""
    entered, faults = run(ArrayKind.MAC8X8, 60, depth=DEPTH - 1)
    assert faults == []
    assert max(np.diff(entered).tolist()) > 1


@pytest.mark.parametrize("depth", [1, "8"])
def test_bad_depth(depth):
    with pytest.raises(ValueError, match="depth must be an integer >= 2"):
        CreditBuffer(8, 8, depth)
