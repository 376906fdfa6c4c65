"""GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
Transformers", ICLR 2023), written from the paper.

The layer objective is ``||W X^T - Q X^T||^2`` with ``H = 2 X^T X`` (quant.study.calibration). Columns
are quantized left to right; the error of column ``i``, divided by the ``i``-th diagonal entry of
the upper Cholesky factor ``U`` of ``H^-1`` (``H^-1 = U^T U``), is spread over the columns not
yet quantized through row ``i`` of ``U`` (the optimal-brain-surgeon update, which the Cholesky
form gives for every step at once). Updates are applied lazily: inside a block of ``block``
columns immediately, to the columns after the block once per block with one matrix product.
Dampening adds 1% of the mean diagonal of ``H`` to its diagonal; inputs that are always zero
(``H_ii = 0``) get ``H_ii = 1`` and their weights are set to 0, as in the paper's code.

``gptq_columns`` is the loop with a pluggable column quantizer, shared by GPTQ proper (RTN
codes, per row or per group of 128, stored as ``RTNLayer`` so the bytes are audited the same
way), the OWQ baseline (quant.methods.owq) and FineQ with error feedback (quant.methods.fineq_variants).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from ..core.errors import FineQError
from ..core.weights import as_weight_matrix
from .rtn import RTNLayer, pack_bits
from .scale_search import search_scales, to_fp16

DAMP = 0.01
BLOCK = 128

# quantizer(column index, current columns c.. of the block [N, B'], U block rows/cols c.. [B', B'])
#   -> dequantized column c [N]
ColumnQuantizer = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]


@contextlib.contextmanager
def one_thread():
    """The column loop is thousands of small operations: on a shared 2-core machine, thread
    hand-offs cost more than they save (measured about 3x slower with 2 threads)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_hessian(h, k: int, name: str = "weight") -> torch.Tensor:
    if not isinstance(h, torch.Tensor) or h.shape != (k, k):
        shape = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
        raise FineQError(f"{name}: Hessian must be a [{k}, {k}] tensor, got {shape}")
    h = h.detach().to(torch.float32)
    if not bool(torch.isfinite(h).all()):
        raise FineQError(f"{name}: Hessian has NaN/Inf entries (calibration activations overflowed?)")
    return h


def prepare(w: torch.Tensor, h: torch.Tensor, damp: float = DAMP, name: str = "weight"):
    """(w with dead columns zeroed, upper Cholesky factor U of the damped H^-1, undamped H)."""
    if not 0 <= damp < 1:
        raise FineQError(f"dampening must be in [0, 1), got {damp}")
    w = w.clone()
    h = h.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    mean_diag = float(torch.diag(h).mean())
    for factor in (1.0, 10.0, 100.0):
        hd = h + factor * damp * mean_diag * torch.eye(h.shape[0])
        lower, info = torch.linalg.cholesky_ex(hd.to(torch.float64))
        if int(info) == 0:
            hinv = torch.cholesky_inverse(lower)
            upper, info = torch.linalg.cholesky_ex(hinv, upper=True)
            if int(info) == 0:
                return w, upper.to(torch.float32), h
    raise FineQError(f"{name}: the calibration Hessian is not positive definite even with dampening of "
                     f"{100 * 100 * damp:g}% of its mean diagonal (too few calibration tokens?)")


def gptq_columns(w: torch.Tensor, u: torch.Tensor, quantizer: ColumnQuantizer, *,
                 block: int = BLOCK) -> torch.Tensor:
    """Run the GPTQ loop; returns the dequantized weight ``Q`` [N, K]."""
    with one_thread():
        return _gptq_columns(w.clone(), u, quantizer, block)


def _gptq_columns(w, u, quantizer, block):
    n, k = w.shape
    q = torch.zeros_like(w)
    for i1 in range(0, k, block):
        i2 = min(i1 + block, k)
        w1 = w[:, i1:i2].clone()
        err1 = torch.zeros_like(w1)
        u1 = u[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = quantizer(i1 + i, w1[:, i:], u1[i:, i:])
            q[:, i1 + i] = col
            e = (w1[:, i] - col) / u1[i, i]
            w1[:, i:].sub_(e[:, None] * u1[i, i:][None, :])
            err1[:, i] = e
        if i2 < k:
            w[:, i2:].sub_(err1 @ u[i1:i2, i2:])
    return q


def hessian_error(w: torch.Tensor, q: torch.Tensor, h: torch.Tensor) -> float:
    """``trace((W - Q) H (W - Q)^T)``: the layer's output error on the calibration inputs (x2)."""
    d = w - q
    return float(((d @ h) * d).sum())


class _RTNColumns:
    """Symmetric b-bit codes with per-row scales (fixed) or per-group scales (set at group start)."""

    def __init__(self, w: torch.Tensor, bits: int, group: int | None):
        self.lo, self.hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        self.group = group
        n, k = w.shape
        groups = 1 if group is None else -(-k // group)
        self.scales = torch.ones(n, groups)
        self.codes = torch.zeros(n, k, dtype=torch.int8)
        if group is None:
            self.scales[:, 0] = search_scales(w, float(self.lo), float(self.hi), hi_max=float(self.hi))

    def __call__(self, c: int, rest: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        g = 0
        if self.group is not None:
            g = c // self.group
            if c % self.group == 0:  # scales of a group from its weights as updated so far
                cols = rest[:, : self.group]
                self.scales[:, g] = search_scales(cols.contiguous(), float(self.lo), float(self.hi),
                                                  hi_max=float(self.hi))
        s = self.scales[:, g]
        code = torch.round(rest[:, 0] / s).clamp_(self.lo, self.hi)
        self.codes[:, c] = code.to(torch.int8)
        return code * s


def quantize_gptq(w, h, bits: int, group: int | None = None, *, damp: float = DAMP,
                  name: str = "weight") -> RTNLayer:
    """GPTQ with symmetric ``bits``-bit codes, per row (``group=None``) or per group of columns."""
    if bits not in (2, 3, 4, 8):
        raise FineQError(f"GPTQ supports 2, 3, 4 or 8 bits, got {bits}")
    w = as_weight_matrix(w, name)
    n, k = w.shape
    h = check_hessian(h, k, name)
    if group is not None and group <= 0:
        raise FineQError(f"group size must be positive, got {group}")
    w, u, _ = prepare(w, h, damp, name)
    quantizer = _RTNColumns(w, bits, group)
    # group starts must fall on block starts so that a group's scale sees all updates so far
    gptq_columns(w, u, quantizer, block=BLOCK if group is None else group)
    g = k if group is None else group
    groups = -(-k // g)
    codes = torch.nn.functional.pad(quantizer.codes, (0, groups * g - k)).reshape(n * groups, g)
    u8 = (codes.to(torch.int16) - quantizer.lo).to(torch.uint8).numpy()
    return RTNLayer(packed=pack_bits(u8, bits),
                    scales=to_fp16(quantizer.scales).to(torch.float16).numpy().reshape(n, groups),
                    bits=bits, group=g, k=k)
