"""--model as a folder, a GGUF file or a short name: resolution, errors, and the float32 cache of a
GGUF file (with transformers' GGUF reader replaced by a small model: the real one takes a minute)."""

import json

import pytest
import torch

from quant.cli import main
from quant.core.errors import FineQError
from quant.study import models


def test_resolution_and_its_errors(tmp_path, tiny_bert_dir):
    assert models.resolve(tiny_bert_dir).kind == "hf"
    with pytest.raises(FineQError, match="does not exist"):
        models.resolve(tmp_path / "none.gguf")
    (tmp_path / "weights.bin").write_bytes(b"\0" * 16)
    with pytest.raises(FineQError, match="not a .gguf model"):
        models.resolve(tmp_path / "weights.bin")
    (tmp_path / "fake.gguf").write_bytes(b"NOPE" + b"\0" * 16)
    with pytest.raises(FineQError, match="no GGUF magic"):
        models.resolve(tmp_path / "fake.gguf")
    with pytest.raises(FineQError, match="no config.json"):
        models.resolve(tmp_path)
    (tmp_path / "ok.gguf").write_bytes(b"GGUF" + b"\0" * 16)
    src = models.resolve(tmp_path / "ok.gguf")
    assert src.kind == "gguf" and src.name == "ok"


def test_packaged_gemma_resolves_to_the_checked_gguf(tmp_path):
    path = models.packaged_gguf("gemma3-270m", tmp_path)  # assembled from the chunk packages (sha256 checked)
    assert path.name == "gemma-3-270m-q4_k_m.gguf" and path.stat().st_size > 200e6
    assert path.read_bytes()[:4] == b"GGUF"
    assert models.packaged_gguf("gemma3-270m", tmp_path) == path  # reused


def test_gguf_is_converted_once_and_the_cache_is_keyed(tmp_path, monkeypatch, tiny_bert_dir):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    calls = []

    def fake_load(path):
        calls.append(path)
        torch.manual_seed(path.read_bytes()[4])  # the weights follow from the file
        cfg = LlamaConfig(vocab_size=30522, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                          num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32,
                          tie_word_embeddings=True)
        return LlamaForCausalLM(cfg).eval(), AutoTokenizer.from_pretrained(tiny_bert_dir)

    monkeypatch.setattr(models, "load_gguf", fake_load)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\1" * 64)
    cache = tmp_path / "cache"
    folder = models.gguf_folder(gguf, cache, progress=False)
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert json.loads((folder / "fineq-cache.json").read_text())["sha256"] == models._sha256(gguf)
    assert models.gguf_folder(gguf, cache, progress=False) == folder and len(calls) == 1  # reused
    from quant.study.perplexity import load_causal_lm

    model, tok = load_causal_lm(folder)
    ref, _ = fake_load(gguf)
    calls.pop()
    assert torch.equal(model.model.layers[0].mlp.up_proj.weight, ref.model.layers[0].mlp.up_proj.weight)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()  # still tied
    gguf.write_bytes(b"GGUF" + b"\2" * 64)  # a different file: a different cache, converted again
    assert models.gguf_folder(gguf, cache, progress=False) != folder and len(calls) == 2


def test_quantize_and_perplexity_take_a_gguf(tmp_path, monkeypatch, tiny_bert_dir, capsys):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    def fake_load(path):
        torch.manual_seed(0)
        cfg = LlamaConfig(vocab_size=30522, hidden_size=24, intermediate_size=48, num_hidden_layers=1,
                          num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
        return LlamaForCausalLM(cfg).eval(), AutoTokenizer.from_pretrained(tiny_bert_dir)

    monkeypatch.setattr(models, "load_gguf", fake_load)
    monkeypatch.chdir(tmp_path)
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 64)
    out = tmp_path / "q.safetensors"
    assert main(["-q", "quantize", "--model", str(gguf), "--out", str(out)]) == 0
    from quant.study.checkpoint import load_packed

    layers, meta = load_packed(out)
    assert len(layers) == 7 and "lm_head" not in layers and meta["source_model"] == "tiny"  # head kept float
    text = tmp_path / "t.txt"
    text.write_text("The quick brown fox jumps over the lazy dog. " * 40)
    assert main(["-q", "perplexity", "--model", str(gguf), "--text", str(text), "--seqlen", "32",
                 "--max-windows", "2", "--methods", "fineq"]) == 0
    assert "tiny:" in capsys.readouterr().out
    assert main(["-q", "shards", "--checkpoint", str(gguf), "--out", str(tmp_path / "s.safetensors")]) == 0
    assert len(load_packed(tmp_path / "s.safetensors")[0]) == 7
