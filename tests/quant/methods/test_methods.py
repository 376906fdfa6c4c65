"""GPTQ, OWQ, the FineQ variants and the Spearman metric, on small synthetic layers whose
inputs are correlated (so error feedback has something to exploit)."""

import numpy as np
import pytest
import torch

from quant.core import format as fmt
from quant.core.errors import FineQError
from quant.methods.fineq import check_layer, quantize_fineq
from quant.methods.fineq_variants import (
    best_formats,
    quantize_error_feedback,
    quantize_error_min,
    quantize_no_protection,
    quantize_threshold,
)
from quant.methods.gptq import hessian_error, quantize_gptq
from quant.methods.owq import OWQLayer, quantize_owq, sensitivity, stored_bytes
from quant.methods.rtn import RTNLayer, quantize_rtn
from quant.study.metrics import pair_similarities, spearman


def layer(n=24, k=60, seed=0, tokens=400):
    g = torch.Generator().manual_seed(seed)
    w = torch.distributions.StudentT(4.0).sample((n, k)) * 0.05
    mix = torch.randn(k, k, generator=g) / k**0.5 + torch.eye(k)
    x = torch.randn(tokens, k, generator=g) @ mix  # correlated input features
    x[:, 3] *= 6  # one strong input feature, as real activations have
    h = 2.0 * x.T @ x / tokens
    return w, h


@pytest.mark.parametrize("bits, group", [(2, None), (3, None), (2, 24), (3, 24)])
def test_gptq_lowers_the_output_error_of_rtn_with_the_same_storage(bits, group):
    w, h = layer()
    g = quantize_gptq(w, h, bits, group)
    r = quantize_rtn(w, bits, group)
    assert isinstance(g, RTNLayer) and g.bpw == r.bpw
    assert g.packed.shape == r.packed.shape and g.scales.shape == r.scales.shape
    assert hessian_error(w, g.dequantize(), h) < 0.9 * hessian_error(w, r.dequantize(), h)
    q = g.codes()
    assert q.min() >= -(2 ** (bits - 1)) and q.max() <= 2 ** (bits - 1) - 1


def test_gptq_with_uncorrelated_inputs_is_rtn():
    # with a diagonal Hessian no error can be compensated elsewhere: per-row GPTQ = RTN
    w, _ = layer()
    h = torch.diag(torch.rand(w.shape[1]) + 0.5)
    assert np.array_equal(quantize_gptq(w, h, 3).codes(), quantize_rtn(w, 3).codes())


def test_gptq_zeroes_inputs_that_never_fire_and_rejects_bad_hessians():
    w, h = layer()
    h[5, :] = 0
    h[:, 5] = 0
    out = quantize_gptq(w, h, 2).dequantize()
    assert torch.isfinite(out).all() and not out[:, 5].any()
    with pytest.raises(FineQError, match="Hessian must be a"):
        quantize_gptq(w, h[:10, :10], 2)
    bad = h.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(FineQError, match="NaN/Inf"):
        quantize_gptq(w, bad, 2)
    with pytest.raises(FineQError, match="2, 3, 4 or 8 bits"):
        quantize_gptq(w, h, 5)


def test_owq_keeps_the_most_sensitive_columns_in_float16_within_the_budget():
    w, h = layer(k=96)
    target = quantize_fineq(w).bpw
    o = quantize_owq(w, h, 2, target_bpw=target)
    assert isinstance(o, OWQLayer)
    n, k = w.shape
    r = o.weak.shape[1]
    assert r > 0 and o.bpw <= target
    assert o.bpw == 8 * stored_bytes(n, k, r, 2) / (n * k)  # every stored byte counted, indices included
    assert stored_bytes(n, k, r + 1, 2) * 8 / (n * k) > target  # and no room for one more column
    assert set(o.weak_index.tolist()) == set(torch.topk(sensitivity(w, h), r).indices.tolist())
    deq = o.dequantize()
    assert torch.equal(deq[:, o.weak_index.astype(np.int64)], torch.from_numpy(o.weak.astype(np.float32)))
    plain = quantize_gptq(w, h, 2)
    assert hessian_error(w, deq, h) < hessian_error(w, plain.dequantize(), h)


def test_owq_without_weak_columns_is_gptq():
    w, h = layer()
    assert torch.equal(quantize_owq(w, h, 2, weak_columns=0).dequantize(), quantize_gptq(w, h, 2).dequantize())
    with pytest.raises(FineQError, match="exactly one"):
        quantize_owq(w, h, 2)


def test_no_protection_is_all_normal_clusters_and_worse_than_fineq():
    w, _ = layer(seed=3)
    noprot = quantize_no_protection(w)
    assert not fmt.cluster_format(noprot.clusters).any()
    err = lambda l: float(((w - l.dequantize()) ** 2).sum())  # noqa: E731
    assert err(quantize_fineq(w)) < err(noprot)


@pytest.mark.parametrize("threshold", [2.0, 3.0, 4.0, 8.0])
def test_threshold_variant_is_the_reference_quantizer(threshold):
    w, _ = layer(seed=4)
    a, b = quantize_threshold(w, threshold), quantize_fineq(w, threshold)
    assert np.array_equal(a.clusters, b.clusters) and np.array_equal(a.scales, b.scales)


def test_outlier_fraction_falls_as_the_threshold_rises():
    w, _ = layer(n=48, k=96, seed=5)
    fractions = [quantize_threshold(w, t).outlier_fraction for t in (2, 3, 4, 5, 8)]
    assert all(a >= b for a, b in zip(fractions, fractions[1:], strict=False)) and fractions[0] > fractions[-1]


def test_best_formats_picks_the_least_error_of_the_four_by_decoding_each():
    g = torch.Generator().manual_seed(7)
    planes = torch.randn(5, 3, 11, generator=g)
    scale = torch.tensor([0.3, 0.5, 0.7, 1.0, 2.0])
    formats, codes, row_err = best_formats(planes, scale)
    bytes_ = fmt.encode_planes(*(codes[:, p].to(torch.int8).numpy() for p in range(3)), formats.numpy())
    assert np.array_equal(fmt.cluster_format(bytes_), formats.numpy())
    decoded = torch.from_numpy(fmt.decode_bytes(bytes_).astype(np.float32)).permute(0, 2, 1)
    chosen_err = ((planes - scale[:, None, None] * decoded) ** 2).sum(1)
    for f in range(4):  # every alternative format, coded by rounding within its range
        lo = torch.tensor([fmt.Q2_MIN if f == 0 else fmt.Q3_MIN] * 3, dtype=torch.float32)
        hi = torch.tensor([fmt.Q2_MAX if f == 0 else fmt.Q3_MAX] * 3, dtype=torch.float32)
        if f:
            lo[f - 1] = hi[f - 1] = 0
        q = torch.maximum(torch.minimum(torch.round(planes / scale[:, None, None]), hi[None, :, None]), lo[None, :, None])
        alt = ((planes - scale[:, None, None] * q) ** 2).sum(1)
        assert (chosen_err <= alt + 1e-6).all()
    assert torch.allclose(row_err, chosen_err.sum(-1), rtol=1e-5)


def test_error_min_writes_valid_fineq_v1_and_beats_the_rule():
    w, _ = layer(n=48, k=96, seed=6)
    emin, rule = quantize_error_min(w), quantize_fineq(w)
    check_layer(emin)
    assert emin.bpw == rule.bpw
    err = lambda l: float(((w - l.dequantize()) ** 2).sum())  # noqa: E731
    assert err(emin) < err(rule)


def test_error_feedback_writes_valid_fineq_v1_and_lowers_the_output_error():
    w, h = layer(n=32, k=62, seed=8)  # K not a multiple of 3: the last cluster is padded
    ef = quantize_error_feedback(w, h)
    check_layer(ef)
    assert ef.bpw == quantize_fineq(w).bpw
    assert hessian_error(w, ef.dequantize(), h) < 0.9 * hessian_error(w, quantize_error_min(w).dequantize(), h)
    rule = quantize_error_feedback(w, h, formats="rule")
    assert hessian_error(w, rule.dequantize(), h) < hessian_error(w, quantize_fineq(w).dequantize(), h)
    with pytest.raises(FineQError, match="format choice"):
        quantize_error_feedback(w, h, formats="best")


def test_error_feedback_with_uncorrelated_inputs_and_the_rule_is_the_reference():
    w, _ = layer(seed=9)
    h = torch.diag(torch.rand(w.shape[1]) + 0.5)
    ef = quantize_error_feedback(w, h, formats="rule", refit=False)
    ref = quantize_fineq(w)
    assert np.array_equal(ef.clusters, ref.clusters) and np.array_equal(ef.scales, ref.scales)


def test_spearman_against_its_definition():
    g = torch.Generator().manual_seed(1)
    a = torch.randint(0, 20, (200,), generator=g).float()  # many ties
    b = a + torch.randn(200, generator=g) * 5
    # Pearson correlation of average ranks, ranks computed by counting
    def ranks(x):
        x = x.numpy()
        return np.array([(x < v).sum() + ((x == v).sum() - 1) / 2 for v in x])

    expected = np.corrcoef(ranks(a), ranks(b))[0, 1]
    assert spearman(a, b) == pytest.approx(expected, abs=1e-9)
    assert spearman(a, torch.exp(a)) == pytest.approx(1.0)
    assert spearman(b, -b) == pytest.approx(-1.0)
    assert np.isnan(spearman(a, torch.ones(200)))


def test_spearman_stays_inside_its_range_despite_rounding():
    # A hand-written Pearson of ranks gave 1.0000000000000002 for many lengths (it needed a clamp).
    g = torch.Generator().manual_seed(0)
    for n in range(2, 120):
        a = torch.randn(n, generator=g, dtype=torch.float64)
        same, opposite = spearman(a, a), spearman(a, -a)
        assert -1.0 <= opposite <= -1.0 + 1e-12 and 1.0 - 1e-12 <= same <= 1.0, (n, same, opposite)


def test_pair_similarities_are_the_upper_triangle():
    e = torch.nn.functional.normalize(torch.randn(5, 4), dim=-1)
    s = pair_similarities(e)
    assert s.shape == (10,) and s[0] == pytest.approx(float(e[0] @ e[1]))
