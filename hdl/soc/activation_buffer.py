"""Activation buffer: one chunk of tokens on chip, written line by line from the DMA, read as
the array's activation vectors in tile order."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..datapath.array import x_layout
from .accel_config import AcceleratorConfig
from .arith import minus_one

__all__ = ["ActivationBuffer"]


class ActivationBuffer(wiring.Component):
    """Holds up to ``chunk_m`` tokens of up to ``max_k`` INT8 activations.

    Write side: ``load`` (pulse) starts a chunk; every line on ``i`` (``rows`` bytes, ``last``
    at a token's final line, as the gearbox makes them) goes to line ``m * max_kt + j`` (token
    ``m``, K tile ``j``); ``loaded`` counts the tokens written.

    Read side: ``feed`` (pulse) streams the chunk's ``mc`` tokens once per tile, in the order
    the array consumes them: for every block ``b < nb``, every K tile ``t < kt``, every token
    ``m < mc`` the vector ``x[m, t*rows : (t+1)*rows]``, ``last`` on ``m = mc - 1``. ``fed`` is
    high when no feed is running. ``mc``, ``kt`` and ``nb`` must be stable from the cycle
    before ``feed``.

    Latency: 1 cycle (the memory read) plus the output register. Throughput: one vector per
    cycle.
    """

    def __init__(self, config: AcceleratorConfig):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        layout = x_layout(config.array)
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"data": 8 * config.rows, "last": 1}))),
            "load": In(1),
            "loaded": Out(16),
            "feed": In(1), "mc": In(16), "kt": In(16), "nb": In(16),
            "fed": Out(1, init=1),
            "o": Out(stream.Signature(layout)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.mem = mem = Memory(shape=8 * cfg.rows, depth=cfg.x_depth, init=[])
        self._writes(m, mem.write_port())
        self._reads(m, mem.read_port())
        return m

    def _writes(self, m, wr):
        cfg = self.config
        base = Signal(range(cfg.x_depth + cfg.max_kt + 1))
        line = Signal(range(cfg.max_kt + 1))
        m.d.comb += [self.i.ready.eq(1), wr.addr.eq(base + line), wr.data.eq(self.i.payload.data),
                     wr.en.eq(self.i.valid)]
        with m.If(self.i.valid):
            with m.If(self.i.payload.last):
                m.d.sync += [base.eq(base + cfg.max_kt), line.eq(0), self.loaded.eq(self.loaded + 1)]
            with m.Else():
                m.d.sync += line.eq(line + 1)
        with m.If(self.load):
            m.d.sync += [base.eq(0), line.eq(0), self.loaded.eq(0)]

    def _reads(self, m, rd):
        cfg = self.config
        tok, t, b = Signal(16), Signal(16), Signal(16)
        addr = Signal(range(cfg.x_depth + cfg.max_kt + 1))
        valid, last = Signal(), Signal()
        active = ~self.fed
        step = ~valid | self.o.ready
        issue = active & step
        # the sizes less one as registers (no subtract behind the sequencer's last-chunk pick
        # before these compares: that path limited the whole top)
        mc_m1, kt_m1, nb_m1 = (minus_one(m, n, getattr(self, n)) for n in ("mc", "kt", "nb"))
        last_tok, last_t, last_b = tok == mc_m1, t == kt_m1, b == nb_m1
        m.d.comb += [rd.addr.eq(addr), rd.en.eq(step)]
        with m.If(step):
            m.d.sync += [valid.eq(issue), last.eq(last_tok)]
        with m.If(issue):
            with m.If(~last_tok):
                m.d.sync += [tok.eq(tok + 1), addr.eq(addr + cfg.max_kt)]
            with m.Else():
                m.d.sync += tok.eq(0)
                with m.If(~last_t):
                    m.d.sync += [t.eq(t + 1), addr.eq(t + 1)]
                with m.Else():
                    m.d.sync += [t.eq(0), addr.eq(0), b.eq(b + 1)]
                    with m.If(last_b):
                        m.d.sync += self.fed.eq(1)
        with m.If(self.feed):
            m.d.sync += [self.fed.eq(0), tok.eq(0), t.eq(0), b.eq(0), addr.eq(0)]
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.data.eq(rd.data),
                     self.o.payload.last.eq(last)]
