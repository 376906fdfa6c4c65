"""Top level of the FineQ accelerator: AXI4-Lite registers, AXI4 DMA, controller, interrupt.

Block diagram (docs/accelerator.md)::

    memory ==AXI4==> DMA --> unpacker --> activation / weight buffers
                                           |                 |
                                           v                 v
                                     activation feeder   weight feeder -> decoder
                                           \\                 /
                                            --> systolic array (temporal PEs)
                                                      |
                                               accumulator buffer
                                                      |
                                      vector unit (requantization) -> packer -> DMA ==AXI4==> memory
    host ==AXI4-Lite==> register file <--> controller --> irq
"""

import re

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .accel_config import AcceleratorConfig
from .axi import Axi4Signature, AxiLiteSignature
from .axi_dma import AxiDma
from .control import Controller
from .regfile import RegisterFile
from .regmap import ADDR_BITS, ID_VALUE

__all__ = ["Accelerator"]


class Accelerator(wiring.Component):
    """The whole accelerator with standard SoC interfaces.

    Ports (Verilog names): ``s_axil__*`` AXI4-Lite subordinate (registers, hdl/soc/regmap.py),
    ``m_axi__*`` AXI4 manager (32-bit data, 32-bit addresses, INCR bursts up to
    ``max_burst`` beats), ``irq`` (level, high while STATUS.DONE and IRQ_ENABLE.DONE), and
    Amaranth's ``clk`` and synchronous active-high ``rst``.

    Latency and throughput: see the cycle model in docs/accelerator.md.
    """

    def __init__(self, config: AcceleratorConfig):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        super().__init__({
            "s_axil": In(AxiLiteSignature(addr_width=ADDR_BITS)),
            "m_axi": Out(Axi4Signature(addr_width=32, data_width=32)),
            "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.regs = regs = RegisterFile()
        m.submodules.dma = dma = AxiDma(max_burst=cfg.max_burst)
        m.submodules.ctrl = ctrl = Controller(cfg)

        wiring.connect(m, wiring.flipped(self.s_axil), regs.bus)
        wiring.connect(m, dma.bus, wiring.flipped(self.m_axi))
        wiring.connect(m, dma.rd_data, ctrl.rd_data)
        wiring.connect(m, ctrl.wr_data, dma.wr_data)

        m.d.comb += [
            # Read-only identification and capabilities.
            regs.id.eq(ID_VALUE),
            regs.geometry.eq(cfg.rows | (cfg.cols << 16)),
            regs.max_m.eq(cfg.max_m),
            regs.max_k.eq(cfg.max_k),
            regs.max_n.eq(cfg.max_n),
            # Parameters and commands.
            regs.lock.eq(ctrl.busy),
            ctrl.start.eq(regs.ctrl_start),
            ctrl.clear.eq(regs.ctrl_clear),
            ctrl.bypass.eq(regs.mode),
            ctrl.m_size.eq(regs.m),
            ctrl.k_size.eq(regs.k),
            ctrl.n_size.eq(regs.n),
            ctrl.w_addr.eq(regs.w_addr),
            ctrl.x_addr.eq(regs.x_addr),
            ctrl.p_addr.eq(regs.p_addr),
            ctrl.y_addr.eq(regs.y_addr),
            # Status and counters.
            regs.status.eq(ctrl.busy | (ctrl.done << 1) | (ctrl.error << 2) | (ctrl.err_code << 8)),
            regs.cycles.eq(ctrl.cycles),
            regs.busy_cycles.eq(ctrl.busy_cycles),
            regs.stall_cycles.eq(ctrl.stall_cycles),
            self.irq.eq(ctrl.done & regs.irq_enable),
            # DMA commands.
            dma.rd_start.eq(ctrl.rd_start), dma.rd_addr.eq(ctrl.rd_addr),
            dma.rd_words.eq(ctrl.rd_words),
            ctrl.rd_busy.eq(dma.rd_busy), ctrl.rd_error.eq(dma.rd_error),
            dma.wr_start.eq(ctrl.wr_start), dma.wr_addr.eq(ctrl.wr_addr),
            dma.wr_words.eq(ctrl.wr_words),
            ctrl.wr_busy.eq(dma.wr_busy), ctrl.wr_error.eq(dma.wr_error),
            ctrl.dma_stall.eq(dma.stall),
        ]
        return m


STAMP = ".fineq-top.sha256"

# Yosys' Verilog back end makes every `always @*` block sensitive to a dummy register declared
# `reg \$auto$verilog_backend...dump_module$N = 0;`, whose change at time 0 is meant to run each
# block once. Under SystemVerilog semantics (cocotb runs Icarus with -g2012) a declaration
# initialiser runs before any process starts, so blocks whose inputs are all constant-until-
# something-happens registers (FSM outputs after reset) stay X. An `initial` assignment is a
# process and does produce the event. Verilator and synthesis are unaffected either way.
_TRIGGER = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\S*dump_module\$\d+)  = 0;$", re.M)


def icarus_safe(text: str) -> str:
    return _TRIGGER.sub(lambda m: f"{m[1]}reg {m[2]} ;\n{m[1]}initial {m[2]}  = 1'h0;", text)


# For every signal assigned inside an m.Switch/FSM, the back end writes one `always @*` block
# that first assigns the signal's default and then a `casez (state)` listing only the states
# that change it. That is complete logic (no latch), but Verilator flags the partial case
# list (CASEINCOMPLETE, on by default); the waiver is scoped to the generated file.
LINT_HEADER = ("/* Generated by hdl/soc/top.py. Amaranth's back end emits a default assignment "
               "before each partial case list (no latch): */\n"
               "/* verilator lint_off CASEINCOMPLETE */\n")


def postprocess(text: str) -> str:
    return LINT_HEADER + icarus_safe(text)


def generate_top(config_name: str, out_dir, *, force: bool = False) -> dict:
    """Write ``top.v`` (module ``top``), ``vector_unit.v`` and the C header ``fineq_accel.h``
    for preset ``config_name`` into ``out_dir``, unless they are up to date."""
    import hashlib
    from pathlib import Path

    import amaranth
    from amaranth.back import verilog

    from .accel_config import accel_preset
    from .regmap import c_header
    from .vector_unit import VectorUnit

    cfg = accel_preset(config_name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256(repr(cfg).encode() + amaranth.__version__.encode())
    hdl_dir = Path(__file__).parent.parent
    for path in sorted([*hdl_dir.glob("datapath/*.py"), *hdl_dir.glob("soc/*.py")]):
        # everything top.v is built from
        h.update(str(path.relative_to(hdl_dir)).encode() + path.read_bytes())
    digest = h.hexdigest()
    files = {"top": out_dir / "top.v", "vector_unit": out_dir / "vector_unit.v",
             "header": out_dir / "fineq_accel.h"}
    stamp = out_dir / STAMP
    if not force and stamp.exists() and stamp.read_text() == digest and all(
            p.exists() for p in files.values()):
        return files
    stamp.unlink(missing_ok=True)
    for stem, comp in (("top", Accelerator(cfg)), ("vector_unit", VectorUnit())):
        text = postprocess(verilog.convert(comp, name=stem, emit_src=False,
                                           strip_internal_attrs=True))
        if not files[stem].exists() or files[stem].read_text() != text:
            files[stem].write_text(text)
    files["header"].write_text(c_header())
    stamp.write_text(digest)
    return files


def main(argv=None):
    """python -m hdl.soc.top --config tiny --out DIR: write top.v, vector_unit.v, fineq_accel.h."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m hdl.soc.top")
    parser.add_argument("--config", default="default", help="preset: tiny, default or large")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    for path in generate_top(args.config, args.out, force=args.force).values():
        print(path)


if __name__ == "__main__":
    main()
