"""Controller of the accelerator: job sequencing, buffers, feeders, accumulation, perf counters."""

from amaranth.hdl import Cat, Const, Module, Mux, ResetInserter, Signal, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .accel_config import AcceleratorConfig
from ..datapath.array import SystolicArray
from .buffers import LineAssembler, OutputPacker, WordUnpacker
from ..datapath.config import ArrayKind
from ..datapath.decoder import Decoder
from .regmap import ErrorCode
from .vector_unit import SHIFT_MAX, SHIFT_MIN, VectorUnit

__all__ = ["Controller", "JobState"]


class JobState(enum.Enum, shape=4):
    """States of the job sequencer (docs/accelerator.md). FINISH is the ``default`` branch of
    the state decoder, so every encoding is decoded and an unused one finishes the job."""

    IDLE = 0
    SETUP = 1
    SETUP2 = 2
    LOAD_X = 3
    BLOCK = 4
    BLOCK_W = 5
    LOAD_W = 6
    LOAD_P = 7
    COMPUTE = 8
    ROW = 9
    ROW_WAIT = 10
    ABORT = 11
    FINISH = 12

# ceil(k / 3) = ((k + 2) * 43691) >> 17, exact for k + 2 < 2**17 (43691 = ceil(2**17 / 3)).
_DIV3_MUL, _DIV3_SHIFT = 43691, 17


class Controller(wiring.Component):
    """Runs one job ``Y[M, N] = requant(X[M, K] @ W[N, K].T)`` from memory to memory.

    Sequence (docs/accelerator.md has the memory layout and the cycle model):

    1. ``LOAD_X``: the DMA reads all of X (``M`` rows of ``ceil(K/4)`` words) into the
       activation buffer, one line of ``rows`` INT8 values per K tile (line ``m*max_kt + kt``).
    2. For each block of ``cols`` output channels ``n0 = 0, cols, ...``:

       a. ``LOAD_W``: the block's packed rows into the weight buffer (line ``c*max_kt + kt``
          holds the ``rows/3`` cluster bytes of column ``c`` in K tile ``kt``);
       b. ``LOAD_P`` (not in bypass): two requantization words per channel into registers;
       c. ``COMPUTE``: three counters run the K tiles: the weight feeder sends every tile's
          ``cols`` columns through the decoder into the array, the activation feeder every
          tile's ``M`` vectors (``last`` on the tile's final one), and the accumulator adds each
          output beat into accumulator line ``m`` (the first K tile overwrites it);
       d. ``WRITE``: per token, the accumulator line goes element by element through the vector
          unit and the output packer to one DMA write of the row segment.

    Errors (zero sizes, sizes beyond the buffers, misaligned addresses, a bad requantization
    word, an AXI error response) end the job with ``error`` and a code; a job stopped by an AXI
    error first lets the DMA finish its burst. A ``start`` while busy only records
    ``START_WHILE_BUSY``. Every job begins with a one-cycle flush of the whole datapath, so a
    job aborted half-way leaves nothing behind.

    Latency/throughput: see the cycle model in docs/accelerator.md.
    """

    def __init__(self, config: AcceleratorConfig):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        super().__init__({
            # Job parameters (from the register file) and commands.
            "start": In(1), "clear": In(1), "bypass": In(1),
            "m_size": In(32), "k_size": In(32), "n_size": In(32),
            "w_addr": In(32), "x_addr": In(32), "p_addr": In(32), "y_addr": In(32),
            # Status.
            "busy": Out(1), "done": Out(1), "error": Out(1), "err_code": Out(8),
            "cycles": Out(32), "busy_cycles": Out(32), "stall_cycles": Out(32),
            # DMA engines (hdl/soc/axi_dma.py), seen from the controller.
            "rd_start": Out(1), "rd_addr": Out(32), "rd_words": Out(24),
            "rd_busy": In(1), "rd_error": In(1),
            "rd_data": In(stream.Signature(32)),
            "wr_start": Out(1), "wr_addr": Out(32), "wr_words": Out(24),
            "wr_busy": In(1), "wr_error": In(1),
            "wr_data": Out(stream.Signature(data.StructLayout({"data": 32, "strb": 4}))),
            "dma_stall": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        rows, cols, max_kt = cfg.rows, cfg.cols, cfg.max_kt
        cw16 = 16

        flush = Signal()  # one-cycle reset of the datapath at the start of every job

        def dp(name, elaboratable):
            m.submodules[name] = ResetInserter(flush)(elaboratable)
            return elaboratable

        unpacker = dp("unpacker", WordUnpacker(count_width=cw16))
        x_asm = dp("x_assembler", LineAssembler(lanes=rows))
        w_asm = dp("w_assembler", LineAssembler(lanes=cfg.w_lanes))
        decoder = dp("decoder", Decoder(lanes=cfg.w_lanes))
        array = dp("array", SystolicArray(cfg.array, ArrayKind.FINEQ))
        vu = dp("vector_unit", VectorUnit(acc_width=cfg.array.acc_width))
        packer = dp("packer", OutputPacker())

        m.submodules.x_buffer = x_mem = Memory(shape=8 * rows, depth=cfg.x_depth, init=[])
        m.submodules.w_buffer = w_mem = Memory(shape=8 * cfg.w_lanes, depth=cfg.w_depth, init=[])
        acc_shape = data.ArrayLayout(signed(32), cols)
        m.submodules.acc_buffer = acc_mem = Memory(shape=acc_shape, depth=cfg.max_m, init=[])

        # Latched job geometry ------------------------------------------------------------------
        M = Signal(16)
        K = Signal(16)
        N = Signal(16)
        bypass = Signal()
        xpr = Signal(15)  # words per activation row: ceil(K / 4)
        clusters = Signal(16)  # cluster bytes per weight row: ceil(K / 3)
        wpr = Signal(15)  # words per weight row: ceil(clusters / 4)
        n0 = Signal(17)  # first channel of the block
        cw = Signal(range(cols + 1))  # channels in the block: min(cols, N - n0)
        w_ptr = Signal(32)  # address of the block's packed rows
        p_ptr = Signal(32)
        ystride = Signal(32)  # bytes per output row: 4*ceil(N/4) (INT8) or 4*N (INT32)
        y_row = Signal(32)  # address of output row m
        wm = Signal(16)  # token of the output row being written

        # Status --------------------------------------------------------------------------------
        done = Signal()
        err_code = Signal(8)
        m.d.comb += [self.done.eq(done), self.err_code.eq(err_code),
                     self.error.eq(err_code != ErrorCode.NONE)]

        def fail(code):
            # The first error wins, except that a fatal error replaces START_WHILE_BUSY (which
            # does not harm the running job), so STATUS never hides a failed job.
            fatal = code != ErrorCode.START_WHILE_BUSY
            with m.If((err_code == ErrorCode.NONE)
                      | (fatal & (err_code == ErrorCode.START_WHILE_BUSY))):
                m.d.sync += err_code.eq(code)

        # Reader routing -------------------------------------------------------------------------
        route = Signal(2)  # 0 activations, 1 weights, 2 params
        ROUTE_X, ROUTE_W, ROUTE_P = 0, 1, 2
        m.d.comb += [
            unpacker.i.payload.eq(self.rd_data.payload),
            unpacker.i.valid.eq(self.rd_data.valid & (route != ROUTE_P)),
            unpacker.row_bytes.eq(Mux(route == ROUTE_X, K, clusters)),
            unpacker.row_words.eq(Mux(route == ROUTE_X, xpr, wpr)),
            x_asm.i.payload.eq(unpacker.o.payload),
            w_asm.i.payload.eq(unpacker.o.payload),
            x_asm.i.valid.eq(unpacker.o.valid & (route == ROUTE_X)),
            w_asm.i.valid.eq(unpacker.o.valid & (route == ROUTE_W)),
            unpacker.o.ready.eq(Mux(route == ROUTE_X, x_asm.i.ready, w_asm.i.ready)),
            self.rd_data.ready.eq(Mux(route == ROUTE_P, 1, unpacker.i.ready)),
            x_asm.o.ready.eq(1),
            w_asm.o.ready.eq(1),
        ]

        # Buffer writes: a row's lines at base + j; the next row starts max_kt lines further.
        rows_in = Signal(16)  # rows completed in the current load
        x_wr = x_mem.write_port()
        w_wr = w_mem.write_port()
        for which, asm, wr in (("x", x_asm, x_wr), ("w", w_asm, w_wr)):
            base = Signal(range(max(cfg.x_depth, cfg.w_depth) + max_kt + 1), name=f"{which}_base")
            j = Signal(range(max_kt + 1), name=f"{which}_line")
            m.d.comb += [wr.addr.eq(base + j), wr.data.eq(asm.o.payload.data),
                         wr.en.eq(asm.o.valid)]
            with m.If(asm.o.valid):
                with m.If(asm.o.payload.last):
                    m.d.sync += [base.eq(base + max_kt), j.eq(0), rows_in.eq(rows_in + 1)]
                with m.Else():
                    m.d.sync += j.eq(j + 1)
            with m.If(flush | self.rd_start):
                m.d.sync += [base.eq(0), j.eq(0)]
        with m.If(self.rd_start):
            m.d.sync += rows_in.eq(0)

        # Requantization parameters (one entry per column of the block).
        bias = [Signal(signed(32), name=f"bias{c}") for c in range(cols)]
        mult = [Signal(15, name=f"mult{c}") for c in range(cols)]
        shift = [Signal(6, name=f"shift{c}") for c in range(cols)]
        p_count = Signal(range(2 * cols + 1))
        p_bad = Signal()
        p_word = self.rd_data.payload
        with m.If(self.rd_data.valid & self.rd_data.ready & (route == ROUTE_P)):
            m.d.sync += p_count.eq(p_count + 1)
            for c in range(cols):
                with m.If(p_count == 2 * c):
                    m.d.sync += bias[c].eq(p_word)
                with m.If(p_count == 2 * c + 1):
                    m.d.sync += [mult[c].eq(p_word[0:15]), shift[c].eq(p_word[16:22])]
            word_shift = p_word[16:24]
            bad = (p_word[15] | (p_word[24:32] != 0) | (word_shift < SHIFT_MIN)
                   | (word_shift > SHIFT_MAX))
            with m.If(p_count[0] & bad):
                m.d.sync += p_bad.eq(1)
        with m.If(self.rd_start):
            m.d.sync += [p_count.eq(0), p_bad.eq(0)]

        # Compute: weight feeder -> decoder -> array.w -----------------------------------------
        go = Signal()  # pulse: start the three compute counters
        last_kt = Signal(range(max_kt))  # index of the last K tile
        wf_active = Signal()
        wf_kt = Signal(range(max_kt))
        wf_c = Signal(range(cols))
        wf_addr = Signal(range(cfg.w_depth))
        wf_valid = Signal()
        wf_mask = Signal()
        w_rd = w_mem.read_port()
        wf_en = ~wf_valid | decoder.i.ready
        wf_issue = wf_active & wf_en
        m.d.comb += [w_rd.addr.eq(wf_addr), w_rd.en.eq(wf_en)]
        with m.If(wf_en):
            m.d.sync += [wf_valid.eq(wf_issue), wf_mask.eq(wf_c >= cw)]
        with m.If(wf_issue):
            with m.If(wf_c == cols - 1):
                m.d.sync += [wf_c.eq(0), wf_kt.eq(wf_kt + 1), wf_addr.eq(wf_kt + 1)]
                with m.If(wf_kt == last_kt):
                    m.d.sync += wf_active.eq(0)
            with m.Else():
                m.d.sync += [wf_c.eq(wf_c + 1), wf_addr.eq(wf_addr + max_kt)]
        with m.If(go):
            m.d.sync += [wf_active.eq(1), wf_kt.eq(0), wf_c.eq(0), wf_addr.eq(0)]
        m.d.comb += [
            decoder.i.valid.eq(wf_valid),
            decoder.i.payload.eq(Mux(wf_mask, 0, w_rd.data)),
        ]
        wiring.connect(m, decoder.o, array.w)

        # Activation feeder -> array.x
        xf_active = Signal()
        xf_kt = Signal(range(max_kt))
        xf_m = Signal(16)
        xf_addr = Signal(range(cfg.x_depth + max_kt))
        xf_valid = Signal()
        xf_last = Signal()
        x_rd = x_mem.read_port()
        xf_en = ~xf_valid | array.x.ready
        xf_issue = xf_active & xf_en
        m.d.comb += [x_rd.addr.eq(xf_addr), x_rd.en.eq(xf_en)]
        with m.If(xf_en):
            m.d.sync += [xf_valid.eq(xf_issue), xf_last.eq(xf_m == M - 1)]
        with m.If(xf_issue):
            with m.If(xf_m == M - 1):
                m.d.sync += [xf_m.eq(0), xf_kt.eq(xf_kt + 1), xf_addr.eq(xf_kt + 1)]
                with m.If(xf_kt == last_kt):
                    m.d.sync += xf_active.eq(0)
            with m.Else():
                m.d.sync += [xf_m.eq(xf_m + 1), xf_addr.eq(xf_addr + max_kt)]
        with m.If(go):
            m.d.sync += [xf_active.eq(1), xf_kt.eq(0), xf_m.eq(0), xf_addr.eq(0)]
        m.d.comb += [
            array.x.valid.eq(xf_valid),
            array.x.payload.data.eq(x_rd.data),
            array.x.payload.last.eq(xf_last),
        ]

        # Accumulator: acc[m] = (kt == 0 ? 0 : acc[m]) + y, read one beat ahead.
        acc_wr = acc_mem.write_port()
        acc_rd = acc_mem.read_port(transparent_for=(acc_wr,))
        ac_kt = Signal(range(max_kt))
        ac_m = Signal(16)
        ac_done = Signal()
        y_take = array.y.valid & array.y.ready
        m.d.comb += array.y.ready.eq(1)
        ac_next = Mux(ac_m == M - 1, 0, ac_m + 1)
        m.d.comb += [
            acc_rd.addr.eq(Mux(y_take, ac_next, ac_m)),
            acc_wr.addr.eq(ac_m),
            acc_wr.en.eq(y_take),
        ]
        for c in range(cols):
            prev = Mux(ac_kt == 0, 0, acc_rd.data[c])
            m.d.comb += acc_wr.data[c].eq(prev + array.y.payload.data[c])
        with m.If(y_take):
            m.d.sync += ac_m.eq(ac_next)
            with m.If(ac_m == M - 1):
                m.d.sync += ac_kt.eq(ac_kt + 1)
                with m.If(ac_kt == last_kt):
                    m.d.sync += ac_done.eq(1)
        with m.If(go):
            m.d.sync += [ac_kt.eq(0), ac_m.eq(0), ac_done.eq(0)]

        # Write-back: accumulator line -> vector unit -> packer -> DMA ------------------------
        row_go = Signal()  # pulse: feed output row wm
        ef_active = Signal()
        ef_loaded = Signal()
        ef_c = Signal(range(cols))
        out_rd = acc_mem.read_port()
        m.d.comb += out_rd.addr.eq(wm)
        sel_acc = Signal(signed(32))
        sel_bias = Signal(signed(32))
        sel_mult = Signal(15)
        sel_shift = Signal(6)
        with m.Switch(ef_c):
            for c in range(cols):
                with (m.Case(c) if c < cols - 1 else m.Default()):
                    m.d.comb += [sel_acc.eq(out_rd.data[c]), sel_bias.eq(bias[c]),
                                 sel_mult.eq(mult[c]), sel_shift.eq(shift[c])]
        m.d.comb += [
            vu.i.valid.eq(ef_active & ef_loaded),
            vu.i.payload.acc.eq(sel_acc),
            vu.i.payload.bias.eq(sel_bias),
            vu.i.payload.mult.eq(sel_mult),
            vu.i.payload.shift.eq(sel_shift),
            vu.i.payload.bypass.eq(bypass),
            vu.i.payload.last.eq(ef_c == cw - 1),
        ]
        with m.If(ef_active):
            m.d.sync += ef_loaded.eq(1)  # the read port has the line one cycle after row_go
        with m.If(vu.i.valid & vu.i.ready):
            m.d.sync += ef_c.eq(ef_c + 1)
            with m.If(ef_c == cw - 1):
                m.d.sync += [ef_active.eq(0), ef_loaded.eq(0)]
        with m.If(row_go):
            m.d.sync += [ef_active.eq(1), ef_loaded.eq(0), ef_c.eq(0)]
        m.d.comb += [
            packer.i.valid.eq(vu.o.valid),
            packer.i.payload.data.eq(vu.o.payload.data),
            packer.i.payload.last.eq(vu.o.payload.last),
            vu.o.ready.eq(packer.i.ready),
            packer.int8.eq(~bypass),
        ]
        wiring.connect(m, packer.o, wiring.flipped(self.wr_data))

        # Output row address: y_row + n0 * element size, aligned down; the byte offset goes to
        # the packer. Words: ceil((offset + cw) / 4) for INT8, cw for INT32.
        seg = Signal(32)
        m.d.comb += seg.eq(y_row + Mux(bypass, n0 << 2, n0))
        offset = Signal(2)
        m.d.comb += [offset.eq(seg[0:2]), packer.offset.eq(offset)]

        # Sequencer -------------------------------------------------------------------------------
        busy = Signal()
        m.d.comb += self.busy.eq(busy)
        bad_size = Signal(8)
        m.d.comb += bad_size.eq(
            Mux((self.m_size == 0) | (self.k_size == 0) | (self.n_size == 0), ErrorCode.ZERO_SIZE,
            Mux(self.m_size > cfg.max_m, ErrorCode.M_TOO_LARGE,
            Mux(self.k_size > cfg.max_k, ErrorCode.K_TOO_LARGE,
            Mux(self.n_size > cfg.max_n, ErrorCode.N_TOO_LARGE,
            Mux((self.w_addr[0:2] != 0) | (self.x_addr[0:2] != 0) | (self.y_addr[0:2] != 0)
                | (~self.bypass & (self.p_addr[0:2] != 0)), ErrorCode.MISALIGNED,
                ErrorCode.NONE))))))

        with m.If(self.clear & ~busy):
            m.d.sync += [done.eq(0), err_code.eq(ErrorCode.NONE)]
        with m.If(self.start & busy):
            fail(ErrorCode.START_WHILE_BUSY)

        # Performance counters.
        with m.If(busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.If(self.dma_stall):
                m.d.sync += self.stall_cycles.eq(self.stall_cycles + 1)

        job_state = Signal(JobState)

        with m.Switch(job_state):
            with m.Case(job_state.enum.IDLE):
                with m.If(self.start):
                    m.d.sync += [done.eq(0), err_code.eq(bad_size)]
                    with m.If(bad_size != ErrorCode.NONE):
                        m.d.sync += done.eq(1)
                    with m.Else():
                        m.d.sync += [
                            busy.eq(1), flush.eq(1),
                            self.cycles.eq(1), self.busy_cycles.eq(0), self.stall_cycles.eq(0),
                            M.eq(self.m_size), K.eq(self.k_size), N.eq(self.n_size),
                            bypass.eq(self.bypass),
                        ]
                        m.d.sync += job_state.eq(job_state.enum.SETUP)
            with m.Case(job_state.enum.SETUP):
                m.d.sync += flush.eq(0)
                kk = K + 2
                m.d.sync += [
                    xpr.eq((K + 3) >> 2),
                    clusters.eq((kk * _DIV3_MUL) >> _DIV3_SHIFT),
                    n0.eq(0),
                    w_ptr.eq(self.w_addr),
                    p_ptr.eq(self.p_addr),
                    ystride.eq(Mux(bypass, N << 2, (N + 3) & ~3)),
                    last_kt.eq(0),
                ]
                m.d.sync += job_state.eq(job_state.enum.SETUP2)
            with m.Case(job_state.enum.SETUP2):
                # last_kt = ceil(K / rows) - 1, by counting (at most max_kt cycles).
                m.d.sync += wpr.eq((clusters + 3) >> 2)
                with m.If((last_kt + 1) * rows < K):
                    m.d.sync += last_kt.eq(last_kt + 1)
                with m.Else():
                    m.d.sync += [
                        route.eq(ROUTE_X),
                        self.rd_start.eq(1), self.rd_addr.eq(self.x_addr),
                        self.rd_words.eq(M * xpr),
                    ]
                    m.d.sync += job_state.eq(job_state.enum.LOAD_X)
            with m.Case(job_state.enum.LOAD_X):
                m.d.sync += self.rd_start.eq(0)
                with m.If(~self.rd_start & self.rd_error):  # (rd_start clears an old error)
                    fail(ErrorCode.AXI_READ)
                    m.d.sync += job_state.eq(job_state.enum.ABORT)
                with m.Elif(~self.rd_start & ~self.rd_busy & (rows_in == M)):
                    m.d.sync += job_state.eq(job_state.enum.BLOCK)
            with m.Case(job_state.enum.BLOCK):
                m.d.sync += [
                    cw.eq(Mux(N - n0 < cols, N - n0, cols)),
                    route.eq(ROUTE_W),
                ]
                m.d.sync += job_state.eq(job_state.enum.BLOCK_W)
            with m.Case(job_state.enum.BLOCK_W):
                m.d.sync += [self.rd_start.eq(1), self.rd_addr.eq(w_ptr),
                             self.rd_words.eq(cw * wpr)]
                m.d.sync += job_state.eq(job_state.enum.LOAD_W)
            with m.Case(job_state.enum.LOAD_W):
                m.d.sync += self.rd_start.eq(0)
                with m.If(~self.rd_start & self.rd_error):  # (rd_start clears an old error)
                    fail(ErrorCode.AXI_READ)
                    m.d.sync += job_state.eq(job_state.enum.ABORT)
                with m.Elif(~self.rd_start & ~self.rd_busy & (rows_in == cw)):
                    with m.If(bypass):
                        m.d.sync += go.eq(1)
                        m.d.sync += job_state.eq(job_state.enum.COMPUTE)
                    with m.Else():
                        m.d.sync += [route.eq(ROUTE_P), self.rd_start.eq(1),
                                     self.rd_addr.eq(p_ptr), self.rd_words.eq(cw << 1)]
                        m.d.sync += job_state.eq(job_state.enum.LOAD_P)
            with m.Case(job_state.enum.LOAD_P):
                m.d.sync += self.rd_start.eq(0)
                with m.If(~self.rd_start & self.rd_error):  # (rd_start clears an old error)
                    fail(ErrorCode.AXI_READ)
                    m.d.sync += job_state.eq(job_state.enum.ABORT)
                with m.Elif(~self.rd_start & ~self.rd_busy):
                    with m.If(p_bad):
                        fail(ErrorCode.BAD_PARAMS)
                        m.d.sync += job_state.eq(job_state.enum.FINISH)
                    with m.Else():
                        m.d.sync += go.eq(1)
                        m.d.sync += job_state.eq(job_state.enum.COMPUTE)
            with m.Case(job_state.enum.COMPUTE):
                m.d.sync += [go.eq(0), self.busy_cycles.eq(self.busy_cycles + 1)]
                with m.If(~go & ac_done):
                    m.d.sync += [wm.eq(0), y_row.eq(self.y_addr)]
                    m.d.sync += job_state.eq(job_state.enum.ROW)
            with m.Case(job_state.enum.ROW):
                m.d.sync += [
                    self.wr_start.eq(1), self.wr_addr.eq(seg & ~3),
                    self.wr_words.eq(Mux(bypass, cw, (offset + cw + 3) >> 2)),
                    row_go.eq(1),
                ]
                m.d.sync += job_state.eq(job_state.enum.ROW_WAIT)
            with m.Case(job_state.enum.ROW_WAIT):
                m.d.sync += [self.wr_start.eq(0), row_go.eq(0)]
                with m.If(~self.wr_start & ~self.wr_busy):
                    with m.If(self.wr_error):
                        fail(ErrorCode.AXI_WRITE)
                        m.d.sync += job_state.eq(job_state.enum.ABORT)
                    with m.Elif(wm == M - 1):
                        m.d.sync += [
                            n0.eq(n0 + cols),
                            w_ptr.eq(w_ptr + ((cw * wpr) << 2)),
                            p_ptr.eq(p_ptr + (cw << 3)),
                        ]
                        with m.If(n0 + cols >= N):
                            m.d.sync += job_state.eq(job_state.enum.FINISH)
                        with m.Else():
                            m.d.sync += job_state.eq(job_state.enum.BLOCK)
                    with m.Else():
                        m.d.sync += [wm.eq(wm + 1), y_row.eq(y_row + ystride)]
                        m.d.sync += job_state.eq(job_state.enum.ROW)
            with m.Case(job_state.enum.ABORT):
                # The error is recorded; let the DMA finish its burst, then stop.
                m.d.sync += [self.rd_start.eq(0), self.wr_start.eq(0)]
                with m.If(~self.rd_busy & ~self.wr_busy):
                    m.d.sync += job_state.eq(job_state.enum.FINISH)
            with m.Default():  # FINISH
                m.d.sync += [busy.eq(0), done.eq(1)]
                m.d.sync += job_state.eq(job_state.enum.IDLE)
        return m
