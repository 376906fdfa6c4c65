"""The golden integer model: exact GEMM, activation quantization, requantization rules."""

import numpy as np
import pytest
import torch

from quant.core import golden
from quant.core.errors import FineQError
from quant.methods.fineq import quantize_fineq


def test_every_weight_times_every_activation():
    """Exhaustive over the datapath's operand space: 3-bit weights x INT8 activations."""
    x = np.arange(-128, 128, dtype=np.int8)[:, None]  # M=256, K=1
    q = np.arange(-4, 4, dtype=np.int8)[:, None]  # N=8, K=1
    acc = golden.int_gemm(x, q)
    assert acc.dtype == np.int32
    assert np.array_equal(acc, np.multiply.outer(np.arange(-128, 128), np.arange(-4, 4)))


def test_gemm_matches_a_float64_reference_and_stays_exact_at_the_bound():
    g = np.random.default_rng(0)
    x = g.integers(-127, 128, (5, 97)).astype(np.int8)
    q = g.integers(-4, 4, (7, 97)).astype(np.int8)
    assert np.array_equal(golden.int_gemm(x, q), (x.astype(np.float64) @ q.T.astype(np.float64)).astype(np.int64))
    # the worst case of the stated bound: K = ACC_MAX_K terms of 127 * -4
    k = golden.ACC_MAX_K
    acc = golden.int_gemm(np.full((1, k), 127, np.int8), np.full((1, k), -4, np.int8))
    assert int(acc[0, 0]) == -508 * k and int(acc[0, 0]) >= golden.INT32_MIN


def test_gemm_shape_mismatch():
    with pytest.raises(FineQError, match="K differs"):
        golden.int_gemm(np.zeros((2, 3), np.int8), np.zeros((2, 4), np.int8))


def test_activation_quantization():
    x = np.array([[0.5, -1.0, 0.25], [1.0, 0.0, -0.004]], np.float32)
    x_q, s = golden.quantize_activations(x)
    assert s == np.float32(1.0 / 127)
    assert x_q.tolist() == [[64, -127, 32], [127, 0, -1]]  # 63.5 rounds half to even: 64
    assert golden.quantize_activations(np.zeros((2, 2)))[0].tolist() == [[0, 0], [0, 0]]
    with pytest.raises(FineQError, match="NaN or Inf"):
        golden.quantize_activations(np.array([[np.nan]]))


def reference_requant(t: int, mult: int, shift: int) -> int:
    """Round to nearest, ties toward +inf, by exact rational arithmetic, then saturate."""
    import math
    from fractions import Fraction

    v = Fraction(t * mult, 2**shift)
    return max(-128, min(127, math.floor(v + Fraction(1, 2))))


def test_requantize_rounding_and_saturation_corners():
    mult = np.array([1 << 14, (1 << 15) - 1, 20000], np.int32)
    shift = np.array([15, 20, 1], np.int32)
    rq = golden.Requant(bias=np.zeros(3, np.int32), mult=mult, shift=shift)
    # values around ties (t * mult / 2**shift = k + 1/2), extremes and saturation
    ts = [-(2**31), -(2**31) + 1, -3, -2, -1, 0, 1, 2, 3, 255, 256, 257, 2**31 - 1, -255, -256, -257, 1000, -1000]
    acc = np.array([[t] * 3 for t in ts], np.int64).astype(np.int32)
    y = golden.requantize(acc, rq)
    for i, t in enumerate(ts):
        for n in range(3):
            assert int(y[i, n]) == reference_requant(t, int(mult[n]), int(shift[n])), (t, n)


def test_requantize_with_bias_and_overflow():
    rq = golden.Requant(bias=np.array([5, -(2**31)], np.int32), mult=np.array([1 << 14] * 2, np.int32),
                        shift=np.array([14, 14], np.int32))
    assert golden.requantize(np.array([[-5, 0]], np.int32), rq).tolist() == [[0, -128]]
    with pytest.raises(FineQError, match="overflows INT32"):
        golden.requantize(np.array([[0, -1]], np.int32), rq)


def test_fixed_point_multiplier_is_close_and_in_range():
    real = np.geomspace(1e-12, 1000.0, 500)
    mult, shift = golden.fixed_point_multiplier(real)
    assert (shift >= golden.SHIFT_MIN).all() and (shift <= golden.SHIFT_MAX).all()
    normal = shift < golden.SHIFT_MAX
    assert ((mult[normal] >= 2**14) & (mult[normal] < 2**15)).all()
    approx = mult / np.exp2(shift.astype(np.float64))
    assert np.allclose(approx[normal], real[normal], rtol=2**-14)
    with pytest.raises(FineQError, match="too large"):
        golden.fixed_point_multiplier(np.array([1e6]))
    with pytest.raises(FineQError, match="finite and positive"):
        golden.fixed_point_multiplier(np.array([0.0]))


def test_integer_layer_tracks_the_float_layer_within_the_quantization_bound():
    """acc * s_x * s_w equals x_hat @ w_hat.T exactly; the INT8 output is within half an
    output step (plus the multiplier's relative error) of the float result."""
    torch.manual_seed(0)
    w = torch.randn(24, 96) * 0.05
    b = torch.randn(24) * 0.1
    x = torch.randn(10, 96).numpy()
    layer = quantize_fineq(w)
    q = layer.codes()
    x_q, s_x = golden.quantize_activations(x)
    acc = golden.int_gemm(x_q, q)
    s_w = layer.scales.astype(np.float64)
    x_hat = x_q.astype(np.float64) * float(s_x)
    w_hat = layer.dequantize().numpy().astype(np.float64)
    assert np.allclose(acc * float(s_x) * s_w, x_hat @ w_hat.T, rtol=1e-12, atol=1e-12)
    y_float = x_hat @ w_hat.T + b.numpy()
    s_y = np.abs(y_float).max() / 127
    rq = golden.make_requant(float(s_x), s_w, s_y, b.numpy())
    y = golden.requantize(acc, rq).astype(np.float64) * s_y
    bias_err = 0.5 * float(s_x) * s_w  # bias rounded to the accumulator's unit
    bound = 0.5 * s_y + np.abs(y_float) * 2**-14 + bias_err + 1e-9
    assert (np.abs(y - y_float) <= bound).all()
    # and against the true float layer, within the weight and activation quantization error
    y_true = x @ w.numpy().T + b.numpy()
    assert np.corrcoef(y.ravel(), y_true.ravel())[0, 1] > 0.9


def test_bypass_returns_raw_sums():
    x_q = np.array([[1, 2, 3]], np.int8)
    q = np.array([[-4, 0, 3]], np.int8)
    assert golden.linear_int8(x_q, q, None).tolist() == [[5]]
