"""Top level of the FineQ accelerator: AXI4-Lite registers, AXI4 DMA, the engines, interrupt.

Block diagram (docs/accelerator.md)::

    memory ==AXI4==> DMA --P--> parameter loader ----------------------------------+
                      |  --X--> slice --> gearbox --> activation buffer -x--+       |
                      |  --W--> weight FIFO --> decoder --> skid --w--> PE array    |
                      |                                   (credit buffer) | y        |
                      |                         (factor lines) skid buffers         |
                      |                                            accumulator (2 sets)
                      |                                                  |          |
                      +<==== packer <-- vector unit <-- write-back ------+----------+
    host ==AXI4-Lite==> register file <--> sequencer (geometry, chunks, status) --> irq
"""

from amaranth.hdl import Module, ResetInserter
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..datapath.array import PEArray
from .accel_config import KIND_CODES, AcceleratorConfig
from .accumulator import Accumulator
from .activation_buffer import ActivationBuffer
from .axi import Axi4Signature, AxiLiteSignature
from .axi_dma import AxiDma
from .credit_buffer import CreditBuffer, connect_results, result_layout
from .gearbox import RowGearbox
from .param_loader import ParamLoader
from .regfile import RegisterFile
from .register_slice import RegisterSlice
from .regmap import ADDR_BITS, ID_VALUE
from .sequencer import Sequencer
from .skid_buffer import SkidBuffer
from .weight_path import WeightPath
from .writeback import WriteBack

__all__ = ["Accelerator", "READ_CLIENTS"]

READ_CLIENTS = ("params", "activations", "weights")  # DMA read clients, highest priority first
READ_CREDIT = (False, False, True)  # which wait for room: the weight FIFO; the others always drain


class Accelerator(wiring.Component):
    """The whole accelerator with standard SoC interfaces.

    Ports (Verilog names): ``s_axil__*`` AXI4-Lite subordinate (registers, hdl/soc/regmap.py),
    ``m_axi__*`` AXI4 manager (``8 * bus_bytes``-bit data, 32-bit addresses, INCR bursts),
    ``irq`` (level, high while STATUS.DONE and IRQ_ENABLE.DONE), and Amaranth's ``clk`` and
    synchronous active-high ``rst``.

    Latency and throughput: see the cycle model in docs/accelerator.md.
    """

    def __init__(self, config: AcceleratorConfig):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        super().__init__({
            "s_axil": In(AxiLiteSignature(addr_width=ADDR_BITS)),
            "m_axi": Out(Axi4Signature(addr_width=32, data_width=8 * config.bus_bytes)),
            "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.regs = regs = RegisterFile()
        m.submodules.seq = seq = Sequencer(cfg)

        def datapath(name, component):
            # every job starts with a one-cycle flush of everything but registers and sequencer
            m.submodules[name] = ResetInserter(seq.flush)(component)
            return component

        bursts = [cfg.max_burst, cfg.max_burst, cfg.w_fifo_words // 2]
        dma = datapath("dma", AxiDma(data_width=8 * cfg.bus_bytes, read_clients=len(READ_CLIENTS),
                                     max_burst=bursts, credit=READ_CREDIT))
        gearbox = datapath("gearbox", RowGearbox(bus_bytes=cfg.bus_bytes, line_bytes=cfg.rows))
        xbuf = datapath("activations", ActivationBuffer(cfg))
        wpath = datapath("weights", WeightPath(cfg))
        array = datapath("array", PEArray(cfg.array, cfg.kind, load_width=cfg.load_width))
        # the array's results go into a queue it never waits for (its enable folds to 1), and its
        # vectors wait for a credit instead; the factor FIFO's level, which updates its storage,
        # starts at a flip-flop, not at the accumulator's ready logic
        credit = datapath("array_out", CreditBuffer(array.x_layout, result_layout(array)))
        factors = datapath("factors_out", SkidBuffer(wpath.scales.payload.shape()))
        # and the gearbox's ready (its row logic) stays off the AXI R channel's ready, which
        # gates every read client's registers (it limited the FPGA build on ECP5), and the DMA's
        # read-channel decode off the gearbox's row logic (it limited it next): both directions
        # registered, one cycle of latency
        x_in = datapath("activations_in", RegisterSlice(gearbox.i.payload.shape()))
        # and the array's weight-load logic stays off the weight FIFO's read and level (their
        # path, from the first buffer's ``full`` through the array's stall, limited it next)
        w_in = datapath("weights_in", SkidBuffer(wpath.o.payload.shape()))
        # and the array's stall, vector intake and weight swap stay off the activation buffer's
        # read enables (their loop through both, 13.8 ns with 11.2 of routing, limited it next)
        x_out = datapath("activations_out", RegisterSlice(xbuf.o.payload.shape()))
        acc = datapath("accumulator", Accumulator(cfg))
        params = datapath("params", ParamLoader(cfg))
        wb = datapath("writeback", WriteBack(cfg))

        wiring.connect(m, wiring.flipped(self.s_axil), regs.bus)
        wiring.connect(m, dma.bus, wiring.flipped(self.m_axi))
        self._registers(m, regs, seq)
        self._dma_clients(m, dma, seq, params, x_in, wpath, wb)
        wiring.connect(m, x_in.o, gearbox.i)
        geo = seq.geometry
        wiring.connect(m, gearbox.o, xbuf.i)
        wiring.connect(m, xbuf.o, x_out.i)
        wiring.connect(m, x_out.o, credit.x_in)
        wiring.connect(m, credit.x_out, array.x)
        wiring.connect(m, wpath.o, w_in.i)
        wiring.connect(m, w_in.o, array.w)
        wiring.connect(m, wpath.scales, factors.i)
        wiring.connect(m, factors.o, acc.scales)
        connect_results(m, array.y, credit.y_in)
        connect_results(m, credit.y_out, acc.i)
        m.d.comb += [
            gearbox.row_bytes.eq(seq.k), gearbox.row_words.eq(geo.x_row_words),
            xbuf.load.eq(seq.x_load), xbuf.feed.eq(seq.x_feed), xbuf.mc.eq(seq.x_mc),
            xbuf.kt.eq(geo.kt), xbuf.nb.eq(geo.nb),
            seq.x_loaded.eq(xbuf.loaded), seq.x_fed.eq(xbuf.fed),
            seq.computing.eq(array.computing),
            acc.release.eq(wb.acc_release), params.release.eq(wb.acc_release),
            wb.full.eq(acc.full), acc.rd_set.eq(wb.rd_set), acc.rd_line.eq(wb.rd_line),
            wb.rd_data.eq(acc.rd_data),
            wb.p_ready.eq(params.ready), params.sel_set.eq(wb.sel_set),
            params.sel_col.eq(wb.sel_col), wb.bias.eq(params.bias), wb.mult.eq(params.mult),
            wb.shift.eq(params.shift),
            seq.wb_done.eq(wb.done), seq.p_bad.eq(params.bad), wb.halt.eq(seq.halt),
        ]
        for engine in (wpath, acc, params, wb):
            m.d.comb += [engine.go.eq(seq.go), engine.nb.eq(geo.nb), engine.chunks.eq(geo.chunks)]
        for engine in (wpath, acc):
            m.d.comb += [engine.grouped.eq(seq.grouped), engine.group_log2.eq(seq.group_log2)]
        m.d.comb += [
            wpath.kt.eq(geo.kt), wpath.last_rows.eq(geo.last_rows), wpath.last_cols.eq(geo.last_cols),
            wpath.w_addr.eq(seq.w_addr), wpath.w_words.eq(geo.w_words),
            acc.kt.eq(geo.kt), acc.last_m.eq(geo.last_m),
            params.bypass.eq(seq.bypass), params.last_cols.eq(geo.last_cols),
            params.p_addr.eq(seq.p_addr),
            wb.bypass.eq(seq.bypass), wb.last_m.eq(geo.last_m), wb.last_cols.eq(geo.last_cols),
            wb.y_addr.eq(seq.y_addr), wb.y_stride.eq(geo.y_stride),
        ]
        return m

    def _registers(self, m, regs, seq):
        cfg = self.config
        caps = (KIND_CODES[cfg.kind] | (int(cfg.array.adaptive_phases) << 2)
                | (int(cfg.group_scales) << 3) | (cfg.array.code_length << 4)
                | (cfg.bus_bytes << 8) | (cfg.chunk_m << 16))
        m.d.comb += [
            regs.id.eq(ID_VALUE),
            regs.geometry.eq(cfg.rows | (cfg.cols << 16)),
            regs.max_m.eq(cfg.max_m), regs.max_k.eq(cfg.max_k), regs.max_n.eq(cfg.max_n),
            regs.caps.eq(caps),
            regs.lock.eq(seq.busy),
            seq.start.eq(regs.ctrl_start), seq.clear.eq(regs.ctrl_clear),
            seq.bypass_in.eq(regs.mode), seq.group_in.eq(regs.group),
            seq.m_size.eq(regs.m), seq.k_size.eq(regs.k), seq.n_size.eq(regs.n),
            seq.w_addr.eq(regs.w_addr), seq.x_addr.eq(regs.x_addr),
            seq.p_addr.eq(regs.p_addr), seq.y_addr.eq(regs.y_addr),
            regs.status.eq(seq.busy | (seq.done << 1) | (seq.error << 2)
                           | (seq.start_ignored << 3) | (seq.err_code << 8)),
            regs.cycles.eq(seq.cycles), regs.busy_cycles.eq(seq.busy_cycles),
            regs.stall_cycles.eq(seq.stall_cycles),
            self.irq.eq(seq.done & regs.irq_enable),
        ]

    def _dma_clients(self, m, dma, seq, params, x_in, wpath, wb):
        rd_p, rd_x, rd_w = (dma.rd[i] for i in range(len(READ_CLIENTS)))
        m.d.comb += [
            rd_p.start.eq(params.dma_start), rd_p.addr.eq(params.dma_addr),
            rd_p.words.eq(params.dma_words), params.dma_busy.eq(rd_p.busy),
            rd_x.start.eq(seq.x_start), rd_x.addr.eq(seq.x_dma_addr),
            rd_x.words.eq(seq.x_dma_words), seq.x_busy.eq(rd_x.busy),
            rd_w.start.eq(wpath.dma_start), rd_w.addr.eq(wpath.dma_addr),
            rd_w.words.eq(wpath.dma_words), rd_w.space.eq(wpath.space), wpath.dma_busy.eq(rd_w.busy),
            dma.wr_start.eq(wb.wr_start), dma.wr_addr.eq(wb.wr_addr), dma.wr_words.eq(wb.wr_words),
            wb.wr_busy.eq(dma.wr_busy),
            dma.halt.eq(seq.halt),
            seq.rd_error.eq(rd_p.error | rd_x.error | rd_w.error), seq.wr_error.eq(dma.wr_error),
            seq.dma_idle.eq(~(rd_p.busy | rd_x.busy | rd_w.busy | dma.wr_busy)),
            seq.dma_stall.eq(dma.stall),
        ]
        wiring.connect(m, rd_p.data, params.dma_data)
        wiring.connect(m, rd_x.data, x_in.i)
        wiring.connect(m, rd_w.data, wpath.dma_data)
        wiring.connect(m, wb.wr_data, dma.wr_data)
