# amaranth: UnusedElaboratable=no
"""hdl.soc.register_slice.RegisterSlice in the Amaranth simulator, between a testbench producer
(beats 0, 1, 2, ... offered when a random pattern says so) and a consumer with random stalls:
every beat arrives once and in order, one cycle after a wire would deliver it while the consumer
never stalls, at one beat per cycle; and none of ``i.ready``, ``o.valid``, ``o.payload`` follows
the other side within a cycle."""

import random

import pytest
from amaranth.sim import Simulator

from hdl.soc.register_slice import RegisterSlice


def run(offers, readies):
    """(cycle, beat) of every beat the consumer takes, and whether an output followed an input
    of the other side within a cycle."""
    dut = RegisterSlice(8)
    taken, followed = [], []

    async def bench(ctx):
        beat = 0
        for cycle, (offer, ready) in enumerate(zip(offers, readies, strict=True)):
            outputs = []
            for i_valid, o_ready in ((0, 0), (1, 1)):  # the outputs must not move with the inputs
                ctx.set(dut.i.valid, i_valid)
                ctx.set(dut.i.payload, (beat ^ 0xFF * i_valid) % 256)
                ctx.set(dut.o.ready, o_ready)
                outputs.append((ctx.get(dut.i.ready), ctx.get(dut.o.valid), ctx.get(dut.o.payload)))
            followed.append(outputs[0] != outputs[1])
            ctx.set(dut.i.valid, offer)
            ctx.set(dut.i.payload, beat % 256)
            ctx.set(dut.o.ready, ready)
            if ready and ctx.get(dut.o.valid):
                taken.append((cycle, ctx.get(dut.o.payload)))
            if offer and ctx.get(dut.i.ready):
                beat += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return taken, any(followed)


def test_a_beat_every_cycle_comes_out_one_cycle_later_at_full_rate():
    taken, followed = run([1] * 100, [1] * 100)
    assert taken == [(c + 1, c) for c in range(99)]
    assert not followed


@pytest.mark.parametrize("seed", range(6))
def test_every_beat_arrives_once_in_order_under_random_offers_and_stalls(seed):
    rng = random.Random(seed)
    density, stalls = [(1.0, 0.3), (1.0, 0.7), (0.5, 0.5), (0.3, 0.1), (0.8, 0.0), (0.6, 0.9)][seed]
    offers = [int(rng.random() < density) for _ in range(500)]
    readies = [int(rng.random() >= stalls) for _ in range(500)]
    taken, followed = run(offers, readies)
    assert len(taken) > 30
    assert [b for _, b in taken] == [n % 256 for n in range(len(taken))]  # 8-bit beats
    assert len({c for c, _ in taken}) == len(taken)
    assert not followed, "an output followed the other side's input within a cycle"


@pytest.mark.parametrize("seed", range(3))
def test_a_producer_that_always_offers_loses_at_most_the_first_cycle(seed):
    rng = random.Random(seed)
    readies = [int(rng.random() >= 0.4) for _ in range(300)]
    taken, _ = run([1] * 300, readies)
    assert len(taken) >= sum(readies) - 1  # a wire would take a beat in every ready cycle


def test_a_long_stall_holds_two_beats_and_loses_nothing():
    readies = [1] * 5 + [0] * 20 + [1] * 40
    taken, _ = run([1] * 65, readies)
    assert [b for _, b in taken] == list(range(len(taken)))
    assert [c for c, _ in taken][4] == 25  # the beat held in the output register comes first
