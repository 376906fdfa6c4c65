"""Stream helpers for Amaranth-simulator testbenches (tests/hdl/).

Async testbenches in the style of Amaranth's documentation and LUNA: ``put`` and ``get`` move one
payload through a ``lib.stream`` interface, with optional random idle cycles before it; waveforms
are written only when FINEQ_VCD names a folder.
"""

from __future__ import annotations

import os
import random
from contextlib import contextmanager
from pathlib import Path

from amaranth.sim import Simulator

__all__ = ["put", "get", "simulate"]


async def put(ctx, stream, payload, *, rng: random.Random | None = None, pause: float = 0.0):
    """Offer ``payload`` on ``stream`` (after random idle cycles) until it is taken."""
    if rng is not None and rng.random() < pause:
        await ctx.tick().repeat(rng.randint(1, 3))
    ctx.set(stream.payload, payload)
    ctx.set(stream.valid, 1)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def get(ctx, stream, *, rng: random.Random | None = None, pause: float = 0.0):
    """Take one payload from ``stream`` (after random cycles of back-pressure)."""
    if rng is not None and rng.random() < pause:
        ctx.set(stream.ready, 0)
        await ctx.tick().repeat(rng.randint(1, 3))
    ctx.set(stream.ready, 1)
    payload, = await ctx.tick().sample(stream.payload).until(stream.valid)
    ctx.set(stream.ready, 0)
    return payload


def simulate(dut, *testbenches, background=(), name: str = "sim", deadline=None):
    """Run testbenches on ``dut`` with a 1 MHz clock; ``background`` ones may loop forever."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for tb in background:
        sim.add_testbench(tb, background=True)
    for tb in testbenches:
        sim.add_testbench(tb)
    folder = os.environ.get("FINEQ_VCD")
    with _maybe_vcd(sim, folder, name):
        if deadline is None:
            sim.run()
        else:
            sim.run_until(deadline)


@contextmanager
def _maybe_vcd(sim, folder, name):
    if not folder:
        yield
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    with sim.write_vcd(str(Path(folder) / f"{name}.vcd")):
        yield
