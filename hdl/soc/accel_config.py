"""Configuration of the whole accelerator: the array, its kind, the bus and the buffer sizes."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..datapath.config import CLUSTER, ArrayConfig, ArrayKind, preset

__all__ = ["AcceleratorConfig", "ACCEL_PRESETS", "accel_preset", "BUS_BYTES", "KIND_CODES"]

BUS_BYTES = (4, 8, 16)  # AXI data widths 32, 64 and 128 bits
KIND_CODES = {ArrayKind.FINEQ: 0, ArrayKind.MAC8X8: 1, ArrayKind.MAC8X3: 2,
              ArrayKind.FINEQ_R2: 3}  # CAPS.KIND


def _check_int(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, not {value}")


@dataclass(frozen=True, kw_only=True)
class AcceleratorConfig:
    """Array configuration, array kind, AXI data width and the limits of the buffers.

    ``chunk_m`` tokens of ``max_k`` input features fit the activation buffer; a job with more
    tokens runs in chunks of ``chunk_m`` (the weights stream once per chunk). ``max_m`` and
    ``max_n`` only bound counters. The weight image of a tile is a whole number of bus words.
    """

    array: ArrayConfig
    kind: ArrayKind = ArrayKind.FINEQ
    bus_bytes: int = 4
    chunk_m: int
    max_k: int
    max_m: int = 65535
    max_n: int = 65535
    max_burst: int = 256  # AXI4 INCR bursts: up to 256 beats
    w_fifo_words: int = 64  # weight FIFO between the DMA and the array (bus words)
    # FPGA builds: the accumulator's group-factor products as `*`, which synthesis maps to DSP
    # blocks; ASIC builds keep them in carry-save form, which fits the array's cycle
    dsp_products: bool = False

    def __post_init__(self):
        if not isinstance(self.array, ArrayConfig):
            raise TypeError(f"array must be an ArrayConfig, not {self.array!r}")
        if not isinstance(self.kind, ArrayKind):
            raise TypeError(f"kind must be an ArrayKind, not {self.kind!r}")
        if self.array.rows % CLUSTER:
            raise ValueError(f"array rows must be a multiple of {CLUSTER} (whole cluster bytes "
                             f"per K tile), not {self.array.rows}")
        if self.array.acc_width != 32:
            raise ValueError("the accelerator writes INT32 sums: array acc_width must be 32")
        if self.bus_bytes not in BUS_BYTES:
            raise ValueError(f"bus_bytes must be one of {BUS_BYTES} (32, 64, 128-bit AXI), "
                             f"not {self.bus_bytes!r}")
        if self.line_bytes % self.bus_bytes:
            raise ValueError(f"a weight tile of {self.line_bytes} bytes is not a whole number of "
                             f"{self.bus_bytes}-byte bus words; choose other rows/cols")
        _check_int("chunk_m", self.chunk_m, 1, 4096)
        _check_int("max_k", self.max_k, 1, 65535)
        _check_int("max_m", self.max_m, 1, 65535)
        _check_int("max_n", self.max_n, 1, 65535)
        _check_int("max_burst", self.max_burst, 1, 256)
        _check_int("w_fifo_words", self.w_fifo_words, 2, 4096)
        # Exact INT32 sums for every legal K: |x * w| <= 128 * 2^(wb-1) per product.
        if self.array.psum_bound(self.kind, self.max_k) > 2**31 - 1:
            raise ValueError(f"max_k {self.max_k} could overflow the INT32 accumulators")

    @property
    def name(self) -> str:
        return self.array.name

    @property
    def variant(self) -> str:
        """File-name stem of this build: ``top`` for the preset itself, else kind and bus; an FPGA
        build is its ASIC twin's stem and ``_fpga``."""
        if self.dsp_products:
            return dataclasses.replace(self, dsp_products=False).variant + "_fpga"
        base = accel_preset(self.name) if self.name in ACCEL_PRESETS else None
        if self == base:
            return "top"
        return f"top_{self.kind.name.lower()}_b{8 * self.bus_bytes}"

    @property
    def rows(self) -> int:
        return self.array.rows

    @property
    def cols(self) -> int:
        return self.array.cols

    @property
    def weight_bytes_per_column(self) -> int:
        """Bytes of one array column of a tile in the weight image."""
        return self.rows if self.kind is ArrayKind.MAC8X8 else self.rows // CLUSTER

    @property
    def line_bytes(self) -> int:
        """Bytes of one weight tile (all columns) in the weight image."""
        return self.cols * self.weight_bytes_per_column

    @property
    def line_beats(self) -> int:
        return self.line_bytes // self.bus_bytes

    @property
    def group_scales(self) -> bool:
        """fineq-v2 per-group factors: builds whose array takes FineQ's decoded codes."""
        return self.kind is not ArrayKind.MAC8X8

    @property
    def scale_beats(self) -> int:
        """Bus words of one group-factor line (one unsigned byte per column)."""
        return -(-self.cols // self.bus_bytes)

    @property
    def load_width(self) -> int:
        """Weights per bus word: 3 codes per cluster byte, or one INT8 weight per byte."""
        return self.bus_bytes * (1 if self.kind is ArrayKind.MAC8X8 else CLUSTER)

    @property
    def max_kt(self) -> int:
        """K tiles of the largest K: the line stride of the activation buffer."""
        return math.ceil(self.max_k / self.rows)

    @property
    def x_depth(self) -> int:
        return self.chunk_m * self.max_kt

    @property
    def param_stride(self) -> int:
        """Bytes from one block's requantization words to the next (whole bus words)."""
        return math.ceil(8 * self.cols / self.bus_bytes) * self.bus_bytes


ACCEL_PRESETS = {
    # tiny keeps simulator builds fast; default runs a Gemma-3-270M layer (K <= 2048, its MLP's
    # down_proj) and MiniLM's; large is sized for LLaMA-2-7B's down_proj (K = 11008), for
    # synthesis and the cycle model.
    "tiny": dict(chunk_m=8, max_k=96),
    "default": dict(chunk_m=16, max_k=2048),
    "large": dict(chunk_m=32, max_k=11008),
}


def accel_preset(name: str, *, kind: ArrayKind = ArrayKind.FINEQ,
                 bus_bytes: int = 4) -> AcceleratorConfig:
    return AcceleratorConfig(array=preset(name), kind=kind, bus_bytes=bus_bytes,
                             **ACCEL_PRESETS[name])
