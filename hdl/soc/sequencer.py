"""Job sequencer: checks a job, starts the engines, loads activations chunk by chunk, keeps the
status and the performance counters."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from .accel_config import AcceleratorConfig
from .arith import add_wide, minus_one
from .geometry import Geometry
from .regmap import ErrorCode

__all__ = ["Sequencer", "JobState"]


class JobState(enum.Enum, shape=3):
    """States of the sequencer. FINISH is the ``default`` branch of the state decoder, so
    every encoding is decoded and an unused one finishes the job."""

    IDLE = 0
    SETUP = 1  # geometry
    X_LOAD = 2  # one chunk of activations into the buffer
    X_FEED = 3  # the chunk through the array, once per tile
    DRAIN = 4  # the last blocks' write-back
    ABORT = 5  # after an error: let the DMA finish its bursts
    FINISH = 6


class Sequencer(wiring.Component):
    """Runs one job ``Y[M, N] = requant(X[M, K] @ W[N, K].T)``; see docs/accelerator.md.

    On ``start`` (when idle) the sizes and addresses are checked; an illegal job finishes at
    once with ``error`` and the code of the first failed check in this order: ZERO_SIZE,
    M_TOO_LARGE, K_TOO_LARGE, N_TOO_LARGE, MISALIGNED, BAD_GROUP. A legal job flushes the datapath (one
    cycle, so nothing of an earlier, aborted job survives), computes its geometry, pulses
    ``go`` to the engines (weight path, parameter loader, accumulator, write-back run on their
    own from there) and then, chunk by chunk of ``chunk_m`` tokens, loads the activations and
    feeds them through the array (the weights stream once per chunk). The job is done when the
    write-back has written every block.

    Errors during a job (an AXI error response, a bad requantization word) set ``halt``: no
    new transfer starts; once the DMA is idle the job finishes with the error's code. A
    ``start`` while busy is ignored and raises the warning ``start_ignored``.
    """

    def __init__(self, config: AcceleratorConfig):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        self.geometry = Geometry(config)
        super().__init__({
            "start": In(1), "clear": In(1), "bypass_in": In(1), "group_in": In(5),
            "m_size": In(32), "k_size": In(32), "n_size": In(32),
            "w_addr": In(32), "x_addr": In(32), "p_addr": In(32), "y_addr": In(32),
            "busy": Out(1), "done": Out(1), "error": Out(1), "err_code": Out(8),
            "start_ignored": Out(1),
            "cycles": Out(32), "busy_cycles": Out(32), "stall_cycles": Out(32),
            # to the engines
            "flush": Out(1), "go": Out(1), "halt": Out(1), "bypass": Out(1),
            "grouped": Out(1), "group_log2": Out(4),
            "m": Out(16), "k": Out(16), "n": Out(16),
            # activation loads (DMA client 1) and the activation buffer
            "x_start": Out(1), "x_dma_addr": Out(32), "x_dma_words": Out(32), "x_busy": In(1),
            "x_load": Out(1), "x_loaded": In(16),
            "x_feed": Out(1), "x_mc": Out(16), "x_fed": In(1),
            # progress and errors
            "wb_done": In(1), "rd_error": In(1), "wr_error": In(1), "p_bad": In(1),
            "dma_idle": In(1), "computing": In(1), "dma_stall": In(1),
        })

    def _check(self):
        cfg = self.config
        low = cfg.bus_bytes - 1  # address bits below the bus word
        misaligned = (((self.w_addr | self.x_addr | self.y_addr) & low) != 0) | \
            (~self.bypass_in & ((self.p_addr & low) != 0))
        return Mux((self.m_size == 0) | (self.k_size == 0) | (self.n_size == 0), ErrorCode.ZERO_SIZE,
               Mux(self.m_size > cfg.max_m, ErrorCode.M_TOO_LARGE,
               Mux(self.k_size > cfg.max_k, ErrorCode.K_TOO_LARGE,
               Mux(self.n_size > cfg.max_n, ErrorCode.N_TOO_LARGE,
               Mux(misaligned, ErrorCode.MISALIGNED,
               Mux(self.group_in[4] & (0 if cfg.group_scales else 1), ErrorCode.BAD_GROUP,
                   ErrorCode.NONE))))))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.geometry = geo = self.geometry
        m.d.comb += [geo.m.eq(self.m), geo.k.eq(self.k), geo.n.eq(self.n),
                     geo.bypass.eq(self.bypass), geo.grouped.eq(self.grouped),
                     geo.group_log2.eq(self.group_log2),
                     self.error.eq(self.err_code != ErrorCode.NONE)]
        state = Signal(JobState)
        busy = self.busy
        chunk = Signal(16)
        chunk_addr = Signal(32)
        # chunk == chunks - 1 as a register, set where the chunk changes (geometry's sizes and
        # a compare behind a decrement were the whole top's longest path)
        last_chunk = Signal()
        chunks_m1 = minus_one(m, "chunks", geo.chunks)
        mc = Mux(last_chunk, geo.last_m, cfg.chunk_m)
        # the next chunk's address and last flag, registered every cycle (used at a chunk's end,
        # long after the chunk changed): ABC folded the state decode into the address add
        next_addr, to_last = Signal(32), Signal()
        chunk_bytes = geo.x_row_words * cfg.chunk_m << (cfg.bus_bytes.bit_length() - 1)
        m.d.sync += [next_addr.eq(add_wide(m, "next_chunk_addr", chunk_addr, chunk_bytes)),
                     to_last.eq(chunk + 1 == chunks_m1)]
        m.d.comb += self.x_mc.eq(mc)
        m.d.sync += [self.flush.eq(0), self.go.eq(0), geo.start.eq(0), self.x_start.eq(0),
                     self.x_load.eq(0), self.x_feed.eq(0)]

        with m.If(self.clear & ~busy):
            m.d.sync += [self.done.eq(0), self.err_code.eq(ErrorCode.NONE), self.start_ignored.eq(0)]
        with m.If(self.start & busy):
            m.d.sync += self.start_ignored.eq(1)
        self._counters(m)

        with m.Switch(state):
            with m.Case(JobState.IDLE):
                with m.If(self.start):
                    code = self._check()
                    m.d.sync += [self.done.eq(code != ErrorCode.NONE), self.err_code.eq(code),
                                 self.start_ignored.eq(0)]
                    with m.If(code == ErrorCode.NONE):
                        m.d.sync += [busy.eq(1), self.halt.eq(0), self.flush.eq(1),
                                     self.m.eq(self.m_size), self.k.eq(self.k_size),
                                     self.n.eq(self.n_size), self.bypass.eq(self.bypass_in),
                                     self.grouped.eq(self.group_in[4]),
                                     self.group_log2.eq(self.group_in[:4]),
                                     state.eq(JobState.SETUP)]
            with m.Case(JobState.SETUP):
                with m.If(self.flush):  # the sizes are latched: derive the geometry
                    m.d.sync += geo.start.eq(1)
                with m.Elif(~geo.start & geo.ready):
                    m.d.sync += [self.go.eq(1), chunk.eq(0), chunk_addr.eq(self.x_addr),
                                 last_chunk.eq(geo.chunks == 1), state.eq(JobState.X_LOAD)]
                    self._load_chunk(m, self.x_addr, geo.chunks == 1)
            with m.Case(JobState.X_LOAD):
                with m.If(~self.x_start & ~self.x_busy & (self.x_loaded == mc)):
                    m.d.sync += [self.x_feed.eq(1), state.eq(JobState.X_FEED)]
            with m.Case(JobState.X_FEED):
                with m.If(~self.x_feed & self.x_fed):
                    with m.If(last_chunk):
                        m.d.sync += state.eq(JobState.DRAIN)
                    with m.Else():
                        m.d.sync += [chunk.eq(chunk + 1), chunk_addr.eq(next_addr), last_chunk.eq(to_last),
                                     state.eq(JobState.X_LOAD)]
                        self._load_chunk(m, next_addr, to_last)
            with m.Case(JobState.DRAIN):
                with m.If(self.wb_done & ~self.go):
                    m.d.sync += state.eq(JobState.FINISH)
            with m.Case(JobState.ABORT):
                with m.If(self.dma_idle):
                    m.d.sync += state.eq(JobState.FINISH)
            with m.Default():  # FINISH
                m.d.sync += [busy.eq(0), self.done.eq(1), state.eq(JobState.IDLE)]
        fault = Mux(self.rd_error, ErrorCode.AXI_READ,
                    Mux(self.wr_error, ErrorCode.AXI_WRITE, ErrorCode.BAD_PARAMS))
        # After the state decoder, so that an error wins over a transition in the same cycle;
        # error flags of an earlier job are cleared by the flush during SETUP.
        # Only while engines run: a fault in the FINISH cycle used to send the sequencer to ABORT
        # with BUSY already low, where a START was neither taken nor flagged (found by the proof
        # in verif/formal/sequencer.py); the job's last write is done by then.
        running = busy & ((state == JobState.X_LOAD) | (state == JobState.X_FEED) | (state == JobState.DRAIN))
        failing = running & (self.rd_error | self.wr_error | self.p_bad) & ~self.halt
        with m.If(failing):
            m.d.sync += [self.halt.eq(1), self.err_code.eq(fault), state.eq(JobState.ABORT)]
        return m

    def _load_chunk(self, m, addr, is_last):
        """Start the DMA read of one chunk of activation rows (contiguous in memory)."""
        geo, cfg = self.geometry, self.config
        full_words = geo.x_row_words * cfg.chunk_m
        m.d.sync += [self.x_start.eq(1), self.x_load.eq(1), self.x_dma_addr.eq(addr),
                     self.x_dma_words.eq(Mux(is_last, geo.x_last_words, full_words))]

    def _counters(self, m):
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.If(self.computing):
                m.d.sync += self.busy_cycles.eq(self.busy_cycles + 1)
            with m.If(self.dma_stall):
                m.d.sync += self.stall_cycles.eq(self.stall_cycles + 1)
        with m.If(self.start & ~self.busy):  # every START when idle resets them
            m.d.sync += [self.cycles.eq(0), self.busy_cycles.eq(0), self.stall_cycles.eq(0)]
