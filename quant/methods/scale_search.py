"""Per-row scale search shared by FineQ and the round-to-nearest baselines.

Every method here stores one float16 scale per row (or per group, which is a row of a
reshaped tensor) and integer codes clamped to a per-element range ``[lo, hi]``. For each
row the search minimises the squared reconstruction error

    E(s) = sum (w - s * r)**2,   r = clamp(round(w / s), lo, hi)

in two stages:

1. a grid of clipping ratios, ``s = ratio * max|w| / hi_max``, and
2. alternating least squares from the best grid point: with the codes ``r`` fixed, the
   best scale is ``(w . r) / (r . r)``; re-rounding the codes at that scale cannot make the
   error larger (the nearest admissible level is the best code), so E decreases.

Every candidate is rounded to float16 before it is scored, because the float16 value is
what is stored, and the best-scoring candidate of all wins. Both stages get E from two dot
products per row (``E = w.w - 2 s w.r + s^2 r.r``), which keeps the search to about a dozen
passes over the weights. Rounding is torch.round (half to even) everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

from ..core.weights import FP16_MAX

T = TypeVar("T")

FP16_TINY = 2.0**-14  # smallest normal float16: scales never go below it
CHUNK_ELEMENTS = 1 << 18  # rows are processed in blocks of about this many weights (cache-sized)
GRID = (0.30, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 1.00)  # clipping ratios of stage 1
LSQ_STEPS = 3  # alternating least-squares steps of stage 2


def to_fp16(s: torch.Tensor) -> torch.Tensor:
    """Round scales to float16 (kept as float32), clamped to the normal float16 range."""
    return s.clamp(FP16_TINY, FP16_MAX).to(torch.float16).to(torch.float32)


class _Scorer:
    """Scores candidate scales of one block of rows, reusing its buffers."""

    def __init__(self, w: torch.Tensor, lo, hi):
        self.w, self.lo, self.hi = w, lo, hi
        self.ww = torch.linalg.vecdot(w, w)
        self.x = torch.empty_like(w)
        self.r = torch.empty_like(w)

    def score(self, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(error, least-squares scale for the same codes) per row."""
        torch.mul(self.w, (1.0 / scale)[:, None], out=self.x)
        torch.round(self.x, out=self.r)
        torch.clamp(self.r, self.lo, self.hi, out=self.r)
        wr = torch.linalg.vecdot(self.w, self.r)
        rr = torch.linalg.vecdot(self.r, self.r)
        err = self.ww - 2 * scale * wr + scale * scale * rr
        lsq = torch.where(rr > 0, wr / rr.clamp_min(1e-30), scale)
        return err, lsq


def row_blocks(w: torch.Tensor) -> list[torch.Tensor]:
    """Split rows into cache-sized blocks (large elementwise passes are much slower here), and
    into at least one block per core when there are enough rows."""
    per_core = -(-w.shape[0] // (os.cpu_count() or 1))
    step = max(1, min(CHUNK_ELEMENTS // max(1, w.shape[1]), per_core))
    return list(torch.split(w, step))


def map_blocks(fn: Callable[[torch.Tensor], T], blocks: list[torch.Tensor]) -> list[T]:
    """``[fn(b) for b in blocks]``, one block per core at a time.

    Blocks are independent, so they run in a thread pool (torch releases the GIL) with torch's
    own intra-op threads set to 1 meanwhile: splitting every small elementwise op across cores
    costs a synchronisation per op, and stalls badly when another process holds a core.
    """
    workers = min(len(blocks), os.cpu_count() or 1)
    if workers <= 1:
        return [fn(b) for b in blocks]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, blocks))
    finally:
        torch.set_num_threads(threads)


def search_scales(w: torch.Tensor, lo, hi, hi_max: float) -> torch.Tensor:
    """Float16-representable scale per row of a block ``w`` [R, L] (as float32 [R]).

    ``lo``/``hi`` are the per-element code bounds (float tensors shaped like ``w``, or
    numbers); ``hi_max`` is the largest positive code, which sizes the grid. Call it on
    blocks from ``row_blocks``.
    """
    absmax = w.abs().amax(dim=1)
    base = absmax / hi_max
    scorer = _Scorer(w, lo, hi)
    best_err = torch.full((w.shape[0],), float("inf"))
    best = torch.ones(w.shape[0])
    seed = best  # least-squares scale for the codes of the best grid point

    def consider(scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal best_err, best
        err, lsq = scorer.score(scale)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best = torch.where(better, scale, best)
        return better, lsq

    for ratio in GRID:
        better, lsq = consider(to_fp16(base * ratio))
        seed = torch.where(better, lsq, seed)
    for _ in range(LSQ_STEPS):
        _, seed = consider(to_fp16(seed))
    # An all-zero row has no meaningful scale: store 1.0 (its codes are all 0 anyway).
    return torch.where(absmax > 0, best, torch.ones_like(best))


def quantize_codes(w: torch.Tensor, scale: torch.Tensor, lo, hi) -> torch.Tensor:
    """Integer codes ``clamp(round(w / s), lo, hi)`` as int8, for per-row scales."""
    return torch.round(w / scale[:, None]).clamp_(lo, hi).to(torch.int8)
