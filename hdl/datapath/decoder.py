"""FineQ cluster-byte decoder (docs/format.md)."""

from amaranth.hdl import Cat, Const, Module, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import CLUSTER, FINEQ_WEIGHT_WIDTH

__all__ = ["Decoder", "decode_byte"]

# Cluster index values (bits 7:6): 0 is a normal cluster, p+1 says position p is pruned.
NORMAL, PRUNED0, PRUNED1, PRUNED2 = range(4)


def decode_byte(byte) -> list:
    """Combinational decode of one cluster byte into three signed 3-bit codes (q0, q1, q2)."""
    index = byte[6:8]
    two = [byte[2 * i : 2 * i + 2].as_signed() for i in range(CLUSTER)]  # sign-extend on use
    lo3, hi3 = byte[0:3].as_signed(), byte[3:6].as_signed()
    zero = Const(0, signed(FINEQ_WEIGHT_WIDTH))
    # Each position is a 4:1 choice on the index; written per position so that synthesis sees
    # three small multiplexers and no table.
    q0 = Mux(index == NORMAL, two[0], Mux(index == PRUNED0, zero, lo3))
    q1 = Mux(index == NORMAL, two[1], Mux(index == PRUNED0, lo3, Mux(index == PRUNED1, zero, hi3)))
    q2 = Mux(index == NORMAL, two[2], Mux(index == PRUNED2, zero, hi3))
    return [q0, q1, q2]


class Decoder(wiring.Component):
    """Turns cluster bytes into decoded 3-bit weights, ``lanes`` bytes per beat.

    Lane ``l`` of the input holds one cluster byte; codes ``3l, 3l+1, 3l+2`` of the output are its
    positions 0, 1, 2 as 3-bit two's complement (2-bit codes sign-extended, pruned positions 0).

    Latency: 1 cycle (registered output). Throughput: one beat (``lanes`` bytes, ``3*lanes``
    weights) per cycle; ``i.ready`` is high whenever the output register is empty or being read,
    so the decoder never adds a bubble to a stream that is not back-pressured.

    Parameters
    ----------
    lanes : int
        Cluster bytes per beat. The generator uses ``ceil(rows / 3)``: one array column per beat.
    """

    def __init__(self, *, lanes: int = 1):
        if not isinstance(lanes, int) or isinstance(lanes, bool):
            raise TypeError(f"lanes must be an integer, not {lanes!r}")
        if lanes < 1:
            raise ValueError(f"lanes must be >= 1, not {lanes}")
        self.lanes = lanes
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(unsigned(8), lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(FINEQ_WEIGHT_WIDTH), CLUSTER * lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        codes = []
        for lane in range(self.lanes):
            codes += decode_byte(self.i.payload[lane])

        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [
                self.o.payload.eq(Cat(*codes)),
                self.o.valid.eq(1),
            ]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m
