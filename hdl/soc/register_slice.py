"""A register slice: a stream stage whose ``o.valid``, ``o.payload`` and ``i.ready`` are all
flip-flops.

A skid buffer (``skid_buffer.py``) registers only ``i.ready``: its ``o.valid`` is the producer's
``valid`` as it arrives. Between the DMA and the gearbox that let the DMA's read-channel decode
(which burst owns the beat on R) run on through the gearbox's row logic into the activation
buffer's enables: the limit of the FPGA build on ECP5 (14.7 ns, 11.3 of it routing) once the
other engines were cut. Here neither direction passes through in the same cycle.

Timing: one cycle of latency, one beat per cycle. The output register takes a beat whenever it is
empty or ``o`` takes its beat; when ``o`` stalls, the beat offered in that cycle goes into a spare
register and ``i`` stalls from the next cycle on, until the output register has taken it.
"""

from amaranth.hdl import Module, Mux, Signal

from .skid_buffer import SkidBuffer

__all__ = ["RegisterSlice"]


class RegisterSlice(SkidBuffer):
    """``i`` -> ``o`` for any payload layout: an output register and a spare one (the skid
    buffer's ports, another stage behind them)."""

    def elaborate(self, platform):
        m = Module()
        out, out_valid = Signal(self.payload_shape, reset_less=True), Signal()
        spare, full = Signal(self.payload_shape, reset_less=True), Signal()
        m.d.comb += [self.i.ready.eq(~full), self.o.valid.eq(out_valid), self.o.payload.eq(out)]
        with m.If(~out_valid | self.o.ready):  # the output register is free in the next cycle
            m.d.sync += [out_valid.eq(full | self.i.valid), out.eq(Mux(full, spare, self.i.payload)),
                         full.eq(0)]
        with m.Elif(self.i.valid & ~full):  # o stalls the beat offered now: keep it
            m.d.sync += [full.eq(1), spare.eq(self.i.payload)]
        return m
