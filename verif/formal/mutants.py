"""Mutation check: seed known bugs into the components and show that each proof fails with a trace.

Each mutant is the real component with one change, elaborated with the same
``hdl.generate.to_verilog`` as the generated files, and checked by the unchanged proof. A proof
that still passed on a mutant would prove nothing about that bug; ``python -m verif.formal
--mutants`` (and ``tests/verif/test_formal_mutants.py``) require every mutant to fail on the named
property and to leave a counterexample trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from unittest import mock

from amaranth.hdl import Const, Mux, signed

__all__ = ["MUTANTS", "Mutant"]


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str
    proof: Callable  # () -> Proof
    expect: tuple[str, ...]  # labels of the properties allowed to fail (``p_<label>``)


def _extra_pulse():
    from hdl.datapath.temporal_pe import TemporalPE

    from . import pe

    class ExtraPulse(TemporalPE):
        def _pulse(self, magnitude):  # pulses at phases <= |q|: one pulse too many
            return self.phase <= magnitude, self.phase == magnitude, None

    proof, = pe.proofs("tiny", makes={"temporal_pe": lambda: ExtraPulse()}, prefix="mutant_",
                       stems=("temporal_pe",))
    return proof


def _no_sign_extension():
    from hdl.datapath import decoder as decoder_mod
    from hdl.datapath.config import preset

    from . import decoder

    def unsigned_two_bit(byte):
        index = byte[6:8]
        two = [byte[2 * i: 2 * i + 2] for i in range(3)]  # the bug: zero-extended 2-bit codes
        lo3, hi3 = byte[0:3].as_signed(), byte[3:6].as_signed()
        zero = Const(0, signed(3))
        return [Mux(index == 0, two[0], Mux(index == 1, zero, lo3)),
                Mux(index == 0, two[1], Mux(index == 1, lo3, Mux(index == 2, zero, hi3))),
                Mux(index == 0, two[2], Mux(index == 3, zero, hi3))]

    class NoSignExtension(decoder_mod.Decoder):
        def elaborate(self, platform):
            with mock.patch.object(decoder_mod, "decode_byte", unsigned_two_bit):
                return super().elaborate(platform)

    lanes = preset("tiny").decoder_lanes
    proof, = decoder.proofs("tiny", make=lambda: NoSignExtension(lanes=lanes), name="mutant_decoder_sign")
    return proof


def _dropped_rvalid():
    from hdl.generate import icarus_safe, to_verilog
    from hdl.soc.regfile import RegisterFile

    from . import axil

    class DroppedRvalid(RegisterFile):
        def elaborate(self, platform):
            m = super().elaborate(platform)
            with m.If(self.bus.rvalid & ~self.bus.rready):  # the bug: RVALID not held
                m.d.sync += self.bus.rvalid.eq(0)
            return m

    return axil.regfile_proof({"regfile.v": icarus_safe(to_verilog(DroppedRvalid(), "regfile"))},
                              name="mutant_regfile_rvalid")


MUTANTS = [
    Mutant("extra_pulse", "temporal PE pulses at phases <= |q| (one pulse too many)", _extra_pulse,
           ("product", "code")),
    Mutant("no_sign_extension", "decoder zero-extends the 2-bit codes of normal clusters",
           _no_sign_extension, ("lane0", "lane1")),
    Mutant("dropped_rvalid", "register file drops RVALID after one cycle without RREADY",
           _dropped_rvalid, ("r_hold", "r_outstanding")),
]


def _burst_across_4k():
    from amaranth.hdl import Mux, Signal

    from hdl.soc.axi_dma import AxiDma

    from . import dma

    class CrossesLines(AxiDma):
        def _burst_length(self, m, addr, remain, max_burst, name):  # the bug: no 4 KiB cap
            length = Signal(range(257), name=f"{name}_len")
            m.d.comb += length.eq(Mux(remain < max_burst, remain, max_burst))
            return length, (length - 1)[:8]

    args = dma.dma_parameters("tiny")[0]
    design = dma.dma_verilog(args, CrossesLines)
    return dma.proof_of(design, args, name="mutant_dma_4k", depth=8)


def _wlast_late():
    import re

    from . import dma

    args = dma.dma_parameters("tiny")[0]
    design = dma.dma_verilog(args)
    text, n = re.subn(r"assign bus__wlast = wr_sent == \S+ ?;", "assign bus__wlast = wr_sent == wr_len;",
                      design["axi_dma.v"])
    if n != 1:
        raise RuntimeError("the WLAST assignment was not found in the generated DMA")
    return dma.proof_of({"axi_dma.v": text}, args, name="mutant_dma_wlast", depth=8)


MUTANTS += [
    Mutant("burst_across_4k", "DMA burst length without the 4 KiB line cap", _burst_across_4k,
           ("ar_4k", "aw_4k", "inv_rd0", "inv_rd1", "inv_rd2", "inv_w_burst")),
    Mutant("wlast_late", "DMA raises WLAST one beat late (sent == length)", _wlast_late,
           ("w_last", "inv_w_count")),
]


def _signed_multiplier():
    from hdl.soc import vector_unit as vu_mod

    from . import vector_unit

    def signed_digit(mult, d):  # the bug: bits above the top one read as its copy (mult signed)
        bit = lambda k: mult[min(k, len(mult) - 1)] if k >= 0 else Const(0, 1)
        b2, b1, b0 = bit(2 * d + 1), bit(2 * d), bit(2 * d - 1)
        return b1 ^ b0, (b2 & ~b1 & ~b0) | (~b2 & b1 & b0), b2

    class SignedMultiplier(vu_mod.VectorUnit):
        def elaborate(self, platform):
            with mock.patch.object(vu_mod, "_booth_digit", signed_digit):
                return super().elaborate(platform)

    proof, _product = vector_unit.proofs(make=SignedMultiplier, name="mutant_vector_unit_signed_mult")
    return proof  # the digits' value (p_s1) is in the first proof


MUTANTS.append(Mutant("signed_multiplier", "vector unit's Booth digits read mult as a signed "
                      "15-bit value (bit 14 sign-extended)", _signed_multiplier, ("s1",)))
