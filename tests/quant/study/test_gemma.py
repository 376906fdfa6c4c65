"""The real Gemma-3-270M (the packaged Q4_K_M GGUF, dequantized once and cached under build/models):
it loads offline, predicts real prose far better than chance, and gives per-token golden vectors
of a real layer slice. The first run on a machine converts the GGUF (about 90 s); later runs
load the cached float32 folder (about 12 s)."""

import math

import numpy as np
import pytest

from quant.cli import main
from quant.core import golden


@pytest.fixture(scope="module")
def gemma():
    from quant.study.perplexity import load_causal_lm

    return load_causal_lm("gemma3-270m")


def test_gemma_loads_offline_and_predicts_prose(gemma):
    from quant.study.perplexity import perplexity, pydoc_text, read_text, tokenize

    model, tok = gemma
    assert type(model).__name__ == "Gemma3ForCausalLM" and model.config.num_hidden_layers == 18
    from quant.study.perplexity import quantizable_layers

    assert len(quantizable_layers(model)) == 126
    ids = tokenize(tok, read_text(pydoc_text()))
    ppl = perplexity(model, ids, 256, max_windows=1)["ppl"]
    assert math.isfinite(ppl) and 5 < ppl < 60  # chance would be about 262,000


def test_gemma_per_token_vectors_slice(gemma, tmp_path):
    from quant.core.vectors import load_vectors

    out = tmp_path / "slice.npz"
    assert main(["-q", "vectors", "--model", "gemma3-270m", "--layer", "model.layers.0.mlp.down_proj", "--rows", "12",
                 "--k", "96", "--tokens", "4", "--out", str(out)]) == 0
    v = load_vectors(out)
    assert v["meta"]["layer_shape"] == [640, 2048] and v["meta"]["act_mode"] == "per-token"
    assert v["act_scale"].shape == (4,) and np.array_equal(v["acc"], golden.int_gemm(v["x_q"], v["q"]))


@pytest.mark.parametrize("method", ["fineq", "fineq-v2-emin-g96"])
def test_gemma_slice_through_the_accelerator(gemma, method, tmp_path):
    """A slice of Gemma's down_proj (real weights, real per-token activations) through the whole
    tiny accelerator on Verilator: every INT8 and INT32 result bit-exact (fineq-v1 and fineq-v2
    with its group factors)."""
    from hdl.soc.accel_config import accel_preset
    from quant.core.vectors import load_vectors
    from verif.top_jobs import layer_job
    from verif.top_perf import run_jobs_on

    out = tmp_path / "slice.npz"
    assert main(["-q", "vectors", "--model", "gemma3-270m", "--layer", "model.layers.0.mlp.down_proj", "--rows", "9",
                 "--k", "96", "--tokens", "10", "--method", method, "--out", str(out)]) == 0
    v = load_vectors(out)
    assert ("sub" in v) == (method != "fineq")
    jobs = [layer_job(v, name="gemma int8"), layer_job(v, m=3, bypass=True, name="gemma int32")]
    report = run_jobs_on("verilator", accel_preset("tiny"), jobs, tmp_path / "run")
    assert [(j["name"], j["mismatches"]) for j in report["jobs"]] == [("gemma int8", 0), ("gemma int32", 0)]
    assert report["jobs"][0]["m"] == 10 > accel_preset("tiny").chunk_m  # two chunks of tokens
