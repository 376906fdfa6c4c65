"""fineq-v2 (two-level group scales) and activation-aware equalisation."""

import numpy as np
import pytest
import torch

from quant.core import format as fmt
from quant.core.errors import FineQError
from quant.methods.fineq_v2 import (
    E_MAX,
    FineQGroupLayer,
    check_group,
    check_group_layer,
    quantize_v2_error_feedback,
    quantize_v2_error_min,
    two_level,
)
from quant.methods.fineq_variants import quantize_error_min
from quant.methods.gptq import hessian_error


def data(n=32, k=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.distributions.StudentT(4.0).sample((n, k)) * 0.02
    w[:, 96:130] *= 6  # a band of strong columns: one scale per row fits it badly
    x = torch.randn(600, k, generator=g) @ (torch.randn(k, k, generator=g) / k**0.5 + torch.eye(k))
    return w, 2 * x.T @ x / 600


def test_group_sizes_are_whole_clusters_and_array_tiles():
    assert check_group(96) == 96 and check_group(12) == 12
    for bad in (0, -12, 48.0, 100, 9, 18):
        with pytest.raises(FineQError, match="multiple of 12"):
            check_group(bad)


def test_two_level_scales_fit_eight_bits():
    t = torch.tensor([[1.0, 0.5, 0.01, 0.0], [3e-3, 3e-3, 3e-3, 3e-3]])
    s_row, e = two_level(t)
    assert torch.equal(s_row, s_row.half().float())  # float16-exact
    assert e.min() >= 1 and e.max() <= E_MAX and e[1].eq(E_MAX).all()
    assert float((s_row[0] * e[0, 0] - 1.0).abs()) < 1.0 / E_MAX  # the largest group is represented finely


def test_v2_layer_decodes_to_row_scale_times_factor_times_code():
    w, _ = data()
    layer = quantize_v2_error_min(w, 96)
    check_group_layer(layer)
    assert layer.sub.shape == (32, 3) and layer.sub.dtype == np.uint8  # K=200: groups of 96, 96, 8
    q = fmt.unpack_clusters(layer.clusters, 200).astype(np.float64)
    e = np.repeat(layer.sub.astype(np.float64), 96, axis=1)[:, :200]
    expect = layer.scales.astype(np.float64)[:, None] * e * q
    assert np.allclose(layer.dequantize().numpy(), expect, rtol=1e-6, atol=0)
    # bits: cluster bytes + float16 row scales + one byte per group, from the stored arrays
    assert layer.bpw == pytest.approx(8 * (32 * 67 + 2 * 32 + 32 * 3) / (32 * 200))


def test_group_scales_lower_the_error_of_per_row_scales():
    w, h = data()
    v1 = quantize_error_min(w)
    v2 = quantize_v2_error_min(w, 96)
    err = lambda layer: float(((layer.dequantize() - w) ** 2).sum())  # noqa: E731
    assert err(v2) < 0.8 * err(v1)
    ef = quantize_v2_error_feedback(w, h, 96)
    check_group_layer(ef)
    assert hessian_error(w, ef.dequantize(), h) < hessian_error(w, v2.dequantize(), h)


def test_corrupt_v2_layers_are_refused():
    w, _ = data()
    layer = quantize_v2_error_min(w, 96)
    bad = FineQGroupLayer(layer.clusters, layer.scales, np.zeros_like(layer.sub), 96, 200)
    with pytest.raises(FineQError, match="1..255"):
        check_group_layer(bad)
    bad = FineQGroupLayer(layer.clusters, layer.scales, layer.sub[:, :2], 96, 200)
    with pytest.raises(FineQError, match="uint8"):
        check_group_layer(bad)


def test_equalisation_keeps_the_float_function_and_transforms_the_hessians():
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from quant.study.calibration import collect_hessians_ids
    from quant.study.equalize import decoder_groups, equalize
    from quant.study.perplexity import quantizable_layers

    torch.manual_seed(0)
    cfg = Gemma3TextConfig(vocab_size=64, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=1, head_dim=24, max_position_embeddings=64,
                           sliding_window=16)
    model = Gemma3ForCausalLM(cfg).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.normal_(0, 0.5)  # non-trivial gains, so folding into (1 + w) is exercised
    ids = torch.randint(0, 64, (3, 20), generator=torch.Generator().manual_seed(1))
    layers = quantizable_layers(model)
    with torch.no_grad():
        ref = model(input_ids=ids).logits
    h = collect_hessians_ids(model, ids, layers=layers, progress=False)
    assert len(decoder_groups(model)) == 6
    h_s, alphas = equalize(model, h, lambda w: torch.round(w * 8) / 8, alphas=(0.5,), progress=False)
    assert set(alphas.values()) == {0.5}
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, ref, atol=1e-4, rtol=1e-4)
    again = collect_hessians_ids(model, ids, layers=layers, progress=False)
    for name in layers:
        assert torch.allclose(again[name], h_s[name], rtol=1e-3, atol=1e-5), name
