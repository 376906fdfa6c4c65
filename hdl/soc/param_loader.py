"""Requantization parameters: loaded per block of channels from memory into two register sets."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .accel_config import AcceleratorConfig
from .arith import minus_one
from .vector_unit import MULT_BITS, SHIFT_BITS, SHIFT_MAX, SHIFT_MIN

__all__ = ["ParamLoader", "word_is_bad"]


def word_is_bad(word):
    """A ``mult | shift << 16`` word the vector unit cannot take: bit 15 or bits 31:24 set, or
    a shift outside SHIFT_MIN..SHIFT_MAX."""
    shift = word[16:24]
    return word[15] | (word[24:32] != 0) | (shift < SHIFT_MIN) | (shift > SHIFT_MAX)


class ParamLoader(wiring.Component):
    """Loads the bias, multiplier and shift of every channel of a block before its write-back.

    For every block ``b`` of every chunk (the write-back's order) the loader waits until set
    ``s`` (blocks alternate between two sets) is free, asks its DMA client for the block's
    ``2 * cw`` words at ``p_addr + b * param_stride`` (``cw = cols``, or ``last_cols`` in the
    last block), stores word ``2c`` as ``bias[c]`` and word ``2c + 1`` as ``mult[c] | shift[c]
    << 16``, checks each of the latter, and raises ``ready[s]`` once the block is complete. A
    bad word sets ``bad`` (the sequencer stops the job; the set never becomes ready, so nothing
    of that block is written). ``release[s]`` frees a set. In bypass mode nothing is loaded and
    both sets are always ready.

    ``sel_set`` / ``sel_col`` select the parameters on ``bias``, ``mult``, ``shift``
    (combinational).
    """

    def __init__(self, config: AcceleratorConfig):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        super().__init__({
            "go": In(1), "bypass": In(1),
            "nb": In(16), "chunks": In(16), "last_cols": In(range(config.cols + 1)),
            "p_addr": In(32),
            "dma_start": Out(1), "dma_addr": Out(32), "dma_words": Out(32), "dma_busy": In(1),
            "dma_data": In(stream.Signature(8 * config.bus_bytes)),
            "ready": Out(2), "release": In(2), "bad": Out(1),
            "sel_set": In(1), "sel_col": In(range(config.cols)),
            "bias": Out(signed(32)), "mult": Out(MULT_BITS), "shift": Out(SHIFT_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        regs = [[(Signal(signed(32), name=f"bias_{s}_{c}"), Signal(MULT_BITS, name=f"mult_{s}_{c}"),
                  Signal(SHIFT_BITS, name=f"shift_{s}_{c}")) for c in range(cfg.cols)]
                for s in range(2)]
        self._select(m, regs)
        self._load(m, regs)
        return m

    def _select(self, m, regs):
        with m.Switch(self.sel_set):
            for s in range(2):
                with m.Case(s):
                    with m.Switch(self.sel_col):
                        for c in range(self.config.cols):
                            with m.Case(c):
                                bias, mult, shift = regs[s][c]
                                m.d.comb += [self.bias.eq(bias), self.mult.eq(mult),
                                             self.shift.eq(shift)]

    def _load(self, m, regs):
        cfg = self.config
        per_beat = cfg.bus_bytes // 4  # 32-bit words per bus word
        b, chunk = Signal(16), Signal(16)
        s = Signal()
        free = Signal(2, init=0b11)
        loading, requested, active = Signal(), Signal(), Signal()
        word = Signal(range(2 * cfg.cols + per_beat + 1))  # index of the beat's first word
        addr = Signal(32)
        nb_m1, chunks_m1 = minus_one(m, "nb", self.nb), minus_one(m, "chunks", self.chunks)
        last_b = b == nb_m1
        cw = Mux(last_b, self.last_cols, cfg.cols)
        m.d.comb += [self.dma_addr.eq(addr),
                     self.dma_words.eq((8 * cw + cfg.bus_bytes - 1) // cfg.bus_bytes),
                     self.dma_data.ready.eq(1)]
        m.d.sync += self.dma_start.eq(0)
        with m.If(active & ~loading & free.bit_select(s, 1)):
            m.d.sync += [self.dma_start.eq(1), loading.eq(1), requested.eq(0), word.eq(0)]
        with m.If(self.dma_busy):
            m.d.sync += requested.eq(1)
        # The DMA's beats a cycle late: the enables of every parameter register then start at a
        # flip-flop, not at the DMA's burst FIFO head (that chain limited the whole top, ASIC and ECP5)
        beat, payload = Signal(), Signal.like(self.dma_data.payload, reset_less=True)
        m.d.sync += [beat.eq(self.dma_data.valid), payload.eq(self.dma_data.payload)]
        with m.If(beat):
            m.d.sync += word.eq(word + per_beat)
        for j in range(per_beat):
            value = payload[32 * j:32 * j + 32]
            for c in range(cfg.cols):
                for k in range(2):
                    bias, mult, shift = regs[k][c]
                    with m.If(beat & (s == k) & (word + j == 2 * c)):
                        m.d.sync += bias.eq(value)
                    with m.If(beat & (s == k) & (word + j == 2 * c + 1)):
                        m.d.sync += [mult.eq(value[0:MULT_BITS]), shift.eq(value[16:16 + SHIFT_BITS])]
            with m.If(beat & (word + j < 2 * cw) & (word + j)[0] & word_is_bad(value)):
                m.d.sync += self.bad.eq(1)
        finished = loading & requested & ~self.dma_busy & ~self.dma_start & ~beat  # the last beat stored and checked
        set_ready = Mux(finished & ~self.bad, 1 << s, 0)
        take = Mux(active & ~loading & free.bit_select(s, 1), 1 << s, 0)
        m.d.sync += [self.ready.eq(Mux(self.bypass, 0b11, (self.ready | set_ready) & ~self.release)),
                     free.eq((free & ~take) | self.release)]
        with m.If(finished):
            m.d.sync += [loading.eq(0), s.eq(~s), b.eq(Mux(last_b, 0, b + 1)),
                         addr.eq(Mux(last_b, self.p_addr, addr + cfg.param_stride))]
            with m.If(last_b):
                m.d.sync += chunk.eq(chunk + 1)
                with m.If(chunk == chunks_m1):
                    m.d.sync += active.eq(0)
        with m.If(self.go):
            m.d.sync += [b.eq(0), chunk.eq(0), s.eq(0), free.eq(0b11), loading.eq(0), beat.eq(0),
                         self.ready.eq(Mux(self.bypass, 0b11, 0)), self.bad.eq(0),
                         active.eq(~self.bypass), addr.eq(self.p_addr)]
        return m
