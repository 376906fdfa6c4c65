# amaranth: UnusedElaboratable=no
"""hdl.soc.axi_dma.AxiDma (v2) in the Amaranth simulator, against a Python AXI4 memory model
that checks the protocol on every cycle."""

import random
from collections import deque
from dataclasses import dataclass, field

import pytest
from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.lib import wiring

from hdl.soc.axi import RESP_OKAY, RESP_SLVERR
from hdl.soc.axi_dma import AxiDma
from hdl.soc.gearbox import RowGearbox
from hdl.soc.packer import OutputPacker
from verif.amaranth_tb import simulate

REGION = 16 * 1024  # each read client reads its own region; the writer writes the last one


@dataclass
class Burst:
    addr: int
    beats: int
    ready_at: int  # first cycle its data may appear
    done: int = 0
    error: bool = False


@dataclass
class Stats:
    r_cycles: list = field(default_factory=list)   # cycles with an R beat
    ar: list = field(default_factory=list)         # (first cycle of ARVALID, addr, beats)
    aw: list = field(default_factory=list)         # (cycle of the AW handshake, addr, beats)
    r_errors: list = field(default_factory=list)   # cycles of R beats with an error
    max_reads: int = 0                             # most read bursts in flight at once


class AxiMemory:
    """AXI4 subordinate: random ready/valid pauses, ``latency`` cycles from an address to its
    first beat or response, SLVERR on beats in ``error`` (byte addresses; such beats are not
    written). Checks the manager side of the protocol at every clock edge."""

    def __init__(self, dma, rst, rng, *, latency=0, pause=0.0, error=range(0), size=4 * REGION):
        self.dma, self.rst, self.rng = dma, rst, rng
        self.nb = dma.beat_bytes
        self.latency, self.error = latency, error
        self.pauses = dict.fromkeys(("ar", "r", "aw", "w", "b"), pause)  # per channel
        self.mem = bytearray(rng.randbytes(size))
        self.stats = Stats()
        self.pending = [0] * dma.read_clients  # beats requested, not yet taken, per client
        self._clear()

    def _clear(self):
        self.reads, self.writes, self.resps = deque(), deque(), deque()
        self.r_out = self.b_out = None
        self.ar_wait = self.aw_wait = self.w_wait = None
        self.pending = [0] * len(self.pending)

    def word(self, addr):
        return int.from_bytes(self.mem[addr:addr + self.nb], "little")

    def bad(self, addr):
        return addr in self.error

    def _signals(self):
        b, d = self.dma.bus, self.dma
        names = ["arvalid", "arready", "araddr", "arlen", "arsize", "arburst", "arid",
                 "rvalid", "rready", "rresp", "awvalid", "awready", "awaddr", "awlen", "awsize",
                 "awburst", "awid", "wvalid", "wready", "wdata", "wstrb", "wlast", "bvalid",
                 "bready"]
        sigs = {n: getattr(b, n) for n in names}
        sigs.update(rst=self.rst, stall=d.stall, wr_busy=d.wr_busy)
        for c, port in enumerate(d.rd):
            sigs[f"busy{c}"], sigs[f"space{c}"] = port.busy, port.space
        return sigs

    def _drive(self, ctx, cycle):
        bus, rng = self.dma.bus, self.rng

        def go(channel):
            return rng.random() >= self.pauses[channel]
        ctx.set(bus.arready, go("ar"))
        ctx.set(bus.awready, go("aw"))
        ctx.set(bus.wready, go("w"))
        if self.r_out is None and self.reads and self.reads[0].ready_at <= cycle and go("r"):
            br = self.reads[0]
            addr = br.addr + br.done * self.nb
            data = rng.randrange(2 ** (8 * self.nb)) if self.bad(addr) else self.word(addr)
            self.r_out = (data, RESP_SLVERR if self.bad(addr) else RESP_OKAY,
                          br.done == br.beats - 1)
        if self.b_out is None and self.resps and self.resps[0][0] <= cycle and go("b"):
            self.b_out = self.resps[0][1]
        ctx.set(bus.rvalid, self.r_out is not None)
        if self.r_out is not None:
            ctx.set(bus.rdata, self.r_out[0])
            ctx.set(bus.rresp, self.r_out[1])
            ctx.set(bus.rlast, self.r_out[2])
        ctx.set(bus.bvalid, self.b_out is not None)
        ctx.set(bus.bresp, self.b_out or 0)

    def _check_address(self, kind, addr, length, size, burst, ident):
        nb = self.nb
        assert size == nb.bit_length() - 1, f"{kind}size {size} for {nb}-byte beats"
        assert burst == 1 and ident == 0, f"{kind}: burst {burst}, id {ident}"
        assert addr % nb == 0, f"{kind}addr {addr:#x} not aligned to {nb}"
        assert addr // 4096 == (addr + (length + 1) * nb - 1) // 4096, \
            f"{kind} burst {addr:#x} + {length + 1} beats crosses a 4 KiB line"

    def _held(self, name, wait, valid, payload):
        """VALID held until READY, payload stable meanwhile."""
        if wait is not None:
            assert valid, f"{name}VALID dropped before {name}READY"
            assert payload == wait, f"{name} payload changed while waiting: {wait} -> {payload}"

    def _address_channels(self, v, cycle):
        ar = (v["araddr"], v["arlen"], v["arsize"], v["arburst"], v["arid"])
        self._held("AR", self.ar_wait, v["arvalid"], ar)
        if v["arvalid"] and self.ar_wait is None:  # a new burst: counts against the credit
            self.pending[v["araddr"] // REGION] += v["arlen"] + 1
            self.stats.ar.append((cycle, v["araddr"], v["arlen"] + 1))
        self.ar_wait = ar if v["arvalid"] and not v["arready"] else None
        if v["arvalid"] and v["arready"]:
            self._check_address("ar", *ar)
            self.reads.append(Burst(v["araddr"], v["arlen"] + 1, cycle + 1 + self.latency))
            limit = self.dma.max_outstanding_reads
            assert len(self.reads) <= limit, f"{len(self.reads)} reads outstanding > {limit}"
            self.stats.max_reads = max(self.stats.max_reads, len(self.reads))
        aw = (v["awaddr"], v["awlen"], v["awsize"], v["awburst"], v["awid"])
        self._held("AW", self.aw_wait, v["awvalid"], aw)
        self.aw_wait = aw if v["awvalid"] and not v["awready"] else None
        if v["awvalid"] and v["awready"]:
            self._check_address("aw", *aw)
            assert not self.writes and not self.resps, "AW before the previous write response"
            self.writes.append(Burst(v["awaddr"], v["awlen"] + 1, 0))
            self.stats.aw.append((cycle, v["awaddr"], v["awlen"] + 1))

    def _data_channels(self, v, cycle):
        if v["rvalid"] and v["rready"]:
            br = self.reads[0]
            self.pending[br.addr // REGION] -= 1
            br.done += 1
            self.stats.r_cycles.append(cycle)
            if v["rresp"]:
                self.stats.r_errors.append(cycle)
            self.r_out = None
            if br.done == br.beats:
                self.reads.popleft()
        w = (v["wdata"], v["wstrb"], v["wlast"])
        self._held("W", self.w_wait, v["wvalid"], w)
        self.w_wait = w if v["wvalid"] and not v["wready"] else None
        if v["wvalid"] and v["wready"]:
            assert self.writes, "W beat without a write address"
            bw = self.writes[0]
            addr = bw.addr + bw.done * self.nb
            assert v["wlast"] == (bw.done == bw.beats - 1), f"WLAST wrong on beat {bw.done}"
            bw.error |= self.bad(addr)
            for j in range(self.nb):
                if v["wstrb"] >> j & 1 and not self.bad(addr):
                    self.mem[addr + j] = v["wdata"] >> 8 * j & 0xFF
            bw.done += 1
            if bw.done == bw.beats:
                self.writes.popleft()
                self.resps.append((cycle + 1 + self.latency,
                                   RESP_SLVERR if bw.error else RESP_OKAY))
        if v["bvalid"] and v["bready"]:
            self.resps.popleft()
            self.b_out = None

    def _check_counters(self, v):
        r_beat, w_beat = v["rvalid"] and v["rready"], v["wvalid"] and v["wready"]
        busy = v["wr_busy"] or any(v[f"busy{c}"] for c in range(len(self.pending)))
        assert v["stall"] == (busy and not r_beat and not w_beat), "stall"
        for c, beats in enumerate(self.pending):
            assert beats <= v[f"space{c}"] or not self.dma.credit[c], \
                f"client {c}: {beats} beats requested with space {v[f'space{c}']}"

    async def run(self, ctx):
        sigs = self._signals()
        cycle = 0
        while True:
            self._drive(ctx, cycle)
            values = await ctx.tick().sample(*sigs.values())
            v = dict(zip(sigs, (int(x) for x in values[2:]), strict=True))
            if v["rst"]:
                self._clear()
            else:
                # R and B before the address channels: a beat frees its burst this edge.
                self._data_channels(v, cycle)
                self._address_channels(v, cycle)
                self._check_counters(v)
            cycle += 1


class Bench:
    """The DMA under a reset we control, the memory model, and client testbenches."""

    def __init__(self, seed, *, latency=0, pause=0.0, error=range(0), **kwargs):
        self.rng = random.Random(seed)
        self.dma = AxiDma(**kwargs)
        self.rst = Signal()
        self.top = ResetInserter(self.rst)(self.dma)
        self.memory = AxiMemory(self.dma, self.rst, self.rng, latency=latency, pause=pause,
                                error=error)
        self.nb = self.dma.beat_bytes
        self.gates = {}  # a job that is a name waits until gates[name] is true

    def expected(self, addr, words):
        return [self.memory.word(addr + k * self.nb) for k in range(words)]

    def job(self, region, words):
        """A random transfer of ``words`` beats inside ``region``."""
        start = self.rng.randrange(0, REGION - words * self.nb + 1) // self.nb * self.nb
        return region * REGION + start, words

    async def reader(self, ctx, c, jobs, *, cap=2**24 - 1, drain=1.0, pause=0.0, hold=0,
                     results):
        """Client ``c``: runs ``jobs`` one after another; holds at most ``cap`` beats, drains
        one per cycle with probability ``drain``; random back-pressure ``pause``; reports no
        space in the first ``hold`` cycles of a job."""
        port, rng = self.dma.rd[c], self.rng
        occ = 0
        for job in jobs:
            if await self.gate(ctx, job):
                continue
            addr, words = job
            ctx.set(port.addr, addr)
            ctx.set(port.words, words)
            ctx.set(port.start, 1)
            got, first, cycle = [], True, 0
            while True:
                # A halted client stops taking beats.
                ready = occ < cap and rng.random() >= pause and not ctx.get(self.dma.halt)
                ctx.set(port.data.ready, ready)
                ctx.set(port.space, min(cap - occ, 2**24 - 1) if cycle >= hold else 0)
                cycle += 1
                *_, valid, data, busy, error = await ctx.tick().sample(
                    port.data.valid, port.data.payload, port.busy, port.error)
                ctx.set(port.start, 0)
                if valid and ready:
                    got.append(int(data))
                    occ += 1
                if occ and rng.random() < drain:
                    occ -= 1
                if not first and not busy:
                    break
                first = False
            results.append((addr, words, got, int(error)))
        ctx.set(port.data.ready, 0)

    async def writer(self, ctx, jobs, *, pause=0.0, results):
        """The write client: random data and strobes for each job, random pauses."""
        dma, rng = self.dma, self.rng
        for job in jobs:
            if await self.gate(ctx, job):
                continue
            addr, words = job
            beats = [(rng.randrange(2 ** (8 * self.nb)), rng.randrange(2 ** self.nb))
                     for _ in range(words)]
            ctx.set(dma.wr_addr, addr)
            ctx.set(dma.wr_words, words)
            ctx.set(dma.wr_start, 1)
            sent, first, valid = 0, True, False
            while True:
                # A stream producer holds valid until ready; a halted one offers no new beat.
                valid = sent < words and (valid or (rng.random() >= pause
                                                    and not ctx.get(dma.halt)))
                ctx.set(dma.wr_data.valid, valid)
                if sent < words:
                    ctx.set(dma.wr_data.payload, {"data": beats[sent][0], "strb": beats[sent][1]})
                *_, ready, busy, error = await ctx.tick().sample(dma.wr_data.ready, dma.wr_busy,
                                                                 dma.wr_error)
                ctx.set(dma.wr_start, 0)
                if valid and ready:
                    sent, valid = sent + 1, False
                if not first and not busy:
                    break
                first = False
            ctx.set(dma.wr_data.valid, 0)
            results.append((addr, beats, sent, int(error)))

    async def gate(self, ctx, job):
        """Waits for the gate if ``job`` names one."""
        if not isinstance(job, str):
            return False
        while not self.gates.get(job):
            await ctx.tick()
        return True

    def read_client(self, c, jobs, **kwargs):
        async def bench(ctx):
            await self.reader(ctx, c, jobs, **kwargs)
        return bench

    def write_client(self, jobs, **kwargs):
        async def bench(ctx):
            await self.writer(ctx, jobs, **kwargs)
        return bench

    def run(self, *benches, cycles=20000):
        async def watchdog(ctx):
            for _ in range(cycles):
                await ctx.tick()
            raise AssertionError(f"not done after {cycles} cycles")
        simulate(self.top, *benches, background=[self.memory.run, watchdog])


def apply_writes(image, results, nb):
    """The memory image after the writes in ``results`` (from Bench.writer)."""
    for addr, beats, sent, _ in results:
        for k, (data, strb) in enumerate(beats[:sent]):
            for j in range(nb):
                if strb >> j & 1:
                    image[addr + k * nb + j] = data >> 8 * j & 0xFF
    return image


# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_three_clients_and_a_writer_with_pauses_and_credit(data_width):
    """Client 0 drains at once, client 1 holds 8 beats and drains slowly, client 2 holds 48;
    random lengths crossing 4 KiB lines; pauses on every channel; memory latency 3."""
    b = Bench(data_width, latency=3, pause=0.3, data_width=data_width, max_burst=[256, 8, 32])
    nb = b.nb
    lengths = [[1, 300, 70], [37, 5], [129, 2]]
    jobs = [[b.job(c, n) for n in lengths[c]] for c in range(3)]
    for c in range(3):  # and one across a 4 KiB line
        jobs[c].insert(1, (c * REGION + 8192 - b.rng.randint(1, 40) * nb, 60))
    wjobs = [b.job(3, n) for n in (1, 150, 20)]
    before = bytearray(b.memory.mem)
    results = [[] for _ in range(3)]
    wres = []
    settings = [dict(pause=0.2), dict(cap=8, drain=0.3), dict(cap=48, drain=0.6, pause=0.3)]
    benches = [b.read_client(c, jobs[c], results=results[c], **settings[c])
               for c in range(3)]
    benches.append(b.write_client(wjobs, pause=0.3, results=wres))
    b.run(*benches)
    for c in range(3):
        for addr, words, got, error in results[c]:
            assert not error
            assert got == [int.from_bytes(before[addr + k * nb:addr + (k + 1) * nb], "little")
                           for k in range(words)], f"client {c} job {addr:#x}+{words}"
    assert all(sent == len(beats) and not err for _, beats, sent, err in wres)
    assert b.memory.mem == apply_writes(bytearray(before), wres, nb)
    assert b.memory.stats.max_reads == 2, "never two reads in flight"


@pytest.mark.parametrize("data_width", [32, 128])
def test_error_window_fails_one_client_only(data_width):
    """Client 1 reads across a SLVERR window: it gets the beats before the window, ``error``,
    and ``busy`` falls; clients 0 and 2 are exact. Its next job (outside) is exact and clears
    ``error``. A write into the window stops the writer after that burst with ``wr_error``."""
    nb = data_width // 8
    window = range(REGION + 40 * nb, REGION + 48 * nb, nb)  # beats 32..39 of client 1's job
    wwin = range(3 * REGION + 4096 + 20 * nb, 3 * REGION + 4096 + 21 * nb, nb)  # write beat 20
    b = Bench(7, latency=2, pause=0.25, error=set(window) | set(wwin), data_width=data_width,
              max_burst=[16, 16, 16], max_outstanding_reads=3)
    jobs = [[b.job(0, 120)], [(REGION + 8 * nb, 100), (REGION + 8192, 30)], [b.job(2, 90)]]
    wjobs = [(3 * REGION + 4096, 64)]
    results = [[] for _ in range(3)]
    wres = []
    benches = [b.read_client(c, jobs[c], results=results[c], pause=0.2)
               for c in range(3)]
    benches.append(b.write_client(wjobs, pause=0.2, results=wres))
    b.run(*benches)
    (_, _, got0, e0), = results[0]
    (_, _, got2, e2), = results[2]
    assert not e0 and got0 == b.expected(*jobs[0][0])
    assert not e2 and got2 == b.expected(*jobs[2][0])
    (addr, words, got, error), (addr2, words2, got2b, error2) = results[1]
    assert error, "client 1 did not see its error"
    assert got == b.expected(addr, 32), "client 1: beats before the window, nothing after"
    assert not error2 and got2b == b.expected(addr2, words2)
    first_error = b.memory.stats.r_errors[0]
    job1 = [t for t, a, _ in b.memory.stats.ar if addr <= a < addr + words * nb]
    assert len(job1) < 7 and max(job1) <= first_error, "a burst issued after the error"
    (_, beats, sent, werr), = wres
    assert werr and sent == 32, "the writer finishes the failing burst (beats 16..31), then stops"
    assert len(b.memory.stats.aw) == 2


@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_back_to_back_bursts_leave_no_idle_r_cycle(data_width):
    """Zero latency, no pauses: R carries a beat in every cycle from the first beat to the
    last, across bursts and across clients."""
    b = Bench(1, data_width=data_width, max_burst=16)
    nb = b.nb
    jobs = [[(c * REGION + 4096 - 32 * nb, 64)] for c in range(3)]  # across a 4 KiB line too
    results = [[] for _ in range(3)]
    b.run(*[b.read_client(c, jobs[c], results=results[c]) for c in range(3)])
    for c in range(3):
        assert results[c][0][2] == b.expected(*jobs[c][0])
    r = b.memory.stats.r_cycles
    assert len(r) == 3 * 64
    assert r == list(range(r[0], r[0] + len(r))), \
        f"idle R cycles: {sorted(set(range(r[0], r[-1])) - set(r))}"
    assert r[0] == 4, "first beat 4 cycles after start (latch, length, AR, data)"


@pytest.mark.parametrize("outstanding, burst, latency, idle", [
    (2, 2, 0, False), (3, 4, 6, False), (3, 4, 7, True), (2, 16, 14, False), (2, 16, 15, True),
])
def test_read_bursts_back_to_back_up_to_the_documented_latency(outstanding, burst, latency, idle):
    """No idle R cycle while latency <= (max_outstanding_reads - 1) * burst - 2 (docstring)."""
    b = Bench(1, latency=latency, data_width=32, max_burst=burst,
              max_outstanding_reads=outstanding)
    jobs = [[(c * REGION, 64)] for c in range(3)]
    results = [[] for _ in range(3)]
    b.run(*[b.read_client(c, jobs[c], results=results[c]) for c in range(3)])
    r = b.memory.stats.r_cycles
    assert (r[-1] - r[0] + 1 > len(r)) == idle


def test_write_bursts_one_at_a_time():
    """Zero latency, no pauses: W idle exactly 3 cycles between bursts; awvalid 2 cycles after
    wr_start."""
    b = Bench(4, data_width=128, max_burst=16)
    wres = []
    b.run(b.write_client([(3 * REGION, 64)], results=wres))
    aw = b.memory.stats.aw
    assert [n for _, _, n in aw] == [16] * 4
    assert aw[0][0] == 2
    assert [t1 - t0 for (t0, _, _), (t1, _, _) in zip(aw, aw[1:], strict=False)] == [16 + 3] * 3


def test_fixed_priority_with_one_burst_in_flight():
    """max_outstanding_reads = 1: all of client 0's bursts, then client 1's, then client 2's."""
    b = Bench(3, data_width=32, max_burst=8, max_outstanding_reads=1)
    jobs = [[(0, 32)], [(REGION, 16)], [(2 * REGION, 24)]]
    results = [[] for _ in range(3)]
    b.run(*[b.read_client(c, jobs[c], results=results[c]) for c in range(3)])
    owners = [addr // REGION for _, addr, _ in b.memory.stats.ar]
    assert owners == [0] * 4 + [1] * 2 + [2] * 3, f"AR order {owners}"
    for c in range(3):
        assert results[c][0][2] == b.expected(*jobs[c][0])


def _client_1_without_space(credit=None):
    """Three jobs; client 1 reports no space for its first 150 cycles. Returns the bench and
    the owner of every AR in issue order, after checking every client's data."""
    b = Bench(2, data_width=64, max_burst=8, max_outstanding_reads=1, credit=credit)
    jobs = [[(0, 32)], [(REGION, 16)], [(2 * REGION, 24)]]
    results = [[] for _ in range(3)]
    b.run(b.read_client(0, jobs[0], results=results[0]),
          b.read_client(1, jobs[1], hold=150, results=results[1]),
          b.read_client(2, jobs[2], results=results[2]))
    for c in range(3):
        assert results[c][0][2] == b.expected(*jobs[c][0])
    return b, [addr // REGION for _, addr, _ in b.memory.stats.ar]


def test_a_client_without_credit_waits_and_others_pass():
    """Client 1 reports no space for 150 cycles: client 2 (lower priority) goes first."""
    b, owners = _client_1_without_space()
    assert owners == [0] * 4 + [2] * 3 + [1] * 2, f"AR order {owners}"
    assert b.memory.stats.ar[-2][0] >= 150


def test_a_client_built_without_credit_ignores_its_space():
    """The same jobs, client 1 built with ``credit`` off (as the top's activation client): its
    zero space for 150 cycles holds nothing back, so the bursts go out in priority order."""
    b, owners = _client_1_without_space(credit=(True, False, True))
    assert owners == [0] * 4 + [1] * 2 + [2] * 3, f"AR order {owners}"
    assert b.memory.stats.ar[5][0] < 150


def test_credit_needs_one_flag_per_client():
    with pytest.raises(ValueError, match="credit has 2 entries"):
        AxiDma(read_clients=3, credit=(True, False))


@pytest.mark.parametrize("data_width", [32, 64])
def test_reset_in_the_middle_then_exact_transfers(data_width):
    b = Bench(11, latency=1, pause=0.3, data_width=data_width, max_burst=[32, 8, 64])
    dma = b.dma

    async def chaos(ctx):
        """Start everything, run a while with random ready, reset, release the clients."""
        for c, port in enumerate(dma.rd):
            ctx.set(port.addr, c * REGION)
            ctx.set(port.words, 200)
            ctx.set(port.space, 100)
            ctx.set(port.start, 1)
        ctx.set(dma.wr_addr, 3 * REGION)
        ctx.set(dma.wr_words, 200)
        ctx.set(dma.wr_start, 1)
        ctx.set(dma.wr_data.valid, 1)
        await ctx.tick()
        for port in dma.rd:
            ctx.set(port.start, 0)
        ctx.set(dma.wr_start, 0)
        for _ in range(150):
            for port in dma.rd:
                ctx.set(port.data.ready, b.rng.random() < 0.7)
            await ctx.tick()
        assert any(ctx.get(port.busy) for port in dma.rd) and ctx.get(dma.wr_busy)
        ctx.set(b.rst, 1)
        await ctx.tick().repeat(2)
        ctx.set(b.rst, 0)
        ctx.set(dma.wr_data.valid, 0)
        assert not any(ctx.get(port.busy) for port in dma.rd) and not ctx.get(dma.wr_busy)
        b.gates["reset"] = True

    jobs = [["reset", b.job(c, n)] for c, n in enumerate((50, 20, 77))]
    wjobs = ["reset", b.job(3, 40)]
    results = [[] for _ in range(3)]
    wres = []
    before = bytearray(b.memory.mem)
    b.run(chaos, *[b.read_client(c, jobs[c], results=results[c], pause=0.2)
                   for c in range(3)],
          b.write_client(wjobs, pause=0.2, results=wres))
    for c in range(3):
        assert results[c][0][2:] == (b.expected(*jobs[c][1]), 0)
    (addr, beats, sent, err), = wres
    assert sent == len(beats) and not err
    after = apply_writes(bytearray(before), wres, b.nb)
    assert b.memory.mem[addr:addr + 40 * b.nb] == after[addr:addr + 40 * b.nb]


@pytest.mark.parametrize("data_width, halt_at", [(32, 60), (64, 150), (128, 101)])
def test_halt_abandons_every_transfer_and_nothing_resumes(data_width, halt_at):
    """halt: no AR or AW after it, bursts in flight finish (reads dropped, writes without
    strobes), every busy falls; after halt falls nothing resumes and new jobs are exact."""
    b = Bench(halt_at, latency=2, pause=0.3, data_width=data_width, max_burst=[16, 8, 32],
              max_outstanding_reads=3)
    dma, stats = b.dma, b.memory.stats
    jobs = [[b.job(c, n), "again", b.job(c, 9)] for c, n in enumerate((200, 150, 250))]
    wjobs = [b.job(3, 200), "again", b.job(3, 33)]
    before = bytearray(b.memory.mem)

    async def control(ctx):
        await ctx.tick().repeat(halt_at)
        ctx.set(dma.halt, 1)
        for _ in range(300):
            busy = [ctx.get(p.busy) for p in dma.rd] + [ctx.get(dma.wr_busy)]
            if not any(busy):
                break
            await ctx.tick()
        assert not any(busy), "halt did not end the transfers"
        assert all(t <= halt_at for t, _, _ in stats.ar), "AR after halt"
        assert not b.memory.reads and not b.memory.writes and not b.memory.resps
        ctx.set(dma.halt, 0)
        n_ar, n_aw = len(stats.ar), len(stats.aw)
        await ctx.tick().repeat(30)
        assert (len(stats.ar), len(stats.aw)) == (n_ar, n_aw), "a transfer resumed"
        b.gates["again"] = True

    results = [[] for _ in range(3)]
    wres = []
    b.run(control, *[b.read_client(c, jobs[c], results=results[c], pause=0.2)
                     for c in range(3)], b.write_client(wjobs, pause=0.2, results=wres))
    for c in range(3):
        (addr, words, got, error), (addr2, words2, got2, error2) = results[c]
        assert not error and len(got) < words and got == b.expected(addr, len(got))
        assert not error2 and got2 == b.expected(addr2, words2)
    (addr, beats, sent, err), (_, beats2, sent2, err2) = wres
    assert sent < len(beats) and sent2 == len(beats2) and not err and not err2
    assert b.memory.mem == apply_writes(bytearray(before), wres, b.nb), \
        "fillers after halt changed memory"


def test_halt_in_the_cycle_credit_arrives_and_while_a_w_beat_waits():
    """Credit and halt in the same cycle: no AR. A W beat offered but not yet taken when halt
    rises stays on W unchanged until taken; the burst's other beats go out without strobes."""
    b = Bench(9, data_width=32, max_burst=8)
    dma, port, mem = b.dma, b.dma.rd[0], b.memory
    mem.pauses["w"] = 1.0
    before = bytearray(mem.mem)

    async def bench(ctx):
        ctx.set(port.addr, 0)
        ctx.set(port.words, 32)
        ctx.set(port.start, 1)
        ctx.set(dma.wr_addr, 3 * REGION)
        ctx.set(dma.wr_words, 16)
        ctx.set(dma.wr_start, 1)
        ctx.set(dma.wr_data.payload, {"data": 0x11223344, "strb": 0b1011})
        ctx.set(dma.wr_data.valid, 1)
        await ctx.tick()
        ctx.set(port.start, 0)
        ctx.set(dma.wr_start, 0)
        await ctx.tick().repeat(9)
        assert ctx.get(dma.bus.wvalid) and not ctx.get(dma.bus.wready)
        ctx.set(port.space, 2**24 - 1)
        ctx.set(dma.halt, 1)
        await ctx.tick().repeat(3)
        mem.pauses["w"] = 0.0
        *_, ready = await ctx.tick().sample(dma.wr_data.ready)
        while not ready:
            *_, ready = await ctx.tick().sample(dma.wr_data.ready)
        ctx.set(dma.wr_data.valid, 0)  # the halted producer offers nothing more
        for _ in range(30):
            *_, busy, wbusy = await ctx.tick().sample(port.busy, dma.wr_busy)
            if not busy and not wbusy:
                break
        assert not busy and not wbusy

    b.run(bench)
    assert b.memory.stats.ar == []
    assert [n for _, _, n in b.memory.stats.aw] == [8]
    want = bytearray(before)
    want[3 * REGION:3 * REGION + 4] = bytes([0x44, 0x33, before[3 * REGION + 2], 0x11])
    assert b.memory.mem == want


def test_zero_words_is_nothing_and_start_while_busy_is_ignored():
    b = Bench(5, data_width=32, max_burst=16, read_clients=1, max_outstanding_reads=1)
    dma = b.dma
    port = dma.rd[0]

    async def bench(ctx):
        ctx.set(port.space, 100)
        ctx.set(port.data.ready, 1)
        ctx.set(port.words, 0)
        ctx.set(port.start, 1)
        await ctx.tick()
        ctx.set(port.start, 0)
        for _ in range(5):
            *_, busy = await ctx.tick().sample(port.busy)
            assert not busy
        ctx.set(port.addr, 0x100)
        ctx.set(port.words, 10)
        ctx.set(port.start, 1)
        await ctx.tick()
        ctx.set(port.addr, 0x800)  # a second start while busy: ignored
        ctx.set(port.words, 3)
        got = []
        while True:
            *_, valid, data, busy = await ctx.tick().sample(port.data.valid, port.data.payload,
                                                            port.busy)
            ctx.set(port.start, 0)
            if valid:
                got.append(int(data))
            if not busy:
                break
        assert got == b.expected(0x100, 10)
        assert [(a, n) for _, a, n in b.memory.stats.ar] == [(0x100, 10)]

    b.run(bench)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"data_width": 16}, ValueError, "data_width must be 32, 64 or 128, not 16"),
    ({"data_width": 32.0}, TypeError, "data_width must be an integer, not 32.0"),
    ({"addr_width": 8}, ValueError, "addr_width must be in 12..64, not 8"),
    ({"read_clients": 0}, ValueError, "read_clients must be in 1..16, not 0"),
    ({"read_clients": "3"}, TypeError, "read_clients must be an integer, not '3'"),
    ({"max_burst": 257}, ValueError, "max_burst must be in 1..256, not 257"),
    ({"max_burst": [16, 16]}, ValueError,
     r"max_burst has 2 entries, not one per read client \(3\)"),
    ({"max_burst": [16, 0, 16]}, ValueError, r"max_burst\[1\] must be in 1..256, not 0"),
    ({"max_burst": [16, True, 16]}, TypeError, r"max_burst\[1\] must be an integer, not True"),
    ({"max_outstanding_reads": 0}, ValueError, "max_outstanding_reads must be in 1..16, not 0"),
    ({"count_width": 40}, ValueError, "count_width must be in 2..32, not 40"),
])
def test_bad_parameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        AxiDma(**kwargs)


@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_ports_connect_to_the_gearbox_and_the_packer(data_width):
    nb = data_width // 8
    dma = AxiDma(data_width=data_width, read_clients=2)
    assert len(dma.rd) == 2 and dma.bus.rdata.shape().width == data_width
    m = Module()
    box, packer = RowGearbox(bus_bytes=nb, line_bytes=12), OutputPacker(bus_bytes=nb)
    m.submodules += [dma, box, packer]
    wiring.connect(m, dma.rd[1].data, box.i)
    wiring.connect(m, packer.o, dma.wr_data)
