"""Write-back: finished accumulator lines through the vector unit and the packer to memory."""

from types import SimpleNamespace

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datapath.array import y_layout
from .accel_config import AcceleratorConfig
from .arith import add_wide, minus_one
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

        # the walk over rows: token, block, chunk, column, accumulator set, byte addresses
        w = SimpleNamespace(tok=Signal(16), b=Signal(16), chunk=Signal(16), col=Signal(range(cfg.cols)),
                            s=Signal(), row=Signal(32), chunk_row=Signal(32), n0=Signal(16),  # n0 < n < 2**16
                            state=Signal(range(4)),  # 0 wait for a block, 1 request a row, 2 feed it, 3 idle
                            # registers, set where the counters change, so that no compare waits
                            # for another: chunk == chunks - 1, the chunk's tokens - 1, b == nb - 1
                            last_chunk=Signal(), mc_m1=Signal(16), last_b=Signal(),
                            fresh=Signal())  # the row address changed in the cycle before (rd_data: 2 cycles)
        for n in ("nb", "chunks", "last_m", "last_cols"):
            setattr(w, f"{n}_m1", minus_one(m, n, getattr(self, n)))
        tok, b, col, s, row, n0, state = w.tok, w.b, w.col, w.s, w.row, w.n0, w.state
        last_tok = tok == w.mc_m1
        cw = Mux(w.last_b, self.last_cols, cfg.cols)
        last_col = col == Mux(w.last_b, w.last_cols_m1, cfg.cols - 1)
        seg = w.seg = Signal(32)
        offset = Signal(range(cfg.bus_bytes))
        # the packer reads the offset when a row's first element reaches it, several cycles
        # after the row was requested: hold the requested row's offset until the next request
        row_offset = Signal(range(cfg.bus_bytes))
        # the row's first byte address (row + n0), registered: its add behind the DMA's busy
        # decode limited the whole accelerator (ASIC). Recomputed every cycle, it is right from
        # the cycle after the row changes; a row that follows in the same block (no cycle between)
        # takes ``next_seg`` (next_row + n0, right two cycles after a row changes: the row takes
        # at least 1 + cols cycles). The next row's address, registered likewise: it is needed
        # at a row's last column, and its add behind the last-column decode (whose terms ABC
        # merged into it) limited the whole accelerator
        w.next_row = Signal(32)
        m.d.sync += w.next_row.eq(add_wide(m, "next_row", row, self.y_stride))
        n0_bytes = Mux(self.bypass, n0 << 2, n0)
        w.next_seg = Signal(32)
        m.d.sync += [seg.eq(add_wide(m, "seg", row, n0_bytes)),
                     w.next_seg.eq(add_wide(m, "next_seg", w.next_row, n0_bytes))]
        m.d.comb += [
            offset.eq(seg[:(cfg.bus_bytes - 1).bit_length()]),
            packer.offset.eq(row_offset), packer.elem4.eq(self.bypass),
            self.rd_set.eq(s), self.rd_line.eq(tok), self.sel_set.eq(s), self.sel_col.eq(col),
        ]
        width = Mux(self.bypass, cw << 2, cw)
        m.d.sync += [self.wr_start.eq(0), self.acc_release.eq(0), w.fresh.eq(0)]
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
                with m.If(~self.wr_busy & ~self.wr_start & ~self.halt & ~w.fresh):
                    m.d.sync += [self.wr_start.eq(1), self.wr_addr.eq(seg & ~(cfg.bus_bytes - 1)),
                                 row_offset.eq(offset),
                                 self.wr_words.eq((offset + width + cfg.bus_bytes - 1)
                                                  >> (cfg.bus_bytes.bit_length() - 1)),
                                 state.eq(2), col.eq(0)]
            with m.Case(2):
                # rd_data holds the row: its address changed at least two cycles ago (after a
                # block, state 0 took a cycle; after a row, state 1 waits for the previous burst,
                # which ends only after its elements left the vector unit, and ``fresh`` makes
                # that a rule, not a timing accident)
                m.d.comb += vu.i.valid.eq(1)
                with m.If(vu.i.valid & vu.i.ready):
                    m.d.sync += col.eq(col + 1)
                    with m.If(last_col):
                        self._next_row(m, w, last_tok)
        with m.If(self.go):
            m.d.sync += [state.eq(0), tok.eq(0), b.eq(0), w.chunk.eq(0), s.eq(0), col.eq(0),
                         row.eq(self.y_addr), w.chunk_row.eq(self.y_addr), n0.eq(0),
                         w.last_b.eq(self.nb == 1), w.last_chunk.eq(self.chunks == 1),
                         w.mc_m1.eq(Mux(self.chunks == 1, self.last_m, cfg.chunk_m) - 1)]
        m.d.comb += self.done.eq((state == 3) & ~self.wr_busy & ~self.wr_start & ~vu.busy
                                 & ~packer.o.valid)
        return m

    def _next_row(self, m, w, last_tok):
        cfg = self.config
        next_row = w.next_row
        with m.If(~last_tok):
            m.d.sync += [w.tok.eq(w.tok + 1), w.row.eq(next_row), w.state.eq(1), w.seg.eq(w.next_seg),
                         w.fresh.eq(1)]
        with m.Else():
            # the block's last element has entered the vector unit: free its set
            m.d.sync += [w.tok.eq(0), w.s.eq(~w.s), self.acc_release.eq(1 << w.s), w.state.eq(0)]
            with m.If(~w.last_b):
                m.d.sync += [w.b.eq(w.b + 1), w.last_b.eq(w.b + 1 == w.nb_m1), w.n0.eq(w.n0 + cfg.cols),
                             w.row.eq(w.chunk_row)]
            with m.Else():
                to_last = w.chunk + 1 == w.chunks_m1
                m.d.sync += [w.b.eq(0), w.last_b.eq(w.nb_m1 == 0), w.n0.eq(0), w.chunk.eq(w.chunk + 1),
                             w.last_chunk.eq(to_last), w.mc_m1.eq(Mux(to_last, w.last_m_m1, cfg.chunk_m - 1)),
                             w.row.eq(next_row), w.chunk_row.eq(next_row)]
                with m.If(w.last_chunk):
                    m.d.sync += w.state.eq(3)
