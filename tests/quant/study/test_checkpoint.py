"""The real default checkpoint: quantize, save, load, evaluate, golden vectors, bad files."""

import json

import numpy as np
import pytest
import torch

from quant.core import golden
from quant.core.errors import FineQError
from quant.core.vectors import load_vectors, save_vectors
from quant.study import checkpoint
from quant.study.evaluate import evaluate
from quant.study.metrics import embed
from quant.study.vectors import make_vectors

LAYER = "encoder.layer.0.attention.self.query"


@pytest.fixture(scope="module")
def model():
    return checkpoint.load_model()


@pytest.fixture(scope="module")
def packed(model, tmp_path_factory):
    m, _, name = model
    layers = checkpoint.quantize_model(m, "fineq", progress=False)
    path = checkpoint.save_packed(tmp_path_factory.mktemp("packed") / "minilm.safetensors", layers,
                                  threshold=4.0, source_model=name)
    return layers, path


def test_default_checkpoint_has_37_linear_layers(model):
    m, tok, name = model
    assert name == "all-MiniLM-L6-v2"
    layers = checkpoint.linear_layers(m)
    assert len(layers) == 37
    assert tuple(layers[LAYER].weight.shape) == (384, 384)


def test_packed_file_round_trip_and_metadata(packed):
    layers, path = packed
    loaded, meta = checkpoint.load_packed(path)
    assert meta["format"] == "fineq-v1" and meta["threshold"] == 4.0
    assert meta["source_model"] == "all-MiniLM-L6-v2"
    assert set(loaded) == set(layers)
    for name, layer in layers.items():
        assert np.array_equal(loaded[name].clusters, layer.clusters)
        assert np.array_equal(loaded[name].scales, layer.scales)
        assert meta["layers"][name]["shape"] == list(layer.shape)
        assert 0 < meta["layers"][name]["outlier_fraction"] < 1
    # bits per weight counted from the file's bytes: 128 cluster bytes + 2 scale bytes per 384
    assert meta["layers"][LAYER]["bpw"] == pytest.approx(8 * 130 / 384)


def test_loading_the_file_gives_the_same_outputs_as_quantizing_in_memory(model, packed):
    m, tok, _ = model
    layers, path = packed
    original = {n: lin.weight.detach().clone() for n, lin in checkpoint.linear_layers(m).items()}
    texts = ["Quantization maps weights to a few bits.", "The accelerator has no multiplier."]
    try:
        checkpoint.apply_layers(m, layers)
        in_memory = embed(m, tok, texts)
        fresh, _, _ = checkpoint.load_model()
        checkpoint.apply_layers(fresh, checkpoint.load_packed(path)[0])
        assert torch.equal(embed(fresh, tok, texts), in_memory)
    finally:
        with torch.no_grad():
            for n, lin in checkpoint.linear_layers(m).items():
                lin.weight.copy_(original[n])


def test_corrupt_truncated_and_mismatched_files(packed, tmp_path, model):
    _, path = packed
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(FineQError, match="corrupt or truncated"):
        checkpoint.load_packed(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(FineQError, match="corrupt or truncated"):
        checkpoint.load_packed(garbage)
    with pytest.raises(FineQError, match="does not exist"):
        checkpoint.load_packed(tmp_path / "missing.safetensors")

    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(path))
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = dict(f.metadata())

    def write(name, t, m):
        p = tmp_path / name
        save_file(t, str(p), metadata=m)
        return p

    with pytest.raises(FineQError, match="format"):
        checkpoint.load_packed(write("fmt.safetensors", tensors, {**meta, "format": "fineq-v0"}))
    with pytest.raises(FineQError, match="metadata"):
        checkpoint.load_packed(write("nometa.safetensors", tensors, {"format": "fineq-v1"}))
    missing = {k: v for k, v in tensors.items() if k != f"{LAYER}.scales"}
    with pytest.raises(FineQError, match="missing"):
        checkpoint.load_packed(write("missing.safetensors", missing, meta))
    bad_scales = dict(tensors)
    bad_scales[f"{LAYER}.scales"] = np.zeros(384, np.float16)
    with pytest.raises(FineQError, match="positive"):
        checkpoint.load_packed(write("scales.safetensors", bad_scales, meta))
    wrong_rows = dict(tensors)
    wrong_rows[f"{LAYER}.clusters"] = tensors[f"{LAYER}.clusters"][:10]
    wrong_rows[f"{LAYER}.scales"] = tensors[f"{LAYER}.scales"][:10]
    with pytest.raises(FineQError, match="rows"):
        checkpoint.load_packed(write("rows.safetensors", wrong_rows, meta))
    info = json.loads(meta["layers"])
    info[LAYER]["shape"] = [384, 383]  # K=383 still needs 128 clusters: the padding must be 0
    with pytest.raises(FineQError, match="padding"):
        checkpoint.load_packed(write("pad.safetensors", tensors, {**meta, "layers": json.dumps(info)}))
    info[LAYER]["shape"] = [384, 512]
    with pytest.raises(FineQError, match="cannot hold rows"):
        checkpoint.load_packed(write("k.safetensors", tensors, {**meta, "layers": json.dumps(info)}))
    # a file for another model: a layer name or a shape this model does not have
    m, _, _ = model
    layers, _ = checkpoint.load_packed(path)
    with pytest.raises(FineQError, match="not a linear layer"):
        checkpoint.apply_layers(m, {"encoder.nope": layers[LAYER]})
    with pytest.raises(FineQError, match="does not match"):
        checkpoint.apply_layers(m, {"encoder.layer.0.intermediate.dense": layers[LAYER]})


def test_missing_model_folder_and_unknown_method(tmp_path):
    with pytest.raises(FineQError, match="does not exist"):
        checkpoint.load_model(tmp_path / "nothing")
    with pytest.raises(FineQError, match="not a Hugging Face model folder"):
        checkpoint.load_model(tmp_path)
    with pytest.raises(FineQError, match="unknown method"):
        checkpoint.quantize_model(torch.nn.Linear(3, 3), "fp4")
    with pytest.raises(FineQError, match="no nn.Linear"):
        checkpoint.quantize_model(torch.nn.ReLU(), "fineq")


def test_golden_vectors_of_a_real_layer(tmp_path):
    v = make_vectors(layer=LAYER, rows=16, k=48, tokens=5)
    path = save_vectors(v, tmp_path / "v.npz")
    got = load_vectors(path)
    assert got["q"].shape == (16, 48) and got["x_q"].shape == (5, 48)
    assert got["meta"]["layer"] == LAYER and got["meta"]["layer_shape"] == [384, 384]
    # real activations: not all zero, and use the INT8 range
    assert np.abs(got["x_q"]).max() == 127 and (got["x_q"] != 0).mean() > 0.5
    assert np.array_equal(got["acc"], golden.int_gemm(got["x_q"], got["q"]))
    # tamper with one expected output: the loader must notice
    v["acc"] = v["acc"].copy()
    v["acc"][0, 0] += 1
    with pytest.raises(FineQError, match="do not follow"):
        load_vectors(save_vectors(v, tmp_path / "bad.npz"))
    with pytest.raises(FineQError, match="not a linear layer"):
        make_vectors(layer="encoder.nope")
    with pytest.raises(FineQError, match="does not fit"):
        make_vectors(layer=LAYER, rows=1000)


def test_evaluation_on_real_text_is_sane():
    report = evaluate(methods=("fineq", "rtn2"), n_sentences=12, n_pairs=12, progress=False)
    fp32, fineq, rtn2 = (report["methods"][m] for m in ("fp32", "fineq", "rtn2"))
    assert fp32["cos_mean"] == pytest.approx(1.0, abs=1e-5)
    assert fp32["top1_agreement"] == 1.0
    assert 2.6 < fineq["bpw"] < 2.8 and 2.0 < rtn2["bpw"] < 2.1
    assert 0 < fineq["outlier_fraction"] < 1
    assert fineq["cos_mean"] > rtn2["cos_mean"]
    assert -1 <= fineq["cos_min"] <= fineq["cos_mean"] < 1
