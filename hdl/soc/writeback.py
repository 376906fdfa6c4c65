"""Write-back: finished accumulator lines through the vector unit and the packer to memory."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datapath.array import y_layout
from .accel_config import AcceleratorConfig
from .arith import add32, minus_one
from .axi_dma import write_layout
from .packer import OutputPacker
from .vector_unit import MULT_BITS, SHIFT_BITS, VectorUnit

__all__ = ["WriteBack"]


class WriteBack(wiring.Component):
    """Writes every finished block of ``cols`` channels to ``Y``, one DMA burst per token.

    For every block ``b`` of every chunk (accumulator set ``s`` alternating) it waits for the
    set to be full and, unless in bypass, for its parameters; then for every token ``m < mc``
    it requests a DMA write of the row segment ``y[m0 + m, n0 : n0 + cw]`` at
    ``y_addr + (m0 + m) * y_stride + n0 * e`` (aligned down to the bus word; ``e`` = 1 byte in
    INT8 mode, 4 in bypass) and feeds the ``cw`` sums one per cycle through the vector unit and
    the packer into the DMA's write stream. A set (and its parameters) is released as soon as
    its last element has entered the vector unit. ``done`` rises when every block of the job is
    written. ``halt`` (after an error) stops new requests.

    Throughput: one element per cycle; a row also waits for the previous row's burst to end.
    """

    def __init__(self, config: AcceleratorConfig):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        self.line_layout = y_layout(config.array).members["data"]
        super().__init__({
            "go": In(1), "halt": In(1), "bypass": In(1),
            "nb": In(16), "chunks": In(16), "last_m": In(16), "last_cols": In(range(config.cols + 1)),
            "y_addr": In(32), "y_stride": In(32),
            # accumulator
            "full": In(2), "acc_release": Out(2),
            "rd_set": Out(1), "rd_line": Out(range(config.chunk_m)), "rd_data": In(self.line_layout),
            # parameters
            "p_ready": In(2),
            "sel_set": Out(1), "sel_col": Out(range(config.cols)),
            "bias": In(32), "mult": In(MULT_BITS), "shift": In(SHIFT_BITS),
            # DMA write engine
            "wr_start": Out(1), "wr_addr": Out(32), "wr_words": Out(32), "wr_busy": In(1),
            "wr_data": Out(stream.Signature(write_layout(8 * config.bus_bytes))),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.vu = vu = VectorUnit()
        m.submodules.packer = packer = OutputPacker(bus_bytes=cfg.bus_bytes)
        wiring.connect(m, vu.o, packer.i)
        wiring.connect(m, packer.o, wiring.flipped(self.wr_data))

        tok, b, chunk, col = Signal(16), Signal(16), Signal(16), Signal(range(cfg.cols))
        s = Signal()
        row, chunk_row, n0 = Signal(32), Signal(32), Signal(32)
        state = Signal(range(4))  # 0 wait for a block, 1 request a row, 2 feed its elements, 3 idle
        nb_m1, chunks_m1, last_m_m1, last_cols_m1 = (minus_one(m, n, getattr(self, n))
                                                     for n in ("nb", "chunks", "last_m", "last_cols"))
        last_chunk = chunk == chunks_m1
        last_tok, last_b = tok == Mux(last_chunk, last_m_m1, cfg.chunk_m - 1), b == nb_m1
        cw = Mux(last_b, self.last_cols, cfg.cols)
        last_col = col == Mux(last_b, last_cols_m1, cfg.cols - 1)
        seg = Signal(32)
        offset = Signal(range(cfg.bus_bytes))
        # the packer reads the offset when a row's first element reaches it, several cycles
        # after the row was requested: hold the requested row's offset until the next request
        row_offset = Signal(range(cfg.bus_bytes))
        m.d.comb += [
            seg.eq(add32(m, "seg", row, Mux(self.bypass, n0 << 2, n0))),
            offset.eq(seg[:(cfg.bus_bytes - 1).bit_length()]),
            packer.offset.eq(row_offset), packer.elem4.eq(self.bypass),
            self.rd_set.eq(s), self.rd_line.eq(tok), self.sel_set.eq(s), self.sel_col.eq(col),
        ]
        width = Mux(self.bypass, cw << 2, cw)
        m.d.sync += [self.wr_start.eq(0), self.acc_release.eq(0)]

        vu_in = vu.i.payload
        m.d.comb += [vu_in.acc.eq(self.rd_data[col]),
                     vu_in.bias.eq(self.bias), vu_in.mult.eq(self.mult), vu_in.shift.eq(self.shift),
                     vu_in.bypass.eq(self.bypass), vu_in.last.eq(last_col)]
        with m.Switch(state):
            with m.Case(0):
                ready = self.full.bit_select(s, 1) & (self.bypass | self.p_ready.bit_select(s, 1))
                with m.If(ready & ~self.halt):
                    m.d.sync += state.eq(1)
            with m.Case(1):
                with m.If(~self.wr_busy & ~self.wr_start & ~self.halt):
                    m.d.sync += [self.wr_start.eq(1), self.wr_addr.eq(seg & ~(cfg.bus_bytes - 1)),
                                 row_offset.eq(offset),
                                 self.wr_words.eq((offset + width + cfg.bus_bytes - 1)
                                                  >> (cfg.bus_bytes.bit_length() - 1)),
                                 state.eq(2), col.eq(0)]
            with m.Case(2):
                # rd_data holds the row: its address changed at least one cycle ago (state 1)
                m.d.comb += vu.i.valid.eq(1)
                with m.If(vu.i.valid & vu.i.ready):
                    m.d.sync += col.eq(col + 1)
                    with m.If(last_col):
                        self._next_row(m, state, tok, last_tok, b, last_b, last_chunk, chunk, s,
                                       row, chunk_row, n0)
        with m.If(self.go):
            m.d.sync += [state.eq(0), tok.eq(0), b.eq(0), chunk.eq(0), s.eq(0), col.eq(0),
                         row.eq(self.y_addr), chunk_row.eq(self.y_addr), n0.eq(0)]
        m.d.comb += self.done.eq((state == 3) & ~self.wr_busy & ~self.wr_start & ~vu.busy
                                 & ~packer.o.valid)
        return m

    def _next_row(self, m, state, tok, last_tok, b, last_b, last_chunk, chunk, s, row, chunk_row, n0):
        cfg = self.config
        next_row = add32(m, "next_row", row, self.y_stride)
        with m.If(~last_tok):
            m.d.sync += [tok.eq(tok + 1), row.eq(next_row), state.eq(1)]
        with m.Else():
            # the block's last element has entered the vector unit: free its set
            m.d.sync += [tok.eq(0), s.eq(~s), self.acc_release.eq(1 << s), state.eq(0)]
            with m.If(~last_b):
                m.d.sync += [b.eq(b + 1), n0.eq(n0 + cfg.cols), row.eq(chunk_row)]
            with m.Else():
                m.d.sync += [b.eq(0), n0.eq(0), chunk.eq(chunk + 1), row.eq(next_row),
                             chunk_row.eq(next_row)]
                with m.If(last_chunk):
                    m.d.sync += state.eq(3)
