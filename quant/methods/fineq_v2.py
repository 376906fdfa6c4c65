"""fineq-v2: fineq-v1 clusters with two-level per-group scales along K.

The cluster bytes are exactly fineq-v1's. The scale of weight ``[n, k]`` is

    s[n, g] = float32(s_row[n]) * e[n, g],   g = k // G

with ``s_row`` float16 ``[N]`` (as in v1) and ``e`` an unsigned 8-bit integer ``[N, ceil(K/G)]`` in
``1..255`` (``E_MIN..E_MAX``). ``G`` is a whole number of clusters (3) and of the array's 12 rows,
so a multiple of 12; the last group of a row may be partial. The accelerator applies ``e`` with a
small integer multiplier in its accumulation path:

    acc[m, n] = sum_g e[n, g] * sum_{k in g} x_q[m, k] * q[n, k]      (exact integers)

and the vector unit then sees ``acc`` exactly as in v1, with ``s_row[n]`` as the weight scale.
fineq-v1 is the one-group case ``G >= K`` with ``e = 1``.

Quantizers:

* ``quantize_v2_error_min``: per group, the error-minimising FineQ search of
  ``quant.methods.fineq_variants`` gives a float scale ``t[n, g]``; ``s_row[n]`` is ``max_g t / 255``
  rounded to float16 (up, so that every ``e`` fits), ``e = clip(round(t / s_row), 1, 255)``, and the
  formats and codes of every cluster are chosen again at the final scale ``s_row * e``.
* ``quantize_v2_error_feedback``: GPTQ's loop over fineq-v2. ``s_row`` comes from the weight-only
  search above; at each group's first column ``e`` is chosen for the weights as updated by the error
  feedback so far, and the cluster formats as in ``fineq-ef-emin``; finally ``s_row`` is refitted
  under the Hessian metric where that lowers the output error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core import format as fmt
from ..core.errors import FineQError
from ..core.weights import as_weight_matrix
from .fineq import to_planes
from .fineq_variants import _error_min_block, _FineQColumns, best_formats
from .gptq import DAMP, check_hessian, gptq_columns, prepare

FORMAT = "fineq-v2"
E_MIN, E_MAX = 1, 255
ARRAY_ROWS = 12  # the accelerator's systolic array height: a group is a whole number of its tiles
DEFAULT_GROUP = 96


def check_group(group: int) -> int:
    if not isinstance(group, (int, np.integer)) or group <= 0 or group % ARRAY_ROWS or group % fmt.CLUSTER:
        raise FineQError(f"fineq-v2 group size must be a positive multiple of {ARRAY_ROWS} "
                         f"(whole clusters of 3 and whole array tiles of {ARRAY_ROWS} rows), got {group!r}")
    return int(group)


def num_groups(k: int, group: int) -> int:
    return -(-k // group)


@dataclass
class FineQGroupLayer:
    """fineq-v2: cluster bytes [N, ceil(K/3)], float16 row scales [N], uint8 group factors [N, groups]."""

    clusters: np.ndarray
    scales: np.ndarray
    sub: np.ndarray
    group: int
    k: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.clusters.shape[0], self.k)

    def codes(self) -> np.ndarray:
        return fmt.unpack_clusters(self.clusters, self.k)

    def factors(self) -> np.ndarray:
        """``e`` expanded to every column: int32 [N, K]."""
        return np.repeat(self.sub.astype(np.int32), self.group, axis=1)[:, : self.k]

    def dequantize(self) -> torch.Tensor:
        q = torch.from_numpy((self.codes().astype(np.int32) * self.factors()).astype(np.float32))
        return torch.from_numpy(self.scales.astype(np.float32))[:, None] * q

    def stored(self) -> dict[str, np.ndarray]:
        return {"clusters": self.clusters, "scales": self.scales, "sub": self.sub}

    @property
    def bpw(self) -> float:
        return fmt.bits_per_weight(self.stored(), *self.shape)

    @property
    def outlier_fraction(self) -> float:
        return float((fmt.cluster_format(self.clusters) != fmt.NORMAL).mean())


def check_group_layer(layer: FineQGroupLayer, name: str = "layer") -> None:
    n = layer.clusters.shape[0]
    check_group(layer.group)
    if layer.sub.dtype != np.uint8 or layer.sub.shape != (n, num_groups(layer.k, layer.group)):
        raise FineQError(f"{name}: group factors must be uint8 [{n}, {num_groups(layer.k, layer.group)}], "
                         f"got {layer.sub.dtype} {layer.sub.shape}")
    if layer.sub.size and layer.sub.min() < E_MIN:
        raise FineQError(f"{name}: group factors must be in {E_MIN}..{E_MAX}")
    if layer.scales.dtype != np.float16 or not np.isfinite(layer.scales).all() or (layer.scales <= 0).any():
        raise FineQError(f"{name}: row scales must be finite positive float16")
    layer.codes()


def _grouped(w: torch.Tensor, group: int) -> torch.Tensor:
    """[N, K] -> [N * groups, G] (the last group zero-padded)."""
    n, k = w.shape
    g = num_groups(k, group)
    return torch.nn.functional.pad(w, (0, g * group - k)).reshape(n * g, group)


FP16_SUB = 2.0**-24  # smallest positive (subnormal) float16


def to_fp16_row(s: torch.Tensor) -> torch.Tensor:
    """Round row scales to float16, subnormals included: ``s_row`` only sets the grid
    ``{s_row * e}`` of a row's group scales, whose resolution comes from ``e``, so a row of small
    weights needs an ``s_row`` below float16's smallest normal number (2**-14)."""
    return s.clamp(FP16_SUB, 65504.0).to(torch.float16).to(torch.float32)


def two_level(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Group scales t [N, groups] (>= 0) -> (float16-exact s_row [N], integer e [N, groups])."""
    top = t.amax(dim=1).clamp_min(FP16_SUB * E_MAX)
    s_row = to_fp16_row(top / E_MAX)
    s_row = torch.where(top / s_row > E_MAX + 0.5, to_fp16_row(s_row * (1 + 2**-9)), s_row)
    e = torch.round(t / s_row[:, None]).clamp_(E_MIN, E_MAX)
    return s_row, e


def refit_row_scales(w, codes, s_row, h) -> torch.Tensor:
    """Per row, the float16 ``s_row`` minimising ``(w - s c) H (w - s c)^T`` for fixed integer
    weights ``c = e * q``, where it is better than the current one."""
    num = (w @ h * codes).sum(1)
    den = ((codes @ h) * codes).sum(1)
    cand = to_fp16_row(torch.where(den > 0, num / den.clamp_min(1e-30), s_row))

    def err(s):
        d = w - s[:, None] * codes
        return ((d @ h) * d).sum(1)

    return torch.where(err(cand) < err(s_row), cand, s_row)


def _layer_from(codes_planes: torch.Tensor, formats: torch.Tensor, s_row, e, group: int, k: int):
    q0, q1, q2 = (p.to(torch.int8).numpy() for p in codes_planes.unbind(1))
    return FineQGroupLayer(clusters=fmt.encode_planes(q0, q1, q2, formats.to(torch.uint8).numpy()),
                           scales=s_row.to(torch.float16).numpy(), sub=e.to(torch.uint8).numpy(),
                           group=group, k=k)


def _codes_at(w: torch.Tensor, scale_cols: torch.Tensor):
    """Least-error formats and codes of every cluster of ``w`` [N, K] at per-column scales [N, K]
    (constant within a cluster): (codes planes [N, 3, C], formats [N, C])."""
    planes = to_planes(w)
    s = to_planes(scale_cols)[:, 0, :]  # a cluster's scale (groups hold whole clusters)
    s = torch.where(s > 0, s, torch.ones_like(s))
    f, q, _ = best_formats(planes / s[:, None, :], torch.ones(w.shape[0]))
    return q, f


def quantize_v2_error_min(w, group: int = DEFAULT_GROUP, *, name: str = "weight") -> FineQGroupLayer:
    """fineq-v2 with the error-minimising format choice and a two-level scale per group."""
    group = check_group(group)
    w = as_weight_matrix(w, name)
    n, k = w.shape
    g = num_groups(k, group)
    t = torch.cat([_error_min_block(b)[2] for b in torch.split(_grouped(w, group), 4096)])
    t = torch.where(_grouped(w, group).abs().amax(1) > 0, t, torch.zeros_like(t)).reshape(n, g)
    s_row, e = two_level(t)
    q, f = _codes_at(w, column_scales(s_row, e, group, k))
    return _layer_from(q, f, s_row, e, group, k)


def column_scales(s_row: torch.Tensor, e: torch.Tensor, group: int, k: int) -> torch.Tensor:
    return (s_row[:, None] * e).repeat_interleave(group, dim=1)[:, :k]


class _GroupColumns(_FineQColumns):
    """fineq-ef-emin's column quantizer with the group factor chosen at each group's first column."""

    def __init__(self, s_row: torch.Tensor, groups: int, group: int, k: int):
        super().__init__(s_row.clone(), k, "error-min", 4.0)
        self.s_row, self.group = s_row, group
        self.e = torch.ones(s_row.shape[0], groups)

    def __call__(self, col: int, rest: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        if col % self.group == 0:
            block = rest[:, : self.group]
            t = _error_min_block(torch.nn.functional.pad(block, (0, self.group - block.shape[1])))[2]
            t = torch.where(block.abs().amax(1) > 0, t, self.s_row)
            e = torch.round(t / self.s_row).clamp_(E_MIN, E_MAX)
            self.e[:, col // self.group] = e
            self.scales = self.s_row * e
        return super().__call__(col, rest, u)


def quantize_v2_error_feedback(w, h, group: int = DEFAULT_GROUP, *, damp: float = DAMP, refit: bool = True,
                               name: str = "weight") -> FineQGroupLayer:
    """fineq-v2 with GPTQ-style error feedback and error-minimising formats."""
    group = check_group(group)
    w = as_weight_matrix(w, name)
    n, k = w.shape
    h = check_hessian(h, k, name)
    start = quantize_v2_error_min(w, group, name=name)
    s_row = torch.from_numpy(start.scales.astype(np.float32))
    wd, u, hd = prepare(w, h, damp, name)
    quantizer = _GroupColumns(s_row, num_groups(k, group), group, k)
    gptq_columns(wd, u, quantizer, block=group)  # block starts on group (and cluster) starts
    codes = quantizer.codes
    if refit:
        flat = codes.permute(0, 2, 1).reshape(n, -1)[:, :k] * column_scales(torch.ones(n), quantizer.e, group, k)
        s_row = refit_row_scales(wd, flat, s_row, hd)
    return _layer_from(codes, quantizer.formats, s_row, quantizer.e, group, k)
