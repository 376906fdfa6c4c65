"""AXI4 manager DMA (v2): several read clients and one write client on one AXI4 port of 32, 64
or 128 data bits, with several read bursts in flight. The v1 DMA is hdl/soc/axi_dma_v1.py."""

from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import add_wide
from .axi import BURST_INCR, Axi4Signature

__all__ = ["AxiDma", "ReadClientSignature", "write_layout"]

LINE_BYTES = 4096  # AXI: a burst never crosses a 4 KiB line


def write_layout(data_width: int = 32) -> data.StructLayout:
    return data.StructLayout({"data": data_width, "strb": data_width // 8})


class ReadClientSignature(wiring.Signature):
    """One read client, seen from the DMA (the DMA's ``rd[c]`` is ``Out`` of this)."""

    def __init__(self, *, addr_width: int, data_width: int, count_width: int):
        super().__init__({
            "start": In(1), "addr": In(addr_width), "words": In(count_width),
            "space": In(count_width),
            "busy": Out(1), "error": Out(1),
            "data": Out(stream.Signature(data_width)),
        })


class WriteState(enum.Enum, shape=3):
    IDLE = 0
    PREP = 1
    ADDR = 2
    DATA = 3
    RESP = 4  # decoded as the default branch


def _check_int(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, not {value}")


class AxiDma(wiring.Component):
    """Read clients and a write client on one AXI4 manager port (INCR bursts, ID 0).

    Every burst has ``arsize``/``awsize`` = log2(B) (B = ``data_width / 8`` bytes a beat), starts
    at a multiple of B (the low address bits of a start are ignored), has at most 256 beats and
    never crosses a 4 KiB line: its length is min(beats left, the client's ``max_burst``, beats
    to the next 4 KiB line).

    Read clients ``rd[0] .. rd[read_clients - 1]`` (ports ``rd__<c>__<name>``): a pulse on
    ``start`` (ignored while ``busy``) latches ``addr`` (byte address) and ``words`` (beats;
    0 = nothing). ``space`` says how many more beats the client can take now; a burst is issued
    for the client only if its length <= ``space`` minus the client's beats requested but not
    yet delivered, both as they were in the cycle before (a register). So ``space`` may fall
    from one cycle to the next only by the beats delivered to the client, as a FIFO's free room
    does; in the cycle after the client's burst or ``start`` the check takes ``max_burst`` for
    the length, which can hold a short last burst back for a cycle. A client that always
    drains is built without that check (``credit[c] = False``; its ``space`` is ignored): the
    check's add and compare came before the arbitration in one cycle and limited the whole
    accelerator (ASIC), for clients whose ``space`` was a constant no burst could exceed. Bursts
    are arbitrated one at a time, fixed priority: the lowest-numbered client with work and
    credit wins. Up to ``max_outstanding_reads`` bursts are in flight (from issue to the last R
    beat), so the next AR goes out while a burst's data flows; R beats (in order, one ID) go to
    the owner of the oldest burst on its ``data`` stream, in address order, and ``rready`` is
    that owner's ``data.ready``. ``busy`` is high from the cycle after ``start`` until the last
    beat has been delivered or dropped.

    Read errors: a beat with RRESP = SLVERR/DECERR is not delivered and sets the owner's
    ``error`` (held until its next ``start``); the client's other outstanding bursts are still
    taken from the bus (``rready`` high) but dropped, no new burst is issued for it, and its
    ``busy`` falls when they have completed. Other clients are not affected.

    Write client: a pulse on ``wr_start`` (ignored while ``wr_busy``) latches ``wr_addr`` and
    ``wr_words``; the engine writes the beats offered on ``wr_data`` (data, byte strobes) in
    bursts as above (``max_burst``, or the largest of a per-client list), one burst at a time:
    the write response of a burst is awaited before the next AW. After an error response the
    engine stops, with ``wr_error`` set until the next ``wr_start``; beats of the transfer not
    yet written stay in ``wr_data`` (the client flushes them).

    ``halt`` (for a job stopped by an error) abandons every transfer: while it is high no
    ``start`` is taken and no new burst is issued; read bursts in flight are taken from the bus
    and dropped (not delivered, so a halted client need not drain); a write burst whose AW is
    out completes, its remaining W beats sent with ``wstrb = 0`` (memory unchanged) instead of
    waiting for ``wr_data``, and its response is awaited. The ``busy`` outputs fall when that is
    done; the beats not yet requested are forgotten (nothing resumes when ``halt`` falls).

    ``stall`` is high in every cycle in which a read client or the write engine is busy but no
    R or W beat moves (memory latency and pauses, our own back-pressure, bursts waiting for
    credit).

    Latency: ``arvalid`` 3 cycles after ``start`` (latch, burst length, AR register), so with a
    memory that answers an AR accepted in cycle t from cycle t + 1 the first beat comes 4 cycles
    after ``start``; ``awvalid`` 2 cycles after ``wr_start``.

    Throughput: one beat per cycle on R and on W. Read bursts (of one or several clients)
    follow each other on R without an idle cycle as long as the memory's latency (cycles from
    an accepted AR to its first beat, minus one) is at most
    ``(max_outstanding_reads - 1) * burst length - 2``: zero latency needs 2 bursts in flight of
    >= 2 beats, latency 14 needs 2 of 16 or 3 of 8 (tests/hdl/soc/test_axi_dma.py measures the
    bound). One client issues at most one burst every second cycle. Writes go one burst at a
    time: between two bursts of a transfer W is idle for 3 cycles (response, length, AW) plus
    the write-response latency.
    """

    def __init__(self, *, data_width: int = 32, addr_width: int = 32, read_clients: int = 3,
                 max_burst=256, max_outstanding_reads: int = 2, count_width: int = 24,
                 credit=None):
        if not isinstance(data_width, int) or isinstance(data_width, bool):
            raise TypeError(f"data_width must be an integer, not {data_width!r}")
        if data_width not in (32, 64, 128):
            raise ValueError(f"data_width must be 32, 64 or 128, not {data_width}")
        _check_int("addr_width", addr_width, 12, 64)
        _check_int("read_clients", read_clients, 1, 16)
        _check_int("max_outstanding_reads", max_outstanding_reads, 1, 16)
        _check_int("count_width", count_width, 2, 32)
        if isinstance(max_burst, (list, tuple)):
            if len(max_burst) != read_clients:
                raise ValueError(f"max_burst has {len(max_burst)} entries, not one per read "
                                 f"client ({read_clients})")
            bursts = list(max_burst)
        else:
            bursts = [max_burst] * read_clients
        for c, b in enumerate(bursts):
            _check_int("max_burst" if not isinstance(max_burst, (list, tuple))
                       else f"max_burst[{c}]", b, 1, 256)
        self.data_width, self.addr_width, self.count_width = data_width, addr_width, count_width
        self.beat_bytes = data_width // 8
        self.read_clients, self.max_outstanding_reads = read_clients, max_outstanding_reads
        self.max_burst = bursts
        self.credit = [True] * read_clients if credit is None else [bool(c) for c in credit]
        if len(self.credit) != read_clients:
            raise ValueError(f"credit has {len(self.credit)} entries, not one per read client ({read_clients})")
        self.max_write_burst = max(bursts)
        client = ReadClientSignature(addr_width=addr_width, data_width=data_width,
                                     count_width=count_width)
        super().__init__({
            "bus": Out(Axi4Signature(addr_width=addr_width, data_width=data_width)),
            "rd": Out(client).array(read_clients),
            "wr_start": In(1), "wr_addr": In(addr_width), "wr_words": In(count_width),
            "wr_busy": Out(1), "wr_error": Out(1),
            "wr_data": In(stream.Signature(write_layout(data_width))),
            "halt": In(1),
            "stall": Out(1),
        })

    def _burst_length(self, m, addr, remain, max_burst, name):
        """Beats of the next burst, min(remain, max_burst, beats to the next 4 KiB line), and
        that less one (AXI's ARLEN), each picked from its own candidates: no subtract after
        the compares."""
        shift = self.beat_bytes.bit_length() - 1
        line_beats = LINE_BYTES // self.beat_bytes
        to_line = Signal(range(line_beats + 1), name=f"{name}_to_line")
        m.d.comb += to_line.eq(line_beats - addr[shift:12])
        line_short, remain_short = to_line < max_burst, Signal(name=f"{name}_remain_short")
        cap = Mux(line_short, to_line, max_burst)
        m.d.comb += remain_short.eq(remain < cap)
        length = Signal(range(257), name=f"{name}_len")
        m.d.comb += length.eq(Mux(remain_short, remain, cap))
        # line_beats - 1 - a is ~a on the line's bits
        cap_m1 = Mux(line_short, ~addr[shift:12], max_burst - 1)
        length_m1 = Signal(8, name=f"{name}_len_m1")
        m.d.comb += length_m1.eq(Mux(remain_short, remain - 1, cap_m1))
        return length, length_m1

    def _aligned(self, addr):
        shift = self.beat_bytes.bit_length() - 1
        return Cat(Const(0, shift), addr[shift:])

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        size = self.beat_bytes.bit_length() - 1
        m.d.comb += [
            bus.arsize.eq(size), bus.arburst.eq(BURST_INCR), bus.arid.eq(0),
            bus.awsize.eq(size), bus.awburst.eq(BURST_INCR), bus.awid.eq(0),
        ]
        fifo = self._burst_fifo(m)
        clients = [self._read_client(m, c) for c in range(self.read_clients)]
        self._read_issue(m, clients, fifo)
        r_beat = self._read_data(m, clients, fifo)
        w_beat = self._write_engine(m)
        busy = self.wr_busy
        for port in self.rd:
            busy = busy | port.busy
        m.d.comb += self.stall.eq(busy & ~r_beat & ~w_beat)
        return m

    def _burst_fifo(self, m):
        """Owners of the bursts in flight, oldest first (issue order = AR order = R order)."""
        depth = self.max_outstanding_reads
        f = SimpleNamespace(
            owner=Array(Signal(range(self.read_clients), name=f"owner{k}") for k in range(depth)),
            # named, so that proofs can expose them (verif/formal/dma.py)
            wptr=Signal(range(depth), name="burst_wptr"), rptr=Signal(range(depth), name="burst_rptr"),
            count=Signal(range(depth + 1), name="bursts_in_flight"),
            push=Signal(), win=Signal(range(self.read_clients)), pop=Signal())
        f.head = f.owner[f.rptr]
        f.head_valid = f.count != 0

        def inc(p):
            return Mux(p == depth - 1, 0, p + 1)
        with m.If(f.push):
            m.d.sync += [f.owner[f.wptr].eq(f.win), f.wptr.eq(inc(f.wptr))]
        with m.If(f.pop):
            m.d.sync += f.rptr.eq(inc(f.rptr))
        m.d.sync += f.count.eq(f.count + f.push - f.pop)
        return f

    def _read_client(self, m, c):
        """State of read client ``c``: next address, beats not yet requested, beats in flight,
        the next burst's length (a register: valid the second cycle after a change)."""
        port = self.rd[c]
        s = SimpleNamespace(
            addr=Signal(self.addr_width, name=f"rd{c}_addr"),
            remain=Signal(self.count_width, name=f"rd{c}_remain"),
            pending=Signal(range(self.max_outstanding_reads * 256 + 1), name=f"rd{c}_pending"),
            err=Signal(name=f"rd{c}_err"), fresh=Signal(name=f"rd{c}_fresh"),
            len=Signal(range(257), name=f"rd{c}_next_len"),
            len_m1=Signal(8, name=f"rd{c}_next_arlen"),  # AXI's ARLEN: no subtract after the pick
            issue=Signal(name=f"rd{c}_issue"), beat=Signal(name=f"rd{c}_beat"),
            bad=Signal(name=f"rd{c}_bad"),
            # remain != 0 and pending != 0, registers set with them: the 24-bit reductions behind
            # ``busy``, the start gating and the address registers' enables limited the FPGA top
            has_work=Signal(name=f"rd{c}_has_work"), in_flight=Signal(name=f"rd{c}_in_flight"))
        busy = (s.has_work & ~s.err) | s.in_flight
        m.d.comb += [port.busy.eq(busy), port.error.eq(s.err)]
        start = port.start & ~busy & ~self.halt
        length, length_m1 = self._burst_length(m, s.addr, s.remain, self.max_burst[c], f"rd{c}")
        # every sum, and whether it is 0, ready before the issue decision and the R beat pick
        # one (both come late in the cycle)
        width = len(s.pending)
        more = [(s.pending + s.len)[:width], (s.pending + s.len - 1)[:width]]  # by beat
        fewer = [s.pending, (s.pending - 1)[:width]]

        def pick(f):
            return Mux(s.issue, Mux(s.beat, f(more[1]), f(more[0])), Mux(s.beat, f(fewer[1]), f(fewer[0])))
        m.d.sync += [
            s.len.eq(length), s.len_m1.eq(length_m1),
            s.fresh.eq(~start & ~s.issue),
            s.pending.eq(pick(lambda v: v)), s.in_flight.eq(pick(lambda v: v != 0)),
        ]
        next_addr, next_remain = self._after_burst_addr(m, s, c), self._after_burst_remain(m, s, c)
        with m.If(start):
            m.d.sync += [s.addr.eq(self._aligned(port.addr)), s.remain.eq(port.words),
                         s.has_work.eq(port.words != 0), s.err.eq(0)]
        with m.Elif(s.issue):
            m.d.sync += [s.addr.eq(next_addr), s.remain.eq(next_remain), s.has_work.eq(next_remain != 0)]
        with m.If(s.bad):
            m.d.sync += s.err.eq(1)
        with m.If(self.halt):  # the rest of the transfer is abandoned
            m.d.sync += [s.remain.eq(0), s.has_work.eq(0)]
        # Work and credit; an error seen this cycle already stops new bursts.
        has_credit = self._credit(m, s, port, c) if self.credit[c] else 1
        s.eligible = s.fresh & s.has_work & ~s.err & ~s.bad & ~self.halt & has_credit
        return s

    def _credit(self, m, s, port, c):
        """``len + pending <= space`` as a register, from the cycle before: its add and compare
        before the arbitration and the address registers' enables limited the FPGA top on ECP5
        (13.4 ns). Safe while ``space`` falls only by the beats delivered (``pending`` falls by
        as many) and ``len`` is not about to change (``fresh``); in the cycle after a change
        ``max_burst`` stands in for the length not yet known."""
        credit = Signal(name=f"rd{c}_credit")
        bound = Mux(s.fresh, s.len, self.max_burst[c])
        m.d.sync += credit.eq(bound + s.pending <= port.space)
        return credit

    def _after_burst_addr(self, m, s, c):
        """``addr + len * B`` without a 32-bit add in the cycle of the issue: a burst ends at or
        before its 4 KiB line's end, so the line offset's add carries into the line number only
        there, and the line number plus one is a register (``addr`` has not changed for a cycle
        when a burst issues: ``fresh``)."""
        line_p1 = Signal(self.addr_width - 12, name=f"rd{c}_line_p1")
        m.d.sync += line_p1.eq(s.addr[12:] + 1)
        offset = Signal(13, name=f"rd{c}_offset_next")
        m.d.comb += offset.eq(s.addr[:12] + (s.len << (self.beat_bytes.bit_length() - 1)))
        return Cat(offset[:12], Mux(offset[12], line_p1, s.addr[12:]))

    def _after_burst_remain(self, m, s, c):
        """``remain - len`` the same way: the low 9 bits' borrow picks the high part or the high
        part less one, a register (``len <= remain`` and ``len <= 256``)."""
        if self.count_width <= 9:
            return s.remain - s.len
        hi_m1 = Signal(self.count_width - 9, name=f"rd{c}_remain_hi_m1")
        m.d.sync += hi_m1.eq(s.remain[9:] - 1)
        low = Signal(10, name=f"rd{c}_remain_lo_next")
        m.d.comb += low.eq(s.remain[:9] - s.len)
        return Cat(low[:9], Mux(low[9], hi_m1, s.remain[9:]))

    def _read_issue(self, m, clients, fifo):
        """Fixed-priority choice of the next burst into the AR register (held until arready)."""
        bus = self.bus
        room = fifo.count < self.max_outstanding_reads
        slot = ~bus.arvalid | bus.arready
        with m.If(slot & room):
            for c, s in enumerate(clients):
                with (m.If if c == 0 else m.Elif)(s.eligible):
                    m.d.comb += [s.issue.eq(1), fifo.win.eq(c), fifo.push.eq(1)]
        addrs = Array(s.addr for s in clients)
        arlens = Array(s.len_m1 for s in clients)
        with m.If(fifo.push):
            m.d.sync += [bus.arvalid.eq(1), bus.araddr.eq(addrs[fifo.win]),
                         bus.arlen.eq(arlens[fifo.win])]
        with m.Elif(bus.arready):
            m.d.sync += bus.arvalid.eq(0)

    def _read_data(self, m, clients, fifo):
        """R beats to the owner of the oldest burst; an error or a failed owner drops them."""
        bus = self.bus
        head = fifo.head
        # SLVERR or DECERR, a failed owner, or halt: the beat is taken and dropped.
        failed = Array(s.err for s in clients)[head] | bus.rresp[1] | self.halt
        ready = Array(port.data.ready for port in self.rd)[head]
        m.d.comb += bus.rready.eq(fifo.head_valid & (failed | ready))
        r_beat = bus.rvalid & bus.rready
        m.d.comb += fifo.pop.eq(r_beat & bus.rlast)
        for c, (s, port) in enumerate(zip(clients, self.rd, strict=True)):
            mine = bus.rvalid & fifo.head_valid & (head == c)
            m.d.comb += [
                port.data.payload.eq(bus.rdata),
                port.data.valid.eq(mine & ~failed),
                s.beat.eq(r_beat & (head == c)),
                s.bad.eq(mine & bus.rresp[1]),
            ]
        return r_beat

    def _write_engine(self, m):
        """One burst at a time: length, AW, the W beats, the response."""
        bus = self.bus
        beat = self.beat_bytes
        addr = Signal(self.addr_width, name="wr_addr_r")
        remain = Signal(self.count_width, name="wr_remain")
        length = Signal(range(257), name="wr_len")
        length_m1 = Signal(8, name="wr_awlen")
        burst, burst_m1 = self._burst_length(m, addr, remain, self.max_write_burst, "wr")
        sent = Signal(range(257), name="wr_sent")
        err = Signal(name="wr_err")
        fill = Signal(name="wr_fill")  # halted: the burst's other beats go out without strobes
        m.d.comb += [
            self.wr_error.eq(err),
            bus.awaddr.eq(addr), bus.awlen.eq(length_m1),
            bus.wdata.eq(Mux(fill, 0, self.wr_data.payload.data)),
            bus.wstrb.eq(Mux(fill, 0, self.wr_data.payload.strb)),
            bus.wlast.eq(sent == length_m1),
        ]
        w_beat = bus.wvalid & bus.wready
        state = Signal(WriteState)
        m.d.comb += self.wr_busy.eq(state != WriteState.IDLE)
        with m.Switch(state):
            with m.Case(WriteState.IDLE):
                with m.If(self.wr_start & ~self.halt):
                    m.d.sync += [addr.eq(self._aligned(self.wr_addr)),
                                 remain.eq(self.wr_words), err.eq(0)]
                    with m.If(self.wr_words != 0):
                        m.d.sync += state.eq(WriteState.PREP)
            with m.Case(WriteState.PREP):
                m.d.sync += [length.eq(burst), length_m1.eq(burst_m1), sent.eq(0), state.eq(WriteState.ADDR)]
                with m.If(self.halt):
                    m.d.sync += state.eq(WriteState.IDLE)
            with m.Case(WriteState.ADDR):
                m.d.comb += bus.awvalid.eq(1)
                with m.If(bus.awready):
                    m.d.sync += state.eq(WriteState.DATA)
            with m.Case(WriteState.DATA):
                with m.If(fill):
                    m.d.comb += bus.wvalid.eq(1)
                with m.Else():
                    m.d.comb += [bus.wvalid.eq(self.wr_data.valid),
                                 self.wr_data.ready.eq(bus.wready)]
                    # Switch to fillers only where no offered beat is waiting (W must hold).
                    with m.If(self.halt & ~(bus.wvalid & ~bus.wready)):
                        m.d.sync += fill.eq(1)
                with m.If(w_beat):
                    m.d.sync += sent.eq(sent + 1)
                    with m.If(bus.wlast):
                        m.d.sync += state.eq(WriteState.RESP)
            with m.Default():  # RESP
                m.d.comb += bus.bready.eq(1)
                m.d.sync += fill.eq(0)
                with m.If(bus.bvalid):
                    m.d.sync += [addr.eq(add_wide(m, "wr_addr_next", addr, length * beat, self.addr_width)),
                                 remain.eq(remain - length)]
                    with m.If(bus.bresp[1]):
                        m.d.sync += err.eq(1)
                    with m.If((remain == length) | bus.bresp[1] | self.halt):
                        m.d.sync += state.eq(WriteState.IDLE)
                    with m.Else():
                        m.d.sync += state.eq(WriteState.PREP)
        return w_beat
