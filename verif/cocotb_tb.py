"""Small cocotb helpers for Amaranth streams flattened to ``<name>__payload/valid/ready`` ports.

Timing discipline (the same on Icarus and Verilator): every agent drives its inputs just after a
rising edge and samples at the following falling edge, when everything, including ready signals
that depend combinationally on our inputs, has settled. A transfer happens at the next rising edge
exactly when ``valid & ready`` was seen at that falling edge.

Idle cycles and back-pressure come from pause generators in the style of cocotbext-axi
(``set_pause_generator``): an iterator of booleans, one per cycle, True meaning "pause".
"""

from __future__ import annotations

import itertools
import os
import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

__all__ = ["random_pause", "no_pause", "pack", "unpack", "StreamSource", "StreamSink",
           "start_clock", "reset", "Clocked", "tb_rng"]

CLOCK_NS = 10


def tb_rng(salt: str = "") -> random.Random:
    """A seeded generator: FINEQ_TB_SEED if given, else cocotb's per-run seed (printed in the
    log; rerun with COCOTB_RANDOM_SEED=<seed> to repeat a failing run)."""
    seed = os.environ.get("FINEQ_TB_SEED") or str(cocotb.RANDOM_SEED)
    return random.Random(f"{seed}/{salt}")


def random_pause(rng: random.Random, probability: float):
    """Pause each cycle with the given probability, in bursts of 1-3 cycles."""
    while True:
        if rng.random() < probability:
            yield from [True] * rng.randint(1, 3)
        else:
            yield False


def no_pause():
    return itertools.repeat(False)


def pack(values, width: int) -> int:
    """Lane values (signed or not) -> one integer, lane 0 in the least significant bits."""
    mask = (1 << width) - 1
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * width)
    return word


def unpack(word: int, width: int, count: int, signed: bool = True) -> list[int]:
    mask = (1 << width) - 1
    out = []
    for i in range(count):
        v = (word >> (i * width)) & mask
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out


class StreamSource:
    """Drives ``<name>__payload`` and ``<name>__valid`` from a queue of integer payloads."""

    def __init__(self, dut, name: str, pause=None):
        self.payload = getattr(dut, f"{name}__payload")
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.queue: deque = deque()
        self.pause = pause if pause is not None else no_pause()
        self.current = None
        self.sent = 0
        self.transfers: list[int] = []  # cycle number of every transfer
        self.valid.value = 0
        self.valid_now = 0

    def send(self, payload: int):
        self.queue.append(payload)

    @property
    def idle(self) -> bool:
        return self.current is None and not self.queue

    def clear(self):
        self.queue.clear()
        self.current = None
        self.valid.value = 0
        self.valid_now = 0

    @property
    def last_transfer(self):
        return self.transfers[-1] if self.transfers else None

    def drive(self, cycle: int):
        # Once valid is up it stays up until the transfer (stream rule), so pauses only apply
        # between payloads.
        pause = next(self.pause)
        if self.current is None and self.queue and not pause:
            self.current = self.queue.popleft()
            self.payload.value = self.current
        valid = int(self.current is not None)
        if valid != self.valid_now:  # simulator writes are the expensive part of a cycle
            self.valid.value = valid
            self.valid_now = valid

    def sample(self, cycle: int):
        if self.current is not None and int(self.ready.value):
            self.current = None
            self.sent += 1
            self.transfers.append(cycle)


class StreamSink:
    """Drives ``<name>__ready`` from a pause generator and collects transferred payloads."""

    def __init__(self, dut, name: str, pause=None, on_beat=None):
        self.payload = getattr(dut, f"{name}__payload")
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.pause = pause if pause is not None else no_pause()
        self.on_beat = on_beat
        self.beats: list = []
        self.ready_now = 0
        self.transfers: list[int] = []
        self.ready.value = 0

    @property
    def last_transfer(self):
        return self.transfers[-1] if self.transfers else None

    def drive(self, cycle: int):
        ready = int(not next(self.pause))
        if ready != self.ready_now:
            self.ready.value = ready
            self.ready_now = ready

    def sample(self, cycle: int):
        if self.ready_now and int(self.valid.value):
            word = self.payload.value.to_unsigned()
            self.beats.append(word)
            self.transfers.append(cycle)
            if self.on_beat is not None:
                self.on_beat(word, cycle)


def start_clock(dut):
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())


async def reset(dut, cycles: int = 2):
    """Synchronous, active-high reset (Amaranth's `rst`) for ``cycles`` rising edges."""
    await RisingEdge(dut.clk)
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


class Clocked:
    """Runs a set of agents in lockstep, one drive/sample pair per clock cycle."""

    def __init__(self, dut, agents):
        self.dut = dut
        self.agents = list(agents)
        self.cycle = 0

    async def run(self, until, limit: int, what: str = "the test"):
        """Run until ``until()`` is true after a cycle; fail after ``limit`` cycles."""
        start = self.cycle
        while not until():
            if self.cycle - start >= limit:
                raise AssertionError(f"{what} did not finish within {limit} cycles (deadlock?)")
            await RisingEdge(self.dut.clk)
            for a in self.agents:
                a.drive(self.cycle)
            await FallingEdge(self.dut.clk)
            for a in self.agents:
                a.sample(self.cycle)
            self.cycle += 1
