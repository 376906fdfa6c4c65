"""Hardware configuration of the FineQ datapath: one frozen, validated dataclass and named presets.

Every component takes the numbers it needs from an :class:`ArrayConfig` (or from keyword
arguments that the array fills in from one), so a synthesis run can elaborate any size with
``dataclasses.replace(preset("default"), rows=16, cols=16)``; the replacement is validated again.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from dataclasses import dataclass

__all__ = ["ArrayConfig", "ArrayKind", "PRESETS", "preset", "psum_bound", "signed_width"]

# fineq-v1 (docs/numbers.md) decodes every cluster to 3-bit two's complement codes.
FINEQ_WEIGHT_WIDTH = 3
CLUSTER = 3


def signed_width(bound: int) -> int:
    """Smallest two's complement width that holds every integer in [-bound, bound]."""
    if bound < 0:
        raise ValueError(f"bound must be non-negative, not {bound}")
    return max(1, bound.bit_length() + 1)


def psum_bound(rows: int, act_width: int, weight_width: int) -> int:
    """Largest |partial sum| over ``rows`` products of signed act_width x weight_width integers.

    Hardware must be exact for every input it can be given, so this uses the full two's complement
    ranges (-128 * -4 = 512 for INT8 x 3-bit), not only the golden model's symmetric grid.
    """
    return rows * (1 << (act_width - 1)) * (1 << (weight_width - 1))


class ArrayKind(enum.Enum):
    """The three arrays built from one systolic skeleton; the value is the Verilog file stem."""

    FINEQ = "fineq_array"  # temporal-coding PEs, decoded 3-bit weights, no multiplier
    MAC8X8 = "mac8x8_array"  # multiply-accumulate PEs, INT8 weights (the W8A8 baseline)
    MAC8X3 = "mac8x3_array"  # multiply-accumulate PEs, the same decoded 3-bit weights as FineQ
    FINEQ_R2 = "fineq_r2_array"  # radix-2 temporal PEs: each pulse adds x or 2x, |q| <= 4 in 2

    @property
    def temporal(self) -> bool:
        """Temporal-coding PEs (a beat of several cycles per vector), not multipliers."""
        return self in (ArrayKind.FINEQ, ArrayKind.FINEQ_R2)

    @property
    def pulse_weight(self) -> int:
        """Largest multiple of ``x`` one pulse adds: 1 (FineQ), 2 (radix-2); 0 for MAC PEs."""
        return {ArrayKind.FINEQ: 1, ArrayKind.FINEQ_R2: 2}.get(self, 0)

    def pulses(self, magnitude: int) -> int:
        """Pulses a temporal PE of this kind spends on a weight of ``|q| = magnitude``."""
        if not self.temporal:
            raise ValueError(f"{self.value} has no pulses: it multiplies in one cycle")
        return -(-magnitude // self.pulse_weight)


def _check_int(name: str, value, lo: int, hi: int | None = None) -> None:
    # bool is an int subclass; True as a row count is a bug, not a 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        span = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"{name} must be {span}, not {value}")


@dataclass(frozen=True, kw_only=True)
class ArrayConfig:
    """Sizes and widths of the weight-stationary array and its neighbours.

    ``rows`` is the K extent of a tile (one activation lane and one array row per input feature),
    ``cols`` the N extent (one output channel per column).
    """

    name: str = "custom"
    rows: int
    cols: int
    act_width: int = 8  # signed activations (docs/numbers.md: INT8)
    weight_width: int = FINEQ_WEIGHT_WIDTH  # decoded FineQ code width, fixed by fineq-v1
    mac_weight_width: int = 8  # weight width of the W8A8 baseline
    acc_width: int = 32  # width of the partial sums the arrays output (INT32)
    code_length: int = 4  # pulses of the longest temporal code, |q| <= 4
    adaptive_phases: bool = True  # run max|q| phases per vector for the loaded tile, not always 4

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string, not {self.name!r}")
        _check_int("rows", self.rows, 1, 1024)
        _check_int("cols", self.cols, 1, 1024)
        _check_int("act_width", self.act_width, 2, 16)
        _check_int("weight_width", self.weight_width, 1)
        if self.weight_width != FINEQ_WEIGHT_WIDTH:
            raise ValueError(
                f"weight_width must be {FINEQ_WEIGHT_WIDTH}: fineq-v1 decodes clusters to 3-bit "
                f"codes (docs/numbers.md), not {self.weight_width}"
            )
        _check_int("mac_weight_width", self.mac_weight_width, 2, 16)
        _check_int("code_length", self.code_length, 1, 16)
        longest = 1 << (self.weight_width - 1)  # |q| of the most negative code, -4
        if self.code_length < longest:
            raise ValueError(
                f"code_length must be >= {longest} so that q = -{longest} fits its temporal code, "
                f"not {self.code_length}"
            )
        _check_int("acc_width", self.acc_width, 2, 64)
        need = signed_width(self.psum_bound(ArrayKind.MAC8X8, self.rows))
        if self.acc_width < need:
            raise ValueError(
                f"acc_width {self.acc_width} cannot hold the exact sum of {self.rows} rows of "
                f"{self.act_width}x{self.mac_weight_width}-bit products; it needs >= {need} bits"
            )
        if not isinstance(self.adaptive_phases, bool):
            raise TypeError(f"adaptive_phases must be a bool, not {self.adaptive_phases!r}")

    # Derived numbers -------------------------------------------------------------------------

    def weight_bits(self, kind: ArrayKind) -> int:
        """Width of one weight as loaded into an array of this kind."""
        return self.mac_weight_width if kind is ArrayKind.MAC8X8 else self.weight_width

    def psum_bound(self, kind: ArrayKind, rows: int) -> int:
        """Largest |sum| after ``rows`` rows of an array of this kind."""
        return psum_bound(rows, self.act_width, self.weight_bits(kind))

    def sum_width(self, kind: ArrayKind, rows: int) -> int:
        """Exact width of a sum of ``rows`` products (a PE's product when ``rows`` is 1)."""
        return signed_width(self.psum_bound(kind, rows))

    def beat_length(self, kind: ArrayKind, max_magnitude: int) -> int:
        """Cycles per vector of an array of ``kind`` on a tile whose largest ``|q|`` is
        ``max_magnitude`` (padding excluded): 1 for the MAC arrays; for the temporal arrays
        ``max(1, pulses(max|q|))`` with ``adaptive_phases``, else ``pulses(code_length)``."""
        if not kind.temporal:
            return 1
        if not self.adaptive_phases:
            return kind.pulses(self.code_length)
        return max(1, kind.pulses(max_magnitude))

    @property
    def decoder_lanes(self) -> int:
        """Cluster bytes per decoder beat: enough codes for one array column (rows weights)."""
        return math.ceil(self.rows / CLUSTER)

    @property
    def phase_width(self) -> int:
        """Width of the phase counter and of the ``phases`` status output."""
        return max(1, self.code_length.bit_length())

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["derived"] = {
            "decoder_lanes": self.decoder_lanes,
            "column_sum_widths": {kind.value: self.sum_width(kind, self.rows) for kind in ArrayKind},
            "weight_bits": {kind.value: self.weight_bits(kind) for kind in ArrayKind},
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "ArrayConfig":
        data = json.loads(text)
        data.pop("derived", None)
        return cls(**data)


# Rows are multiples of 3 so that one array column is a whole number of cluster bytes (one
# decoder beat); tiny keeps simulator builds fast, large is the size the area comparison uses.
PRESETS: dict[str, ArrayConfig] = {
    "tiny": ArrayConfig(name="tiny", rows=6, cols=8),
    "default": ArrayConfig(name="default", rows=12, cols=12),
    "large": ArrayConfig(name="large", rows=24, cols=24),
}


def preset(name: str) -> ArrayConfig:
    """The named preset configuration (tiny, default or large)."""
    if not isinstance(name, str):
        raise TypeError(f"preset name must be a string, not {name!r}")
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown configuration {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None
