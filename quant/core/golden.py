"""Golden integer model of the accelerator (docs/numbers.md): the oracle for the RTL.

Every step is integer arithmetic on numpy int64, so the result does not depend on float
rounding anywhere after the parameters are made:

1. Activations: symmetric INT8, ``x_q = clip(round_half_even(x / s_x), -127, 127)`` with
   ``s_x = max|x| / 127`` (float32), per tensor (``quantize_activations``) or per token, one scale
   per row of the input (``quantize_activations_per_token``). -128 is never produced.
2. GEMM: ``acc[m, n] = sum_k x_q[m, k] * q[n, k]`` exactly. With |x_q| <= 127 and |q| <= 4 the
   sum is bounded by ``508 * K``, so INT32 cannot overflow for K <= 4,227,330 (``ACC_MAX_K``).
3. Vector unit, per output channel n, from the INT32 sum and an INT32 bias:
   ``t = acc + bias`` (must stay inside INT32), ``p = t * mult[n]`` (mult is unsigned,
   ``2**14 <= mult < 2**15``), ``y = (p + 2**(shift[n] - 1)) >> shift[n]`` with an arithmetic
   (flooring) shift, i.e. round to nearest with ties toward +infinity, then saturate to
   [-128, 127]. ``mult / 2**shift`` approximates ``s_x * s_w[n] / s_y`` to 15 significant bits.
   The bypass returns ``acc`` itself (no bias, no rounding).
4. Per-token mode: the vector unit is the same per-channel requantizer. With ``mult[n] / 2**shift[n]
   ~ s_w[n] / sigma`` (``make_requant_per_token``; ``sigma`` one static scale per layer) the INT8
   output ``y_q[m, n]`` stands for ``y_q[m, n] * sigma * s_x[m]``: the output scale follows each
   token's input scale, so the multiplier does not depend on the token. A bias is added by the host.
5. fineq-v2 (two-level group scales): ``acc[m, n] = sum_g e[n, g] * sum_{k in g} x_q[m, k] q[n, k]``
   with ``e`` in 1..255 (``int_gemm_grouped``); ``|x_q * q * e| <= 127 * 4 * 255``, so INT32 holds
   every sum for K <= 16,577 (``ACC_MAX_K_V2``). fineq-v1 is the case of one group with ``e = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import FineQError

ACT_MAX = 127
WEIGHT_MAX_ABS = 4
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
ACC_MAX_K = INT32_MAX // (ACT_MAX * WEIGHT_MAX_ABS)
GROUP_FACTOR_MAX = 255  # fineq-v2's e[n, g], unsigned 8-bit, 1..255
ACC_MAX_K_V2 = INT32_MAX // (ACT_MAX * WEIGHT_MAX_ABS * GROUP_FACTOR_MAX)
MULT_BITS = 15  # requantization multiplier: unsigned, in [2**14, 2**15)
SHIFT_MIN, SHIFT_MAX = 1, 47  # product |t * mult| < 2**46, so 47 covers every useful shift


def quantize_activations(x: np.ndarray) -> tuple[np.ndarray, np.float32]:
    """Float activations [M, K] -> (INT8 codes [M, K], float32 scale), symmetric per tensor."""
    x = np.asarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise FineQError("activations contain NaN or Inf; check the model input")
    absmax = np.float32(np.abs(x).max()) if x.size else np.float32(0)
    scale = np.float32(absmax / ACT_MAX) if absmax > 0 else np.float32(1.0)
    x_q = np.clip(np.rint(x / scale), -ACT_MAX, ACT_MAX).astype(np.int8)
    return x_q, scale


def quantize_activations_per_token(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float activations [M, K] -> (INT8 codes [M, K], float32 scales [M]), one scale per token
    (row): ``s_x[m] = max_k |x[m, k]| / 127`` (1.0 for an all-zero row)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise FineQError(f"activations must be [tokens, K], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise FineQError("activations contain NaN or Inf; check the model input")
    absmax = np.abs(x).max(axis=1) if x.shape[1] else np.zeros(x.shape[0], np.float32)
    scale = np.where(absmax > 0, absmax / np.float32(ACT_MAX), np.float32(1.0)).astype(np.float32)
    x_q = np.clip(np.rint(x / scale[:, None]), -ACT_MAX, ACT_MAX).astype(np.int8)
    return x_q, scale


def int_gemm_grouped(x_q: np.ndarray, q: np.ndarray, e: np.ndarray, group: int) -> np.ndarray:
    """fineq-v2's exact ``acc[m, n] = sum_g e[n, g] * sum_{k in g} x_q[m, k] * q[n, k]`` as INT32."""
    x_q, q, e = np.asarray(x_q), np.asarray(q), np.asarray(e)
    k = q.shape[1] if q.ndim == 2 else -1
    if x_q.ndim != 2 or q.ndim != 2 or x_q.shape[1] != k:
        raise FineQError(f"cannot multiply activations {x_q.shape} by weights {q.shape}: K differs")
    groups = -(-k // group) if group > 0 else 0
    if group <= 0 or e.shape != (q.shape[0], groups):
        raise FineQError(f"group factors must be [{q.shape[0]}, {groups}] for group size {group}, got {e.shape}")
    if e.size and (e.min() < 1 or e.max() > GROUP_FACTOR_MAX):
        raise FineQError(f"group factors must be in 1..{GROUP_FACTOR_MAX}")
    acc = np.zeros((x_q.shape[0], q.shape[0]), np.int64)
    for g in range(groups):
        cols = slice(g * group, min((g + 1) * group, k))
        acc += (x_q[:, cols].astype(np.int64) @ q[:, cols].astype(np.int64).T) * e[:, g].astype(np.int64)
    if acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        raise FineQError("INT32 accumulator overflow: K is beyond the stated bound")
    return acc.astype(np.int32)


def int_gemm(x_q: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Exact ``acc[m, n] = sum_k x_q[m, k] * q[n, k]`` as INT32 [M, N]."""
    x_q, q = np.asarray(x_q), np.asarray(q)
    if x_q.ndim != 2 or q.ndim != 2 or x_q.shape[1] != q.shape[1]:
        raise FineQError(f"cannot multiply activations {x_q.shape} by weights {q.shape}: K differs")
    acc = x_q.astype(np.int64) @ q.astype(np.int64).T
    if acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        raise FineQError("INT32 accumulator overflow: K is beyond the stated bound")
    return acc.astype(np.int32)


@dataclass(frozen=True)
class Requant:
    """Per-output-channel requantization parameters of the vector unit."""

    bias: np.ndarray  # int32 [N], in units of s_x * s_w[n]
    mult: np.ndarray  # int32 [N], 2**14 <= mult < 2**15
    shift: np.ndarray  # int32 [N], SHIFT_MIN..SHIFT_MAX


def fixed_point_multiplier(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positive reals -> (mult, shift) with ``mult / 2**shift`` closest to ``real``."""
    real = np.asarray(real, dtype=np.float64)
    if not (np.isfinite(real).all() and (real > 0).all()):
        raise FineQError("requantization multipliers must be finite and positive")
    frac, exp = np.frexp(real)  # real = frac * 2**exp, 0.5 <= frac < 1
    mult = np.rint(frac * 2**MULT_BITS).astype(np.int64)
    carry = mult == 2**MULT_BITS
    mult = np.where(carry, mult // 2, mult)
    exp = exp + carry
    shift = MULT_BITS - exp
    if (shift < SHIFT_MIN).any():
        raise FineQError(
            f"requantization multiplier {real.max():.3g} is too large (needs < 2**{MULT_BITS - 1}); "
            "choose a larger output scale"
        )
    # Multipliers below 2**-32 only ever give 0 or -0: fold the excess shift into mult.
    excess = np.maximum(shift - SHIFT_MAX, 0)
    mult = mult >> excess
    shift = shift - excess
    return mult.astype(np.int32), shift.astype(np.int32)


def make_requant(
    act_scale: float, weight_scales: np.ndarray, out_scale: float, bias: np.ndarray | None = None
) -> Requant:
    """Requantization parameters for ``y = x @ W.T + b`` with the given scales."""
    w_scales = np.asarray(weight_scales, dtype=np.float64)
    acc_scale = float(act_scale) * w_scales
    if not (np.isfinite(acc_scale).all() and (acc_scale > 0).all()):
        raise FineQError("activation and weight scales must be finite and positive")
    if not (np.isfinite(out_scale) and out_scale > 0):
        raise FineQError("output scale must be finite and positive")
    if bias is None:
        bias_q = np.zeros(w_scales.shape, dtype=np.int64)
    else:
        bias_q = np.rint(np.asarray(bias, dtype=np.float64) / acc_scale).astype(np.int64)
        if bias_q.min(initial=0) < INT32_MIN or bias_q.max(initial=0) > INT32_MAX:
            raise FineQError("bias does not fit INT32 at this scale")
    mult, shift = fixed_point_multiplier(acc_scale / out_scale)
    return Requant(bias=bias_q.astype(np.int32), mult=mult, shift=shift)


def make_requant_per_token(weight_scales: np.ndarray, sigma) -> Requant:
    """Per-token mode: ``mult[n] / 2**shift[n] ~ s_w[n] / sigma`` (``sigma`` one static scale per
    layer, or one per output channel ``[N]``: the multiplier is per channel anyway); no bias (the
    host adds it)."""
    w = np.asarray(weight_scales, dtype=np.float64)
    sig = np.broadcast_to(np.asarray(sigma, dtype=np.float64), w.shape)
    if not (np.isfinite(sig).all() and (sig > 0).all()):
        raise FineQError("output scale must be finite and positive")
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise FineQError("activation and weight scales must be finite and positive")
    mult, shift = fixed_point_multiplier(w / sig)
    return Requant(bias=np.zeros(w.shape, np.int32), mult=mult, shift=shift)


def dequantize_per_token(y_q: np.ndarray, act_scale: np.ndarray, sigma) -> np.ndarray:
    """Real value of per-token INT8 outputs: ``y_q[m, n] * sigma[n] * s_x[m]`` (float64; ``sigma``
    a scalar or one per output channel)."""
    sig = np.asarray(sigma, np.float64).reshape(1, -1) if np.ndim(sigma) else float(sigma)
    return np.asarray(y_q, np.float64) * sig * np.asarray(act_scale, np.float64)[:, None]


def requantize(acc: np.ndarray, rq: Requant) -> np.ndarray:
    """INT32 sums [M, N] -> INT8 outputs [M, N], exactly as the vector unit computes them."""
    t = np.asarray(acc, dtype=np.int64) + rq.bias.astype(np.int64)
    if t.size and (t.min() < INT32_MIN or t.max() > INT32_MAX):
        raise FineQError("accumulator plus bias overflows INT32")
    shift = rq.shift.astype(np.int64)
    p = t * rq.mult.astype(np.int64)
    y = (p + (np.int64(1) << (shift - 1))) >> shift
    return np.clip(y, -128, 127).astype(np.int8)


def linear_int8(x_q: np.ndarray, q: np.ndarray, rq: Requant | None) -> np.ndarray:
    """The accelerator's whole job: INT32 sums when ``rq`` is None (bypass), INT8 otherwise."""
    acc = int_gemm(x_q, q)
    return acc if rq is None else requantize(acc, rq)
