"""Configuration of the whole accelerator: the array plus buffer sizes and bus parameters."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..datapath.config import CLUSTER, ArrayConfig, preset

__all__ = ["AcceleratorConfig", "ACCEL_PRESETS", "accel_preset"]


def _check_int(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, not {value}")


@dataclass(frozen=True, kw_only=True)
class AcceleratorConfig:
    """Array configuration and the limits of the buffers around it.

    ``max_m`` tokens and ``max_k`` input features bound the activation buffer (all of X stays on
    chip for the whole job) and the accumulator buffer (``max_m`` lines of ``cols`` INT32 sums);
    ``max_k`` also bounds the weight buffer (one block of ``cols`` packed rows). ``max_n`` only
    bounds counters. ``rows`` must be a multiple of 3 so that a K tile is a whole number of
    cluster bytes.
    """

    array: ArrayConfig
    max_m: int
    max_k: int
    max_n: int = 65535
    max_burst: int = 256  # AXI4 INCR bursts: up to 256 beats

    def __post_init__(self):
        if not isinstance(self.array, ArrayConfig):
            raise TypeError(f"array must be an ArrayConfig, not {self.array!r}")
        if self.array.rows % CLUSTER:
            raise ValueError(f"array rows must be a multiple of {CLUSTER} (whole cluster bytes "
                             f"per K tile), not {self.array.rows}")
        if self.array.acc_width != 32:
            raise ValueError("the accelerator writes INT32 sums: array acc_width must be 32")
        _check_int("max_m", self.max_m, 1, 65535)
        _check_int("max_k", self.max_k, 1, 65535)
        _check_int("max_n", self.max_n, 1, 65535)
        _check_int("max_burst", self.max_burst, 1, 256)
        # Exact INT32 sums for every legal K (|x| <= 128, |q| <= 4).
        if 512 * self.max_k > 2**31 - 1:
            raise ValueError(f"max_k {self.max_k} could overflow the INT32 accumulators")

    @property
    def name(self) -> str:
        return self.array.name

    @property
    def rows(self) -> int:
        return self.array.rows

    @property
    def cols(self) -> int:
        return self.array.cols

    @property
    def max_kt(self) -> int:
        """K tiles of the largest K: the line stride of the activation and weight buffers."""
        return math.ceil(self.max_k / self.rows)

    @property
    def w_lanes(self) -> int:
        return self.rows // CLUSTER

    @property
    def x_depth(self) -> int:
        return self.max_m * self.max_kt

    @property
    def w_depth(self) -> int:
        return self.cols * self.max_kt

    def buffer_bytes(self) -> dict[str, int]:
        return {
            "activations": self.x_depth * self.rows,
            "weights": self.w_depth * self.w_lanes,
            "accumulators": self.max_m * self.cols * 4,
            "requant_params": self.cols * 8,
        }


ACCEL_PRESETS = {
    # tiny keeps simulator builds fast; default takes a MiniLM attention projection (384 x 384)
    # and its FFN down-projection (K = 1536) with up to 16 tokens; large is for synthesis.
    "tiny": dict(max_m=8, max_k=96),
    "default": dict(max_m=16, max_k=1536),
    "large": dict(max_m=32, max_k=4096),
}


def accel_preset(name: str) -> AcceleratorConfig:
    array = preset(name)
    return AcceleratorConfig(array=array, **ACCEL_PRESETS[name])


def replace(cfg: AcceleratorConfig, **changes) -> AcceleratorConfig:
    return dataclasses.replace(cfg, **changes)
