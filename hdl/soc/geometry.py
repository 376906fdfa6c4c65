"""Job geometry: tile counts, edge sizes, strides and transfer lengths from M, K and N."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .accel_config import AcceleratorConfig
from .arith import SPLITS, add_chunked, add_wide, ceil_div_const_carry_save, pending_word

__all__ = ["Geometry", "SETUP_CYCLES"]

PRODUCT_BITS = 16  # width of the serial multipliers' second factors
# S (the cycle of start): the quotients' products in carry-save form; step 0: the quotients;
# 1: the edges' products and the group count; 2: the edges and the block's two word counts;
# LOAD: both products set up; PRODUCT_BITS shift-add steps, side by side, and RESOLVE_STEPS
# that add nothing (the chunked adds' pending carries settle); READ: both taken.
# Each step holds at most one short carry-propagate add (hdl/soc/arith.py), and ``ready``
# rises where it did when the products ran one after the other (so no job's cycle count
# changed; the last 15 steps wait).
LOAD = 3
RESOLVE_STEPS = len(SPLITS)  # a zero addend moves each pending carry one chunk up
READ = LOAD + PRODUCT_BITS + RESOLVE_STEPS + 1
LAST_STEP = 36
SETUP_CYCLES = LAST_STEP + 1  # cycles from the one with start to the first with ready


class Geometry(wiring.Component):
    """Derives everything the engines need from a job's ``m``, ``k``, ``n`` and ``bypass``.

    On ``start`` (sizes must be legal and stay stable until ``ready``) it computes, without a
    divider and a few steps apart (the schedule above ``SETUP_CYCLES``):
    ``kt = ceil(k / rows)`` K tiles, ``nb = ceil(n / cols)`` blocks, ``chunks = ceil(m /
    chunk_m)``; the edges ``last_rows``, ``last_cols``, ``last_m`` (rows of the last K tile,
    channels of the last block, tokens of the last chunk); ``x_row_words = ceil(k / B)`` (bus
    words per activation row in memory), ``y_stride`` (bytes per output row: ``ceil(n * e /
    B) * B``, ``e`` = 1, or 4 in bypass); and, with two shift-and-add multipliers, ``w_words`` (bus
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
        step = Signal(range(LAST_STEP + 1))
        m.d.sync += self.ready.eq(step == LAST_STEP)
        with m.If(step != LAST_STEP):
            m.d.sync += step.eq(step + 1)
        # the steps' enables as flip-flops, not decoded from ``step`` where they are used (each
        # drives some hundred register bits): at[k] is high in step k < LOAD + 1, then
        # ``multiplying`` in the shift-and-add steps and ``reading`` in READ
        at, multiplying, reading = Signal(LOAD + 1), Signal(), Signal()
        m.d.sync += [at.eq(at << 1), reading.eq(step == READ - 1)]
        with m.If(at[LOAD]):
            m.d.sync += multiplying.eq(1)
        with m.If(step == READ - 1):
            m.d.sync += multiplying.eq(0)

        # S and step 0: kt, nb, chunks
        quotients = {"kt": (self.k, cfg.rows), "nb": (self.n, cfg.cols), "chunks": (self.m, cfg.chunk_m)}
        with m.If(self.start):
            y_bytes = Mux(self.bypass, self.n << 2, self.n)
            m.d.sync += [self.x_row_words.eq((self.k + cfg.bus_bytes - 1) >> log_b),
                         self.y_stride.eq(((y_bytes + cfg.bus_bytes - 1) >> log_b) << log_b)]
        for name, (value, divisor) in quotients.items():
            words, finish = ceil_div_const_carry_save(m, name, value, divisor, 16)
            regs = [Signal(len(w), name=f"{name}_cs{i}") for i, w in enumerate(words)]
            with m.If(self.start):
                m.d.sync += [r.eq(w) for r, w in zip(regs, words, strict=True)]
            with m.If(at[0]):
                m.d.sync += getattr(self, name).eq(finish(*regs))

        # steps 1 and 2: the edges (size - (quotient - 1) * divisor), the groups, the block's words
        edges = {"last_rows": (self.k, self.kt, cfg.rows), "last_cols": (self.n, self.nb, cfg.cols),
                 "last_m": (self.m, self.chunks, cfg.chunk_m)}
        block_tiles, block_groups = Signal(32), Signal(32)
        for name, (size, quotient, divisor) in edges.items():
            below = Signal(16, name=f"{name}_below")  # the sizes of the full tiles before the last
            with m.If(at[1]):
                m.d.sync += below.eq((quotient - 1) * divisor)
            with m.If(at[2]):
                m.d.sync += getattr(self, name).eq(size - below)
        with m.If(at[1]):
            m.d.sync += self.groups.eq(Mux(self.grouped,
                                           (self.kt + (1 << self.group_log2) - 1) >> self.group_log2, 0))
        with m.If(at[2]):
            m.d.sync += [block_tiles.eq(self.kt * cfg.line_beats), block_groups.eq(self.groups * cfg.scale_beats)]

        # LOAD to READ: w_words = nb * (words of a block) and x_last_words = last_m * x_row_words
        # by shift and add, side by side
        products = [(self.w_words, add_wide(m, "block_words", block_tiles, block_groups), self.nb),
                    (self.x_last_words, self.x_row_words, self.last_m)]
        for k, (out, multiplicand, multiplier) in enumerate(products):
            acc, mcand, mplier = Signal(32, name=f"acc{k}"), Signal(32, name=f"mcand{k}"), Signal(PRODUCT_BITS, name=f"mplier{k}")
            carries = Signal(len(SPLITS), name=f"acc{k}_carries")
            with m.If(at[LOAD]):
                m.d.sync += [acc.eq(0), carries.eq(0), mcand.eq(multiplicand), mplier.eq(multiplier)]
            with m.Elif(multiplying):
                ops = [acc, pending_word(carries, SPLITS, 32), Mux(mplier[0], mcand, 0)]
                word, cy = add_chunked(m, f"acc{k}_next", ops, SPLITS, 32)
                m.d.sync += [acc.eq(word), carries.eq(cy), mcand.eq(mcand << 1), mplier.eq(mplier >> 1)]
            with m.Elif(reading):
                m.d.sync += out.eq(acc)
        with m.If(self.start):
            m.d.sync += [step.eq(0), self.ready.eq(0), at.eq(1), multiplying.eq(0), reading.eq(0)]
        return m
