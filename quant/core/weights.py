"""Validation of a weight matrix before any quantizer touches it."""

from __future__ import annotations

import math

import numpy as np
import torch

from .errors import FineQError

FP16_MAX = 65504.0  # largest float16: every method stores float16 scales


def as_weight_matrix(w, name: str = "weight") -> torch.Tensor:
    """A 2-D, non-empty, finite floating-point weight as float32 torch tensor, or FineQError."""
    if isinstance(w, np.ndarray):
        if not np.issubdtype(w.dtype, np.floating):
            raise FineQError(f"{name}: weights must be floating point, got {w.dtype}")
        w = torch.from_numpy(w)
    if not isinstance(w, torch.Tensor):
        raise FineQError(f"{name}: expected a torch tensor or numpy array, got {type(w).__name__}")
    if not w.is_floating_point():
        raise FineQError(
            f"{name}: weights must be floating point, got {w.dtype} (already quantized? "
            "pass the float checkpoint)"
        )
    if w.ndim != 2:
        raise FineQError(f"{name}: expected a 2-D [N, K] weight, got shape {tuple(w.shape)}")
    if w.numel() == 0:
        raise FineQError(f"{name}: weight is empty (shape {tuple(w.shape)})")
    w = w.detach().to(torch.float32).contiguous()
    absmax = float(w.abs().max())  # one pass: NaN and Inf propagate into the maximum
    if not math.isfinite(absmax):
        n, k = (int(i) for i in torch.nonzero(~torch.isfinite(w))[0])
        raise FineQError(
            f"{name}: weight[{n}, {k}] is {float(w[n, k])}; NaN/Inf weights cannot be quantized "
            "(check the checkpoint)"
        )
    if absmax > FP16_MAX:
        raise FineQError(f"{name}: weights beyond 65504 cannot be represented with a float16 scale")
    return w
