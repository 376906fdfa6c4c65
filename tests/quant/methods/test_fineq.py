"""FineQ quantizer and RTN baselines: rule, codes, scale search and bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from quant.core import format as fmt
from quant.core.errors import FineQError
from quant.methods.fineq import classify, quantize_fineq
from quant.methods.rtn import pack_bits, quantize_rtn, unpack_bits
from quant.methods.scale_search import to_fp16


def reference_formats(w: np.ndarray, threshold: float) -> np.ndarray:
    """The reference classification of docs/format.md, one cluster at a time."""
    n, k = w.shape
    c = fmt.num_clusters(k)
    wp = np.zeros((n, 3 * c), np.float32)
    wp[:, :k] = w
    out = np.zeros((n, c), np.uint8)
    for i in range(n):
        for j in range(c):
            mags = [abs(float(v)) for v in wp[i, 3 * j : 3 * j + 3]]
            if max(mags) > threshold * min(mags):
                out[i, j] = 1 + mags.index(min(mags))
    return out


@given(n=st.integers(1, 4), k=st.integers(1, 31), seed=st.integers(0, 2**16),
       threshold=st.sampled_from([1.5, 2.0, 4.0, 8.0]))
@settings(max_examples=40, deadline=None)
def test_fineq_follows_the_reference_rule_and_decodes(n, k, seed, threshold):
    g = np.random.default_rng(seed)
    w = (g.standard_normal((n, k)) * g.choice([0.01, 1.0, 30.0])).astype(np.float32)
    w[g.random((n, k)) < 0.1] = 0.0  # exact zeros and ties happen in real checkpoints
    layer = quantize_fineq(torch.from_numpy(w), threshold)
    assert layer.clusters.shape == (n, fmt.num_clusters(k))
    assert layer.scales.dtype == np.float16 and layer.scales.shape == (n,)
    assert np.array_equal(fmt.cluster_format(layer.clusters), reference_formats(w, threshold))
    q = layer.codes()
    assert q.shape == (n, k)
    # codes are round-to-nearest of w / s inside the format's range
    s = layer.scales.astype(np.float32)[:, None]
    lo, hi = np.full_like(w, -2), np.full_like(w, 1)
    wide = np.repeat(fmt.cluster_format(layer.clusters) != 0, 3, axis=1)[:, :k]
    lo[wide], hi[wide] = -4, 3
    expect = np.clip(np.round(w / s), lo, hi)
    pruned = np.repeat(fmt.cluster_format(layer.clusters), 3, axis=1)[:, :k] - 1 == np.arange(k) % 3
    expect[pruned] = 0
    assert np.array_equal(q, expect)


def test_classify_ties_prune_the_lowest_position():
    planes = torch.tensor([[0.1, 1.0, 0.1], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.25, 0.25]]).T
    assert classify(planes, 4.0).tolist() == [1, 2, 0, 0]  # 1.0 > 4*0.25 is false: normal


def test_scale_is_float16_and_error_is_stated_with_it():
    torch.manual_seed(1)
    w = torch.randn(16, 96)
    layer = quantize_fineq(w)
    assert np.array_equal(layer.scales.astype(np.float32), to_fp16(torch.from_numpy(layer.scales.astype(np.float32))).numpy())
    w_hat = layer.dequantize()
    assert torch.equal(w_hat, torch.from_numpy(layer.scales.astype(np.float32))[:, None] * torch.from_numpy(layer.codes().astype(np.float32)))


def test_scale_search_beats_plain_absmax():
    """The searched scales must do at least as well, row by row, as the scale that maps
    max|w| onto the top code, and clearly better overall."""
    torch.manual_seed(2)
    w = torch.distributions.StudentT(3.0).sample((32, 384)) * 0.02
    s = to_fp16(w.abs().amax(1) / 3.0)[:, None]
    layers = {"rtn3": quantize_rtn(w, 3), "fineq": quantize_fineq(w)}
    f = torch.from_numpy(np.repeat(fmt.cluster_format(layers["fineq"].clusters), 3, axis=1).astype(np.int64))
    lo, hi = torch.where(f == 0, -2.0, -4.0), torch.where(f == 0, 1.0, 3.0)
    pruned = (f - 1) == torch.arange(384) % 3
    naive = {
        "rtn3": torch.round(w / s).clamp(-4, 3) * s,
        "fineq": torch.where(pruned, 0.0, torch.clamp(torch.round(w / s), lo, hi)) * s,
    }
    for name, layer in layers.items():
        err = ((layer.dequantize() - w) ** 2).sum(1)
        naive_err = ((naive[name] - w) ** 2).sum(1)
        assert bool((err <= naive_err * (1 + 1e-5)).all()), name
        assert float(err.sum()) < 0.9 * float(naive_err.sum()), name


@pytest.mark.parametrize("bits, group", [(2, None), (3, None), (4, None), (2, 128), (3, 128), (3, 5)])
def test_rtn_round_trip_and_audited_bits(bits, group):
    torch.manual_seed(3)
    n, k = 6, 300
    w = torch.randn(n, k)
    layer = quantize_rtn(w, bits, group)
    q = layer.codes()
    assert q.min() >= -(2 ** (bits - 1)) and q.max() <= 2 ** (bits - 1) - 1
    g = k if group is None else group
    groups = -(-k // g)
    expected_bytes = n * groups * (-(-g * bits // 8)) + 2 * n * groups
    assert layer.bpw == pytest.approx(8 * expected_bytes / (n * k))
    s = np.repeat(layer.scales.astype(np.float32), g, axis=1)[:, :k]
    assert np.allclose(layer.dequantize().numpy(), s * q)


@given(bits=st.integers(1, 8), length=st.integers(1, 50), rows=st.integers(1, 4), seed=st.integers(0, 999))
def test_bit_packing_round_trip(bits, length, rows, seed):
    u = np.random.default_rng(seed).integers(0, 2**bits, (rows, length)).astype(np.uint8)
    packed = pack_bits(u, bits)
    assert packed.shape == (rows, -(-length * bits // 8))
    assert np.array_equal(unpack_bits(packed, bits, length), u)


def test_fineq_beats_rtn2_on_heavy_tailed_weights():
    torch.manual_seed(4)
    w = torch.distributions.StudentT(3.0).sample((64, 384)) * 0.02
    e_fineq = float(((quantize_fineq(w).dequantize() - w) ** 2).sum())
    e_rtn2 = float(((quantize_rtn(w, 2).dequantize() - w) ** 2).sum())
    assert e_fineq < e_rtn2


@pytest.mark.parametrize(
    "w, message",
    [
        (torch.tensor([[1.0, float("nan"), 2.0]]), "NaN/Inf"),
        (torch.tensor([[1.0, float("inf"), 2.0]]), "NaN/Inf"),
        (torch.zeros(0, 3), "empty"),
        (torch.ones(5), "2-D"),
        (torch.ones(2, 2, 2), "2-D"),
        (torch.ones(3, 3, dtype=torch.int32), "floating point"),
        (np.ones((3, 3), np.int8), "floating point"),
        ([[1.0, 2.0]], "torch tensor or numpy"),
        (torch.full((2, 3), 1e9), "float16"),
    ],
)
def test_bad_weights_get_a_clear_error(w, message):
    with pytest.raises(FineQError, match=message):
        quantize_fineq(w)
    with pytest.raises(FineQError, match=message):
        quantize_rtn(w, 3)


@pytest.mark.parametrize("threshold", [1.0, 0.5, -2.0, float("nan"), float("inf")])
def test_bad_threshold(threshold):
    with pytest.raises(FineQError, match="threshold"):
        quantize_fineq(torch.ones(2, 3), threshold)


def test_zero_row_and_tiny_k():
    w = torch.tensor([[0.0, 0.0], [0.5, -0.1]])
    layer = quantize_fineq(w)
    assert layer.codes()[0].tolist() == [0, 0]
    assert layer.scales[0] == 1.0
    assert layer.clusters.shape == (2, 1)
