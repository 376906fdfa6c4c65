"""Per-token INT8 activations, fineq-v2's group-scaled GEMM and the whole-model hardware layer,
each against exact integer or rational arithmetic computed independently here."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from quant.core import golden
from quant.core.errors import FineQError
from quant.core.hw_model import F32_EXACT_K, HardwareLinear
from quant.methods.fineq import quantize_fineq
from quant.methods.fineq_v2 import quantize_v2_error_min


def test_per_token_scales_follow_each_row():
    # row 1: max 127 * 2**-8, so s_x = 2**-8 exactly and -63.5 * 2**-8 is an exact tie
    x = np.array([[0.5, -1.0, 0.25], [127 * 2**-8, 0.0, -63.5 * 2**-8], [0.0, 0.0, 0.0]], np.float32)
    x_q, s = golden.quantize_activations_per_token(x)
    assert s.shape == (3,) and s[0] == np.float32(1.0 / 127) and s[1] == 2**-8
    assert s[2] == 1.0 and not x_q[2].any()
    assert x_q[0].tolist() == [64, -127, 32] and x_q[1].tolist() == [127, 0, -64]  # ties to even
    # every row uses the full INT8 range, unlike one scale for the tensor
    assert (np.abs(x_q[:2]).max(axis=1) == 127).all()
    with pytest.raises(FineQError, match="NaN or Inf"):
        golden.quantize_activations_per_token(np.array([[np.inf, 1.0]]))
    with pytest.raises(FineQError, match="tokens, K"):
        golden.quantize_activations_per_token(np.zeros(4))


def brute_grouped(x_q, q, e, group):
    m, k = x_q.shape
    n = q.shape[0]
    out = [[0] * n for _ in range(m)]
    for i in range(m):
        for j in range(n):
            out[i][j] = sum(int(e[j, kk // group]) * int(x_q[i, kk]) * int(q[j, kk]) for kk in range(k))
    return np.array(out, np.int64)


def test_grouped_gemm_is_the_exact_group_scaled_sum():
    g = np.random.default_rng(1)
    x_q = g.integers(-127, 128, (3, 40)).astype(np.int8)
    q = g.integers(-4, 4, (5, 40)).astype(np.int8)
    e = g.integers(1, 256, (5, 4)).astype(np.uint8)  # K=40, G=12: groups 12, 12, 12, 4 (partial)
    assert np.array_equal(golden.int_gemm_grouped(x_q, q, e, 12), brute_grouped(x_q, q, e, 12))
    # fineq-v1 is the one-group case with e = 1
    assert np.array_equal(golden.int_gemm_grouped(x_q, q, np.ones((5, 1), np.uint8), 40), golden.int_gemm(x_q, q))
    with pytest.raises(FineQError, match="group factors must be"):
        golden.int_gemm_grouped(x_q, q, e[:, :3], 12)
    with pytest.raises(FineQError, match="1..255"):
        golden.int_gemm_grouped(x_q, q, np.zeros((5, 4), np.uint8), 12)


def test_grouped_accumulator_bound():
    assert golden.ACC_MAX_K_V2 == 16577  # floor((2**31 - 1) / (127 * 4 * 255))
    k = golden.ACC_MAX_K_V2
    worst = golden.int_gemm_grouped(np.full((1, k), -127, np.int8), np.full((1, k), 4, np.int8),
                                    np.full((1, -(-k // 96)), 255, np.uint8), 96)
    assert int(worst[0, 0]) == -127 * 4 * 255 * k
    with pytest.raises(FineQError, match="overflow"):
        golden.int_gemm_grouped(np.full((1, k + 1), -127, np.int8), np.full((1, k + 1), 4, np.int8),
                                np.full((1, -(-(k + 1) // 96)), 255, np.uint8), 96)


def test_per_token_requantization_reads_back_within_half_a_step():
    g = np.random.default_rng(2)
    w = torch.from_numpy(g.standard_normal((16, 60)).astype(np.float32)) * 0.05
    x = g.standard_normal((6, 60)).astype(np.float32) * np.array([[0.01], [0.1], [1], [10], [100], [3]], np.float32)
    layer = quantize_fineq(w)
    q = layer.codes()
    x_q, s_x = golden.quantize_activations_per_token(x)
    acc = golden.int_gemm(x_q, q)
    s_w = layer.scales.astype(np.float64)
    sigma = float(np.abs(acc * s_w).max() / 127)
    rq = golden.make_requant_per_token(s_w, sigma)
    y = golden.dequantize_per_token(golden.requantize(acc, rq), s_x, sigma)
    exact = acc * s_w[None, :] * s_x.astype(np.float64)[:, None]  # the bypass value, per token
    step = sigma * s_x.astype(np.float64)[:, None]  # one output step follows the token's scale
    assert (np.abs(y - exact) <= 0.5 * step + np.abs(exact) * 2**-14 + 1e-12).all()
    # the multiplier does not depend on the token: one (mult, shift) per channel
    assert rq.mult.shape == (16,) and not rq.bias.any()


def exact_requant(t, mult, shift):
    v = Fraction(int(t) * int(mult), 2 ** int(shift))
    return max(-128, min(127, int(np.floor(v + Fraction(1, 2)))))


@pytest.mark.parametrize("grouped", [False, True])
def test_hardware_linear_equals_the_golden_model(grouped):
    torch.manual_seed(0)
    w = torch.randn(20, 200) * 0.03
    layer = quantize_v2_error_min(w, 96) if grouped else quantize_fineq(w)
    x = (torch.randn(2, 5, 200) * torch.tensor([0.1, 5.0])[:, None, None]).float()
    hw = HardwareLinear(layer, None, per_token=True, mode="int32")
    x2 = x.reshape(-1, 200).numpy()
    x_q, s_x = golden.quantize_activations_per_token(x2)
    acc = (golden.int_gemm_grouped(x_q, layer.codes(), layer.sub, 96) if grouped
           else golden.int_gemm(x_q, layer.codes()))
    s_w = layer.scales.astype(np.float64)
    y32 = hw(x).reshape(-1, 20).double().numpy()
    assert np.allclose(y32, acc * s_w * s_x.astype(np.float64)[:, None], rtol=1e-6, atol=1e-9)
    sigma = float(np.abs(acc * s_w).max() / 127)
    hw.set_sigma(sigma)
    hw.mode = "int8"
    rq = golden.make_requant_per_token(s_w, sigma)
    assert torch.equal(hw.requantize(torch.from_numpy(acc.astype(np.float64))),
                       torch.from_numpy(golden.requantize(acc, rq).astype(np.int64)))
    y8 = hw(x).reshape(-1, 20).double().numpy()
    y_gold = golden.dequantize_per_token(golden.requantize(acc, rq), s_x, sigma)
    assert np.allclose(y8, y_gold, rtol=1e-6, atol=0)
    for t in (acc[0, 0], acc[3, 7], -acc[1, 2]):  # the rounding rule on real sums, exactly
        got = golden.requantize(np.array([[t]], np.int32), golden.Requant(rq.bias[:1], rq.mult[:1], rq.shift[:1]))
        assert int(got[0, 0]) == exact_requant(t, rq.mult[0], rq.shift[0])


def test_float32_integer_gemm_is_exact_up_to_the_stated_k():
    k = F32_EXACT_K
    assert 508 * k < 2**24 <= 508 * (k + 1)
    x = torch.full((1, k), -127.0)
    q = torch.full((1, k), 4.0)
    assert float((x @ q.T)[0, 0]) == -508 * k
    g = torch.Generator().manual_seed(0)
    xs = torch.randint(-127, 128, (4, 2048), generator=g)
    qs = torch.randint(-4, 4, (8, 2048), generator=g)
    assert torch.equal((xs.float() @ qs.float().T).long(), xs @ qs.T)


def test_per_channel_output_scales():
    """One sigma per output channel: the same per-channel multiplier, y = y_q * sigma[n] * s_x[m]."""
    g = np.random.default_rng(3)
    w = torch.from_numpy(g.standard_normal((8, 48)).astype(np.float32)) * np.linspace(0.01, 1, 8)[:, None].astype(np.float32)
    layer = quantize_fineq(w)
    x_q, s_x = golden.quantize_activations_per_token(g.standard_normal((5, 48)).astype(np.float32))
    acc = golden.int_gemm(x_q, layer.codes())
    s_w = layer.scales.astype(np.float64)
    sigma = np.abs(acc * s_w).max(axis=0) / 127  # per channel
    rq = golden.make_requant_per_token(s_w, sigma)
    y = golden.dequantize_per_token(golden.requantize(acc, rq), s_x, sigma)
    exact = acc * s_w * s_x.astype(np.float64)[:, None]
    assert (np.abs(y - exact) <= 0.5 * sigma * s_x.astype(np.float64)[:, None] + np.abs(exact) * 2**-14 + 1e-12).all()
    hw = HardwareLinear(layer, None, mode="calibrate")
    x = torch.from_numpy(x_q.astype(np.float32) * s_x[:, None])
    hw(x)
    hw.set_sigma(hw.sigma_for("ch-max"))
    hw.mode = "int8"
    assert np.allclose(hw(x).double().numpy(), golden.dequantize_per_token(
        golden.requantize(golden.int_gemm(*[golden.quantize_activations_per_token(x.numpy())[0], layer.codes()]),
                          golden.make_requant_per_token(s_w, hw.sigma_for("ch-max"))),
        golden.quantize_activations_per_token(x.numpy())[1], hw.sigma_for("ch-max")), rtol=1e-6)
    with pytest.raises(FineQError, match="sigma rule"):
        hw.sigma_for("p50")
