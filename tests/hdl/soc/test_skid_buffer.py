# amaranth: UnusedElaboratable=no
"""hdl.soc.skid_buffer.SkidBuffer in the Amaranth simulator, behind a producer that advances under
the array's enable, against the same producer on a plain wire: the consumer sees the same beats in
order, each in the same cycle when the producer emits every cycle and never later when it emits
sparsely; and ``i.ready`` does not follow ``o.ready`` within a cycle."""

import random

import pytest
from amaranth.hdl import Array, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Out
from amaranth.sim import Simulator

from hdl.soc.skid_buffer import SkidBuffer


class Producer(wiring.Component):
    """Like the PE array's output: a state counter that advances under ``en = ~(valid & ~ready)``,
    and a registered beat (the state) whenever a fixed random pattern says so."""

    y: Out(stream.Signature(8))

    def __init__(self, pattern):
        self.pattern = pattern
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        state = Signal(range(len(self.pattern)))
        en = Signal()
        emits = Array(Const(int(p), 1) for p in self.pattern)
        m.d.comb += en.eq(~(self.y.valid & ~self.y.ready))
        with m.If(self.y.ready):
            m.d.sync += self.y.valid.eq(0)
        with m.If(en):
            m.d.sync += state.eq(state + 1)
            with m.If(emits[state]):
                m.d.sync += [self.y.valid.eq(1), self.y.payload.eq(state)]
        return m


def run(pattern, readies, skid):
    """(cycle, beat) of every beat the consumer takes, and whether i.ready ever followed o.ready."""
    m = Module()
    m.submodules.producer = producer = Producer(pattern)
    out = producer.y
    if skid:
        m.submodules.skid = buffer = SkidBuffer(8)
        wiring.connect(m, producer.y, buffer.i)
        out = buffer.o
    o_ready = Signal()
    m.d.comb += out.ready.eq(o_ready)
    taken, followed = [], []

    async def consumer(ctx):
        for cycle, ready in enumerate(readies):
            if skid:
                ctx.set(o_ready, 0)
                before = ctx.get(buffer.i.ready)
                ctx.set(o_ready, 1)
                followed.append(ctx.get(buffer.i.ready) != before)
            ctx.set(o_ready, ready)
            if ready and ctx.get(out.valid):
                taken.append((cycle, ctx.get(out.payload)))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(consumer)
    sim.run()
    return taken, any(followed)


@pytest.mark.parametrize("seed", range(4))
def test_a_producer_that_emits_every_cycle_sees_a_wire(seed):
    rng = random.Random(seed)
    readies = [int(rng.random() >= [0.3, 0.5, 0.0, 0.9][seed]) for _ in range(400)]
    wire, _ = run([True] * 400, readies, skid=False)
    buffered, followed = run([True] * 400, readies, skid=True)
    assert len(wire) > 20
    assert buffered == wire
    assert not followed, "i.ready changed with o.ready in the same cycle"


@pytest.mark.parametrize("seed", range(4))
def test_a_sparse_producer_runs_ahead_during_stalls_and_no_beat_comes_later(seed):
    rng = random.Random(seed)
    density, stalls = [(0.7, 0.5), (0.3, 0.2), (0.5, 0.6), (0.25, 0.7)][seed]
    pattern = [rng.random() < density for _ in range(400)]
    readies = [int(rng.random() >= stalls) for _ in range(400)]
    wire, _ = run(pattern, readies, skid=False)
    buffered, followed = run(pattern, readies, skid=True)
    assert len(wire) > 20
    assert [b for _, b in buffered[:len(wire)]] == [b for _, b in wire]  # the same beats in order
    assert all(cb <= cw for (cb, _), (cw, _) in zip(buffered, wire, strict=False))
    assert any(cb < cw for (cb, _), (cw, _) in zip(buffered, wire, strict=False))  # the spare register helped
    assert not followed, "i.ready changed with o.ready in the same cycle"


def test_a_long_stall_fills_the_spare_register_and_loses_nothing():
    pattern = [True] * 50
    readies = [1] * 5 + [0] * 20 + [1] * 40
    buffered, _ = run(pattern, readies, skid=True)
    beats = [b for _, b in buffered]
    assert beats == list(range(len(beats)))  # in order, none lost or repeated
    assert [c for c, _ in buffered][4] == 25  # the beat held through the stall comes out first
