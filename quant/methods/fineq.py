"""The FineQ quantizer: clusters of three, outlier clusters with 3-bit codes, the rest 2-bit.

A cluster ``(w0, w1, w2)`` is an outlier cluster when ``max|w| > threshold * min|w|``
(strict). Its smallest-magnitude weight (lowest position on ties) is pruned to 0 and the
other two get 3-bit codes (-4..3); a normal cluster gets three 2-bit codes (-2..1). One
float16 scale per row, chosen by the shared scale search. The output is exact fineq-v1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core import format as fmt
from ..core.errors import FineQError
from ..core.weights import as_weight_matrix
from .scale_search import map_blocks, quantize_codes, row_blocks, search_scales

DEFAULT_THRESHOLD = 4.0


@dataclass
class FineQLayer:
    """A weight matrix in fineq-v1: cluster bytes [N, ceil(K/3)] and float16 scales [N]."""

    clusters: np.ndarray
    scales: np.ndarray
    k: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.clusters.shape[0], self.k)

    def codes(self) -> np.ndarray:
        """Signed integer weights int8 [N, K]."""
        return fmt.unpack_clusters(self.clusters, self.k)

    def dequantize(self) -> torch.Tensor:
        q = torch.from_numpy(self.codes().astype(np.float32))
        return torch.from_numpy(self.scales.astype(np.float32))[:, None] * q

    def stored(self) -> dict[str, np.ndarray]:
        return {"clusters": self.clusters, "scales": self.scales}

    @property
    def bpw(self) -> float:
        return fmt.bits_per_weight(self.stored(), *self.shape)

    @property
    def outlier_fraction(self) -> float:
        return float((fmt.cluster_format(self.clusters) != fmt.NORMAL).mean())


def check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not np.isfinite(threshold) or threshold <= 1.0:
        raise FineQError(
            f"outlier threshold must be a finite number > 1 (got {threshold}): a cluster is an "
            "outlier when max|w| > threshold * min|w|, so <= 1 would make every cluster an outlier"
        )
    return threshold


def classify(planes: torch.Tensor, threshold: float) -> torch.Tensor:
    """Cluster planes [3, ...] (position first) -> format index [...] (uint8).

    0 for a normal cluster, p+1 for an outlier cluster whose position p is pruned.
    """
    a0, a1, a2 = planes.abs().unbind(0)
    outlier = torch.maximum(torch.maximum(a0, a1), a2) > threshold * torch.minimum(torch.minimum(a0, a1), a2)
    # smallest magnitude, lowest position on ties
    p0 = (a0 <= a1) & (a0 <= a2)
    p1 = ~p0 & (a1 <= a2)
    p2 = ~p0 & ~p1
    pruned_index = 1 + p1.to(torch.uint8) + 2 * p2.to(torch.uint8)
    return torch.where(outlier, pruned_index, torch.zeros_like(pruned_index))


def code_bounds(formats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Code bounds (float) [3, ...] for each position of clusters with the given formats [...]."""
    outlier = formats != fmt.NORMAL
    lo_kept = torch.where(outlier, float(fmt.Q3_MIN), float(fmt.Q2_MIN))
    hi_kept = torch.where(outlier, float(fmt.Q3_MAX), float(fmt.Q2_MAX))
    pruned = torch.stack([formats == p + 1 for p in range(fmt.CLUSTER)])
    lo = torch.where(pruned, 0.0, lo_kept)
    hi = torch.where(pruned, 0.0, hi_kept)
    return lo, hi


def to_planes(w: torch.Tensor) -> torch.Tensor:
    """[N, K] -> [N, 3, ceil(K/3)]: row n, position p, cluster j holds column 3j+p (0 padded).

    Each row stays contiguous (so per-row reductions are cheap) and each position is a
    contiguous plane (so per-cluster logic is elementwise, not a reduction over 3).
    """
    n, k = w.shape
    c = fmt.num_clusters(k)
    wp = torch.nn.functional.pad(w, (0, c * fmt.CLUSTER - k))
    return wp.reshape(n, c, fmt.CLUSTER).permute(0, 2, 1).contiguous()


def quantize_fineq(w, threshold: float = DEFAULT_THRESHOLD, *, name: str = "weight") -> FineQLayer:
    """Quantize a float weight [N, K] to fineq-v1 with the reference (threshold) rule."""
    threshold = check_threshold(threshold)
    w = as_weight_matrix(w, name)
    blocks = map_blocks(lambda b: _quantize_block(b, threshold), row_blocks(w))
    return FineQLayer(
        clusters=np.concatenate([b[0] for b in blocks]),
        scales=np.concatenate([b[1] for b in blocks]),
        k=w.shape[1],
    )


def _quantize_block(w: torch.Tensor, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    n = w.shape[0]
    planes = to_planes(w)  # [n, 3, C]
    formats = classify(planes.transpose(0, 1), threshold)  # [n, C]
    lo, hi = (b.transpose(0, 1).reshape(n, -1) for b in code_bounds(formats))
    flat = planes.reshape(n, -1)
    scales = search_scales(flat, lo, hi, hi_max=float(fmt.Q3_MAX))
    q0, q1, q2 = (p.numpy() for p in quantize_codes(flat, scales, lo, hi).reshape(planes.shape).unbind(1))
    return fmt.encode_planes(q0, q1, q2, formats.numpy(), check=False), scales.to(torch.float16).numpy()


def check_layer(layer: FineQLayer, name: str = "layer") -> None:
    """Validate a FineQLayer read from outside (shapes, dtypes, scales, padding)."""
    c, s = layer.clusters, layer.scales
    if c.dtype != np.uint8 or c.ndim != 2:
        raise FineQError(f"{name}: clusters must be uint8 [N, C], got {c.dtype} {c.shape}")
    if s.dtype != np.float16 or s.shape != (c.shape[0],):
        raise FineQError(f"{name}: scales must be float16 [{c.shape[0]}], got {s.dtype} {s.shape}")
    if not np.isfinite(s).all() or (s <= 0).any():
        raise FineQError(f"{name}: scales must be finite and positive")
    try:
        fmt.unpack_clusters(c, layer.k)
    except FineQError as e:
        raise FineQError(f"{name}: {e}") from None
