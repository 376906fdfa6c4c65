"""Job geometry: tile counts, edge sizes, strides and transfer lengths from M, K and N."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .accel_config import AcceleratorConfig
from .arith import ceil_div_const

__all__ = ["Geometry", "SETUP_CYCLES"]

PRODUCT_BITS = 16  # width of the serial multiplier's second factor
# step 0: quotients registered, edges and groups set up from them; LOAD1: first product set
# up; PRODUCT_BITS shift-add steps; READ1: first result taken, second set up; PRODUCT_BITS
# steps; READ2: second result taken
LOAD1 = 1
READ1 = LOAD1 + PRODUCT_BITS + 1
READ2 = READ1 + PRODUCT_BITS + 1
LAST_STEP = READ2 + 1
SETUP_CYCLES = LAST_STEP + 1  # cycles from the one with start to the first with ready


class Geometry(wiring.Component):
    """Derives everything the engines need from a job's ``m``, ``k``, ``n`` and ``bypass``.

    On ``start`` (sizes must be legal and stay stable until ``ready``) it computes, without a
    divider (the quotients in the cycle of ``start``, the edges and groups from them in the next):
    ``kt = ceil(k / rows)`` K tiles, ``nb = ceil(n / cols)`` blocks, ``chunks = ceil(m /
    chunk_m)``; the edges ``last_rows``, ``last_cols``, ``last_m`` (rows of the last K tile,
    channels of the last block, tokens of the last chunk); ``x_row_words = ceil(k / B)`` (bus
    words per activation row in memory), ``y_stride`` (bytes per output row: ``ceil(n * e /
    B) * B``, ``e`` = 1, or 4 in bypass); and, with a shift-and-add multiplier, ``w_words`` (bus
    words of the weight image, ``nb * kt * line_beats``) and ``x_last_words`` (``last_m *
    x_row_words``), where a block of the image is ``kt * line_beats`` tile words plus, with
    ``grouped``, ``groups = ceil(kt / 2**group_log2)`` factor lines of ``scale_beats`` words.
    ``ready`` rises ``SETUP_CYCLES`` cycles after ``start`` and stays high.
    """

    def __init__(self, config: AcceleratorConfig):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        super().__init__({
            "start": In(1), "m": In(16), "k": In(16), "n": In(16), "bypass": In(1),
            "grouped": In(1), "group_log2": In(4),
            "ready": Out(1),
            "kt": Out(16), "nb": Out(16), "chunks": Out(16),
            "last_rows": Out(range(config.rows + 1)), "last_cols": Out(range(config.cols + 1)),
            "last_m": Out(16), "x_row_words": Out(16), "y_stride": Out(32),
            "groups": Out(16),  # group-factor lines per block (0 without group factors)
            "w_words": Out(32), "x_last_words": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        log_b = cfg.bus_bytes.bit_length() - 1
        with m.If(self.start):
            kt = ceil_div_const(self.k, cfg.rows, 16)
            nb = ceil_div_const(self.n, cfg.cols, 16)
            chunks = ceil_div_const(self.m, cfg.chunk_m, 16)
            y_bytes = Mux(self.bypass, self.n << 2, self.n)
            m.d.sync += [
                self.kt.eq(kt), self.nb.eq(nb), self.chunks.eq(chunks),
                self.x_row_words.eq((self.k + cfg.bus_bytes - 1) >> log_b),
                self.y_stride.eq(((y_bytes + cfg.bus_bytes - 1) >> log_b) << log_b),
            ]
        step = Signal(range(LAST_STEP + 1))
        # step 0, from the registered quotients (the sizes stay latched through the job): the
        # edges and the group count, a cycle after the divisions, not in the same one
        with m.If(step == 0):
            m.d.sync += [
                self.last_rows.eq(self.k - (self.kt - 1) * cfg.rows),
                self.last_cols.eq(self.n - (self.nb - 1) * cfg.cols),
                self.last_m.eq(self.m - (self.chunks - 1) * cfg.chunk_m),
                self.groups.eq(Mux(self.grouped,
                                   (self.kt + (1 << self.group_log2) - 1) >> self.group_log2, 0)),
            ]
        # Two products, one after the other, by shift and add (PRODUCT_BITS cycles each).
        acc, mcand, mplier = Signal(32), Signal(32), Signal(PRODUCT_BITS)
        m.d.sync += self.ready.eq(step == LAST_STEP)
        with m.If(step != LAST_STEP):
            m.d.sync += step.eq(step + 1)
        with m.If(step == LOAD1):  # the quotients are registered: nb * (words of a block)
            block_words = self.kt * cfg.line_beats + self.groups * cfg.scale_beats
            m.d.sync += [acc.eq(0), mcand.eq(block_words), mplier.eq(self.nb)]
        with m.Elif(step == READ1):
            m.d.sync += [self.w_words.eq(acc), acc.eq(0),
                         mcand.eq(self.x_row_words), mplier.eq(self.last_m)]
        with m.Elif(step == READ2):
            m.d.sync += self.x_last_words.eq(acc)
        with m.Else():
            with m.If(mplier[0]):
                m.d.sync += acc.eq(acc + mcand)
            m.d.sync += [mcand.eq(mcand << 1), mplier.eq(mplier >> 1)]
        with m.If(self.start):
            m.d.sync += [step.eq(0), self.ready.eq(0)]
        return m
