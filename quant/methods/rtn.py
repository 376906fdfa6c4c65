"""Round-to-nearest baselines: symmetric b-bit codes, float16 scale per row or per group.

They get the same scale search as FineQ (a clipping search scored with the float16 scale),
so the comparison is against a strong baseline, not a min-max strawman. Codes are stored
bit-packed (b bits each, a row or group padded to whole bytes), so bits per weight are
audited from real bytes like FineQ's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import FineQError
from ..core.format import bits_per_weight
from ..core.weights import as_weight_matrix
from .scale_search import map_blocks, quantize_codes, row_blocks, search_scales


def pack_bits(u: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned codes uint8 [R, L] (< 2**bits) -> little-endian bit stream uint8 [R, ceil(L*bits/8)]."""
    r, length = u.shape
    planes = (u[..., None] >> np.arange(bits, dtype=np.uint8)) & 1
    return np.packbits(planes.reshape(r, length * bits), axis=1, bitorder="little")


def unpack_bits(packed: np.ndarray, bits: int, length: int) -> np.ndarray:
    """Inverse of pack_bits."""
    r = packed.shape[0]
    planes = np.unpackbits(packed, axis=1, bitorder="little")[:, : length * bits]
    weights = (1 << np.arange(bits)).astype(np.uint8)
    return (planes.reshape(r, length, bits) * weights).sum(-1).astype(np.uint8)


@dataclass
class RTNLayer:
    """Symmetric round-to-nearest weight: packed codes per row/group and float16 scales."""

    packed: np.ndarray  # uint8 [N * groups, ceil(group * bits / 8)]
    scales: np.ndarray  # float16 [N, groups]
    bits: int
    group: int  # columns per scale (K for per-row)
    k: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.scales.shape[0], self.k)

    def codes(self) -> np.ndarray:
        n, groups = self.scales.shape
        u = unpack_bits(self.packed, self.bits, self.group)
        q = u.astype(np.int16) - (1 << (self.bits - 1))
        return q.reshape(n, groups * self.group)[:, : self.k].astype(np.int8)

    def dequantize(self) -> torch.Tensor:
        n, groups = self.scales.shape
        q = torch.from_numpy(self.codes().astype(np.float32))
        q = torch.nn.functional.pad(q, (0, groups * self.group - self.k)).reshape(n, groups, -1)
        s = torch.from_numpy(self.scales.astype(np.float32))[..., None]
        return (s * q).reshape(n, -1)[:, : self.k]

    def stored(self) -> dict[str, np.ndarray]:
        return {"packed": self.packed, "scales": self.scales}

    @property
    def bpw(self) -> float:
        return bits_per_weight(self.stored(), *self.shape)


def quantize_rtn(w, bits: int, group: int | None = None, *, name: str = "weight") -> RTNLayer:
    """Symmetric b-bit RTN (codes -2**(b-1) .. 2**(b-1)-1), per row or per group of columns."""
    if bits not in (2, 3, 4, 8):
        raise FineQError(f"RTN supports 2, 3, 4 or 8 bits, got {bits}")
    w = as_weight_matrix(w, name)
    n, k = w.shape
    group = k if group is None else int(group)
    if group <= 0:
        raise FineQError(f"group size must be positive, got {group}")
    groups = -(-k // group)
    wg = torch.nn.functional.pad(w, (0, groups * group - k)).reshape(n * groups, group)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def block_codes(block: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        s = search_scales(block, float(lo), float(hi), hi_max=float(hi))
        u = (quantize_codes(block, s, float(lo), float(hi)).to(torch.int16) - lo).to(torch.uint8)
        return pack_bits(u.numpy(), bits), s.to(torch.float16).numpy()

    blocks = map_blocks(block_codes, row_blocks(wg))
    return RTNLayer(
        packed=np.concatenate([b[0] for b in blocks]),
        scales=np.concatenate([b[1] for b in blocks]).reshape(n, groups),
        bits=bits,
        group=group,
        k=k,
    )
