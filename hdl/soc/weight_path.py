"""Weight path: the weight image streams from the DMA through a FIFO and the decoder into the
array's shadow registers, one bus word per cycle, with the tile's padding masks."""

from types import SimpleNamespace

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..datapath.array import w_layout
from ..datapath.config import ArrayKind
from ..datapath.decoder import decode_byte
from .accel_config import AcceleratorConfig
from .arith import minus_one

__all__ = ["WeightPath", "thermometer"]


def thermometer(count, width: int):
    """``width`` bits, bit i set when i < count."""
    return Cat(*(count > i for i in range(width)))


class WeightPath(wiring.Component):
    """Streams the weight image of a job into the array, once per chunk of tokens.

    The image (docs/accelerator.md) is ``nb`` blocks of ``kt`` tiles of ``line_beats`` bus
    words each, contiguous from ``w_addr``. On ``go`` the path asks its DMA client for the whole
    image (``w_words`` words), again for every chunk, while the FIFO has room (``space`` is the
    credit the DMA honours, so a burst never stalls the bus). Each word leaves the FIFO, is
    decoded (FineQ and INT8 x 3-bit: three codes per cluster byte; INT8 x INT8: one weight per
    byte) and goes to the array's ``w`` stream with the masks of its tile: the rows of the last
    K tile beyond ``last_rows`` and the columns of the last block beyond ``last_cols`` are
    padding and load as zeros. With ``grouped`` (fineq-v2), every group of ``2**group_log2``
    tiles of a block is preceded by a line of ``scale_beats`` words holding one unsigned factor
    byte per column; the line goes to ``scales`` (a 4-line FIFO the accumulator reads) instead.

    Latency: 2 cycles from a word entering the FIFO to the array (FIFO output register, decoder
    register). Throughput: one bus word per cycle.
    """

    def __init__(self, config: AcceleratorConfig):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        bits = 8 * config.bus_bytes
        layout = w_layout(config.array, config.kind, config.load_width)
        super().__init__({
            "go": In(1),
            "chunks": In(16), "kt": In(16), "nb": In(16),
            "grouped": In(1), "group_log2": In(4),
            "last_rows": In(range(config.rows + 1)), "last_cols": In(range(config.cols + 1)),
            "w_addr": In(32), "w_words": In(32),
            # DMA read client
            "dma_start": Out(1), "dma_addr": Out(32), "dma_words": Out(32), "dma_busy": In(1),
            "dma_data": In(stream.Signature(bits)),
            "space": Out(range(config.w_fifo_words + 1)),
            # to the array, and the group factors to the accumulator
            "o": Out(stream.Signature(layout)),
            "scales": Out(stream.Signature(8 * config.cols)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=8 * cfg.bus_bytes, depth=cfg.w_fifo_words)
        wiring.connect(m, wiring.flipped(self.dma_data), fifo.w_stream)
        m.d.comb += self.space.eq(cfg.w_fifo_words - fifo.level)
        self._requests(m)
        pos = self._position(m)

        # One register between the FIFO and the array (decoded codes and the tile's masks); a
        # group-factor line goes to the accumulator's FIFO instead.
        valid = Signal()
        payload = Signal(self.o.payload.shape())
        take = ~valid | self.o.ready
        to_array = fifo.r_rdy & ~pos.scale
        to_scales = fifo.r_rdy & pos.scale & (~pos.scale_last | pos.scales_ready)
        m.d.comb += [fifo.r_en.eq(Mux(pos.scale, to_scales, take)), pos.advance.eq(fifo.r_en & fifo.r_rdy)]
        with m.If(take):
            m.d.sync += valid.eq(to_array)
            with m.If(to_array):
                m.d.sync += [payload.data.eq(self._decode(fifo.r_data)),
                             payload.rows.eq(pos.rows), payload.cols.eq(pos.cols)]
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.eq(payload)]
        self._factor_lines(m, pos, fifo.r_data)
        return m

    def _factor_lines(self, m, pos, word):
        """Group-factor lines (one byte per column) into a small FIFO for the accumulator."""
        cfg = self.config
        if not cfg.group_scales:
            return
        m.submodules.scales = scales = SyncFIFOBuffered(width=8 * cfg.cols, depth=4)
        wiring.connect(m, scales.r_stream, wiring.flipped(self.scales))
        line = Signal(8 * cfg.scale_beats * cfg.bus_bytes)
        with m.If(pos.advance & pos.scale):
            for j in range(cfg.scale_beats):
                with m.If(pos.sbeat == j):
                    m.d.sync += line.word_select(j, 8 * cfg.bus_bytes).eq(word)
        full = Cat(*(word if j == cfg.scale_beats - 1 else
                     line.word_select(j, 8 * cfg.bus_bytes) for j in range(cfg.scale_beats)))
        m.d.comb += [scales.w_data.eq(full[:8 * cfg.cols]),
                     scales.w_en.eq(pos.advance & pos.scale & pos.scale_last),
                     pos.scales_ready.eq(scales.w_rdy)]

    def _decode(self, word):
        cfg = self.config
        lanes = [word[8 * i:8 * i + 8] for i in range(cfg.bus_bytes)]
        if cfg.kind is ArrayKind.MAC8X8:
            return Cat(*lanes)
        out = []
        for byte in lanes:
            out += decode_byte(byte)
        return Cat(*out)

    def _requests(self, m):
        """One DMA request for the whole image per chunk, the next once the last has landed."""
        left = Signal(16)
        issued = Signal()  # dma_start pulsed, dma_busy not yet seen
        m.d.comb += [self.dma_addr.eq(self.w_addr), self.dma_words.eq(self.w_words)]
        m.d.sync += self.dma_start.eq(0)
        with m.If(self.dma_busy):
            m.d.sync += issued.eq(0)
        with m.If(~self.dma_busy & ~issued & ~self.dma_start & (left != 0)):
            m.d.sync += [self.dma_start.eq(1), issued.eq(1), left.eq(left - 1)]
        with m.If(self.go):
            m.d.sync += [left.eq(self.chunks), issued.eq(0)]

    def _position(self, m):
        """Where the word leaving the FIFO sits in the image: a block's group-factor line
        (with ``grouped``, before every group of ``2**group_log2`` tiles) or a tile word; and
        the padding masks of its tile."""
        cfg = self.config
        pos = SimpleNamespace(advance=Signal(), scale=Signal(), scale_last=Signal(),
                              scales_ready=Signal(), sbeat=Signal(range(max(2, cfg.scale_beats))),
                              rows=Signal(cfg.rows), cols=Signal(cfg.cols))
        beat = Signal(range(max(2, cfg.line_beats)))  # (never a zero-width signal)
        t, b, tg = Signal(16), Signal(16), Signal(16)
        kt_m1, nb_m1 = minus_one(m, "kt", self.kt), minus_one(m, "nb", self.nb)
        last_beat, last_t, last_b = beat == cfg.line_beats - 1, t == kt_m1, b == nb_m1
        group_end = tg == (1 << self.group_log2) - 1
        grouped = self.grouped if cfg.group_scales else 0
        m.d.comb += pos.scale_last.eq(pos.sbeat == cfg.scale_beats - 1)
        with m.If(pos.advance & pos.scale):
            m.d.sync += pos.sbeat.eq(Mux(pos.scale_last, 0, pos.sbeat + 1))
            with m.If(pos.scale_last):
                m.d.sync += pos.scale.eq(0)
        with m.If(pos.advance & ~pos.scale):
            m.d.sync += beat.eq(Mux(last_beat, 0, beat + 1))
            with m.If(last_beat):
                m.d.sync += [t.eq(Mux(last_t, 0, t + 1)), tg.eq(Mux(group_end | last_t, 0, tg + 1))]
                # a new group (or the next block's first) starts with its factor line
                m.d.sync += pos.scale.eq(grouped & (group_end | last_t))
                with m.If(last_t):
                    m.d.sync += b.eq(Mux(last_b, 0, b + 1))
        with m.If(self.go):
            m.d.sync += [beat.eq(0), t.eq(0), b.eq(0), tg.eq(0), pos.sbeat.eq(0),
                         pos.scale.eq(grouped)]
        full_rows, full_cols = (1 << cfg.rows) - 1, (1 << cfg.cols) - 1
        m.d.comb += [
            pos.rows.eq(Mux(last_t, thermometer(self.last_rows, cfg.rows), full_rows)),
            pos.cols.eq(Mux(last_b, thermometer(self.last_cols, cfg.cols), full_cols)),
        ]
        return pos
