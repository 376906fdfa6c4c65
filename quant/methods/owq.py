"""OWQ-style mixed precision (Lee et al., "OWQ: Outlier-Aware Weight Quantization", AAAI 2024):
GPTQ with low-bit codes, except for a few *weak columns* kept in float16.

A column's sensitivity is ``H_jj * ||W[:, j]||^2`` (the OWQ paper's criterion: the input
feature's energy on the calibration text times the column's weight energy); the ``r`` most
sensitive columns are kept in float16. GPTQ runs with the weak columns moved to the end, so
they are never rounded but do absorb the error feedback of every quantized column; they are
stored with their updated values. The other columns keep their order.

Stored: the packed b-bit codes of the ``K - r`` quantized columns per row, one float16 scale
per row, the float16 weak columns ``[N, r]`` and their column indices (uint16). All of it
counts in the audited bits per weight. ``weak_columns_for_bpw`` picks the largest ``r`` whose
audited bits per weight stay within a budget, so OWQ can be compared at FineQ's own figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import FineQError
from ..core.format import bits_per_weight
from ..core.weights import as_weight_matrix
from .gptq import DAMP, check_hessian, gptq_columns, prepare
from .rtn import pack_bits, unpack_bits
from .scale_search import search_scales

INDEX_DTYPE = np.uint16


@dataclass
class OWQLayer:
    packed: np.ndarray  # uint8 [N, ceil((K - r) * bits / 8)]
    scales: np.ndarray  # float16 [N]
    weak: np.ndarray  # float16 [N, r]
    weak_index: np.ndarray  # uint16 [r], ascending
    bits: int
    k: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.scales.shape[0], self.k)

    def dequantize(self) -> torch.Tensor:
        n, r = self.weak.shape
        keep = np.setdiff1d(np.arange(self.k), self.weak_index.astype(np.int64))
        u = unpack_bits(self.packed, self.bits, self.k - r).astype(np.float32) - 2 ** (self.bits - 1)
        out = torch.zeros(n, self.k)
        out[:, torch.from_numpy(keep)] = torch.from_numpy(self.scales.astype(np.float32))[:, None] * torch.from_numpy(u)
        out[:, torch.from_numpy(self.weak_index.astype(np.int64))] = torch.from_numpy(self.weak.astype(np.float32))
        return out

    def stored(self) -> dict[str, np.ndarray]:
        return {"packed": self.packed, "scales": self.scales, "weak": self.weak, "weak_index": self.weak_index}

    @property
    def bpw(self) -> float:
        return bits_per_weight(self.stored(), *self.shape)


def stored_bytes(n: int, k: int, r: int, bits: int) -> int:
    """Bytes an OWQLayer with ``r`` weak columns stores (same arrays as OWQLayer.stored)."""
    return n * -(-(k - r) * bits // 8) + 2 * n + 2 * n * r + np.dtype(INDEX_DTYPE).itemsize * r


def weak_columns_for_bpw(n: int, k: int, bits: int, target_bpw: float) -> int:
    """Largest number of float16 columns whose audited bits per weight are <= target_bpw."""
    best = None
    for r in range(0, k):
        if 8 * stored_bytes(n, k, r, bits) / (n * k) <= target_bpw + 1e-12:
            best = r
    if best is None:
        raise FineQError(f"{bits}-bit OWQ of a [{n}, {k}] weight cannot fit {target_bpw:.3f} bits per weight")
    return best


def sensitivity(w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    return torch.diag(h) * (w * w).sum(0)


class _Columns:
    def __init__(self, w: torch.Tensor, bits: int, r: int):
        self.lo, self.hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        self.k_q = w.shape[1] - r
        self.scales = search_scales(w[:, : self.k_q].contiguous(), float(self.lo), float(self.hi),
                                    hi_max=float(self.hi))
        self.codes = torch.zeros(w.shape[0], self.k_q, dtype=torch.int8)

    def __call__(self, c, rest, u):
        if c >= self.k_q:  # a weak column: kept (in float16), absorbs the updates so far
            return rest[:, 0].to(torch.float16).to(torch.float32)
        code = torch.round(rest[:, 0] / self.scales).clamp_(self.lo, self.hi)
        self.codes[:, c] = code.to(torch.int8)
        return code * self.scales


def quantize_owq(w, h, bits: int = 2, *, weak_columns: int | None = None, target_bpw: float | None = None,
                 damp: float = DAMP, name: str = "weight") -> OWQLayer:
    """OWQ: ``bits``-bit GPTQ per row plus ``weak_columns`` float16 columns (or as many as fit
    ``target_bpw``)."""
    if bits not in (2, 3, 4):
        raise FineQError(f"OWQ supports 2, 3 or 4 bits, got {bits}")
    w = as_weight_matrix(w, name)
    n, k = w.shape
    if k > np.iinfo(INDEX_DTYPE).max:
        raise FineQError(f"{name}: K={k} is too large for uint16 column indices")
    h = check_hessian(h, k, name)
    if (weak_columns is None) == (target_bpw is None):
        raise FineQError("give exactly one of weak_columns and target_bpw")
    r = weak_columns_for_bpw(n, k, bits, target_bpw) if weak_columns is None else int(weak_columns)
    if not 0 <= r < k:
        raise FineQError(f"{name}: weak columns must be in 0..{k - 1}, got {r}")
    weak = torch.sort(torch.topk(sensitivity(w, h), r).indices).values if r else torch.zeros(0, dtype=torch.long)
    is_weak = torch.zeros(k, dtype=torch.bool)
    is_weak[weak] = True
    perm = torch.cat([torch.nonzero(~is_weak).flatten(), weak])
    wp, u, _ = prepare(w[:, perm], h[perm][:, perm], damp, name)
    quantizer = _Columns(wp, bits, r)
    q = gptq_columns(wp, u, quantizer)
    u8 = (quantizer.codes.to(torch.int16) - quantizer.lo).to(torch.uint8).numpy()
    return OWQLayer(packed=pack_bits(u8, bits), scales=quantizer.scales.to(torch.float16).numpy(),
                    weak=q[:, k - r:].to(torch.float16).numpy(), weak_index=weak.numpy().astype(INDEX_DTYPE),
                    bits=bits, k=k)
