"""FineQ variants for the study. Every one writes exact fineq-v1 (a FineQLayer: cluster bytes
that decode by the table of docs/format.md, float16 row scales), so the same hardware runs all of them.

* ``quantize_no_protection``: every cluster normal (three 2-bit codes), the ablation of the
  outlier rule.
* ``quantize_error_min``: instead of the 4x rule, each cluster takes whichever of its four
  formats (normal, or position 0, 1 or 2 pruned with 3-bit codes) reconstructs it with the least
  squared error *at the row's scale*, and the scale is searched jointly: for every candidate
  scale each cluster picks its best format, the row's error is the sum of those minima; the
  best grid point is refined by alternating least squares (codes fixed -> best scale -> best
  formats again), each candidate rounded to float16 before it is scored.
* ``quantize_error_feedback``: GPTQ's loop (quant.methods.gptq) over fineq-v1. Scales and, in the
  "rule" mode, nothing else are fixed first; at the first column of each cluster the formats
  of all rows are chosen from the cluster's weights *as updated by the error feedback so far*
  (the 4x rule, or the least error weighted by GPTQ's per-column factor ``1/U_cc^2``); each
  column is rounded within its format's range and its error spread over the later columns.
  Finally each row's scale is refitted for its codes under the Hessian metric, kept only where
  it lowers the layer's output error on the calibration text.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core import format as fmt
from ..core.weights import as_weight_matrix
from .fineq import DEFAULT_THRESHOLD, FineQLayer, check_threshold, classify, code_bounds, to_planes
from .gptq import DAMP, check_hessian, gptq_columns, prepare
from .scale_search import FP16_TINY, quantize_codes, row_blocks, search_scales, to_fp16

GRID = tuple(np.round(np.arange(0.40, 1.301, 0.05), 2))  # ratios of absmax / 3 (the 3-bit top code)
LSQ_STEPS = 4
FORMAT_MODES = ("rule", "error-min")


def _layer(planes_codes: torch.Tensor, formats: torch.Tensor, scales: torch.Tensor, k: int) -> FineQLayer:
    """Codes [N, 3, C] (int) + formats [N, C] + float16-exact scales [N] -> FineQLayer."""
    q0, q1, q2 = (p.to(torch.int8).numpy() for p in planes_codes.unbind(1))
    return FineQLayer(clusters=fmt.encode_planes(q0, q1, q2, formats.to(torch.uint8).numpy()),
                      scales=scales.to(torch.float16).numpy(), k=k)


def _fixed_formats(w: torch.Tensor, formats_of) -> FineQLayer:
    """Quantize with formats chosen from the weights alone, then the shared scale search."""
    codes, formats, scales = [], [], []
    for block in row_blocks(w):
        n = block.shape[0]
        planes = to_planes(block)
        f = formats_of(planes)
        lo, hi = (b.transpose(0, 1).reshape(n, -1) for b in code_bounds(f))
        flat = planes.reshape(n, -1)
        s = search_scales(flat, lo, hi, hi_max=float(fmt.Q3_MAX))
        codes.append(quantize_codes(flat, s, lo, hi).reshape(planes.shape))
        formats.append(f)
        scales.append(s)
    return _layer(torch.cat(codes), torch.cat(formats), torch.cat(scales), w.shape[1])


def quantize_no_protection(w, *, name: str = "weight") -> FineQLayer:
    """fineq-v1 with every cluster normal: plain 2-bit codes (-2..1) and one scale per row."""
    w = as_weight_matrix(w, name)
    return _fixed_formats(w, lambda planes: torch.zeros(planes.shape[0], planes.shape[2], dtype=torch.uint8))


def quantize_threshold(w, threshold: float = DEFAULT_THRESHOLD, *, name: str = "weight") -> FineQLayer:
    """The reference rule at any threshold (same result as quant.methods.fineq.quantize_fineq)."""
    threshold = check_threshold(threshold)
    w = as_weight_matrix(w, name)
    return _fixed_formats(w, lambda planes: classify(planes.transpose(0, 1), threshold))


def best_formats(planes: torch.Tensor, scale: torch.Tensor, weight=None):
    """(formats [R, C] uint8, codes [R, 3, C], per-row error [R]) with the least-error format
    per cluster of ``planes`` [R, 3, C] at row scales [R]: format 0 (normal, 2-bit codes) or
    1..3 (position p pruned, 3-bit codes), the lowest format index on ties, so a normal cluster
    wins an exact tie. ``weight`` [3] or [R, 3, C] weighs each position's squared error.

    Only the winner's codes are built: building all four and gathering one was half the time of
    the Gemma study's scale search.
    """
    s = scale[:, None, None]
    r = torch.round(planes / s)
    q2, q3 = r.clamp(fmt.Q2_MIN, fmt.Q2_MAX), r.clamp_(fmt.Q3_MIN, fmt.Q3_MAX)
    e2, e3, e0 = (planes - s * q2) ** 2, (planes - s * q3) ** 2, planes**2
    if weight is not None:
        e2, e3, e0 = e2 * weight, e3 * weight, e0 * weight
    err, total3 = e2.sum(1), e3.sum(1)
    f = torch.zeros_like(err, dtype=torch.uint8)
    for p in range(fmt.CLUSTER):
        e = total3 - e3[:, p] + e0[:, p]
        better = e < err  # strict: the lower index keeps a tie
        err, f = torch.where(better, e, err), torch.where(better, p + 1, f)
    codes = torch.where(f[:, None, :] == 0, q2, q3)
    pruned = f[:, None, :] == torch.arange(1, fmt.CLUSTER + 1, dtype=torch.uint8)[None, :, None]
    return f, codes.masked_fill_(pruned, 0), err.sum(-1)


def _error_min_block(w: torch.Tensor):
    planes = to_planes(w)
    absmax = w.abs().amax(dim=1)
    base = absmax / fmt.Q3_MAX
    best_err = torch.full((w.shape[0],), float("inf"))
    best_s = torch.ones(w.shape[0])
    best_f = torch.zeros(planes.shape[0], planes.shape[2], dtype=torch.uint8)
    best_q = torch.zeros_like(planes)

    def consider(s):
        nonlocal best_err, best_s, best_f, best_q
        f, q, err = best_formats(planes, s)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_s = torch.where(better, s, best_s)
        best_f = torch.where(better[:, None], f, best_f)
        best_q = torch.where(better[:, None, None], q, best_q)
        return better, q

    seed = best_s
    for ratio in GRID:
        s = to_fp16(base * float(ratio))
        better, q = consider(s)
        seed = torch.where(better, s, seed)
    for _ in range(LSQ_STEPS):
        q = best_q.reshape(w.shape[0], -1)
        flat = planes.reshape(w.shape[0], -1)
        qq = (q * q).sum(1)
        s = torch.where(qq > 0, (flat * q).sum(1) / qq.clamp_min(1e-30), best_s)
        consider(to_fp16(s))
    zero = absmax == 0
    best_s = torch.where(zero, torch.ones_like(best_s), best_s)
    return best_q, best_f, best_s


def quantize_error_min(w, *, name: str = "weight") -> FineQLayer:
    """fineq-v1 with the least-error format of every cluster and a joint scale search."""
    w = as_weight_matrix(w, name)
    parts = [_error_min_block(b) for b in row_blocks(w)]
    return _layer(*(torch.cat([p[i] for p in parts]) for i in range(3)), w.shape[1])


class _FineQColumns:
    """Column quantizer for GPTQ's loop: formats chosen at each cluster's first column."""

    def __init__(self, scales: torch.Tensor, k: int, mode: str, threshold: float):
        self.scales, self.k, self.mode, self.threshold = scales, k, mode, threshold
        n = scales.shape[0]
        c = fmt.num_clusters(k)
        self.formats = torch.zeros(n, c, dtype=torch.uint8)
        self.codes = torch.zeros(n, fmt.CLUSTER, c)
        self.lo = self.hi = None

    def __call__(self, col: int, rest: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        j, p = divmod(col, fmt.CLUSTER)
        if p == 0:
            width = min(fmt.CLUSTER, self.k - col)
            cluster = torch.zeros(rest.shape[0], fmt.CLUSTER, 1)
            cluster[:, :width, 0] = rest[:, :width]
            if self.mode == "rule":
                f = classify(cluster.permute(1, 0, 2), self.threshold)[:, 0]
            else:
                weight = torch.ones(fmt.CLUSTER)
                weight[:width] = 1.0 / torch.diag(u)[:width] ** 2
                f = best_formats(cluster, self.scales, weight[None, :, None])[0][:, 0]
            self.formats[:, j] = f
            self.lo, self.hi = code_bounds(f)  # [3, N]
        q = torch.round(rest[:, 0] / self.scales).clamp_(self.lo[p], self.hi[p])
        self.codes[:, p, j] = q
        return q * self.scales


def refit_scales(w: torch.Tensor, codes: torch.Tensor, scales: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Per row, the float16 scale minimising ``(w - s q) H (w - s q)^T`` for fixed codes, where
    it is better than the current one (float16-rounded candidates are compared exactly)."""
    qh = codes @ h
    num = (w @ h * codes).sum(1)
    den = (qh * codes).sum(1)
    cand = to_fp16(torch.where(den > 0, num / den.clamp_min(1e-30), scales))

    def err(s):
        d = w - s[:, None] * codes
        return ((d @ h) * d).sum(1)

    return torch.where(err(cand) < err(scales), cand, scales)


def quantize_error_feedback(w, h, *, formats: str = "error-min", threshold: float = DEFAULT_THRESHOLD,
                            damp: float = DAMP, refit: bool = True, name: str = "weight") -> FineQLayer:
    """FineQ with GPTQ-style error feedback, written as exact fineq-v1."""
    if formats not in FORMAT_MODES:
        from ..core.errors import FineQError

        raise FineQError(f"format choice must be one of {', '.join(FORMAT_MODES)}, got {formats!r}")
    threshold = check_threshold(threshold)
    w = as_weight_matrix(w, name)
    n, k = w.shape
    h = check_hessian(h, k, name)
    start = quantize_error_min(w, name=name) if formats == "error-min" else quantize_threshold(w, threshold, name=name)
    scales = torch.from_numpy(start.scales.astype(np.float32)).clamp_min(FP16_TINY)
    wd, u, hd = prepare(w, h, damp, name)
    quantizer = _FineQColumns(scales, k, formats, threshold)
    # blocks of whole clusters, so a cluster's columns are all visible at its first column
    gptq_columns(wd, u, quantizer, block=126)
    codes = quantizer.codes  # [N, 3, C]
    if refit:
        flat = codes.permute(0, 2, 1).reshape(n, -1)[:, :k]
        scales = refit_scales(wd, flat, scales, hd)
    return _layer(codes, quantizer.formats, scales, k)
