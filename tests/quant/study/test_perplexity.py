"""The perplexity harness on a tiny causal LM the test builds (random weights, real tokenizer)
and on real English prose from the machine (pydoc_data.topics)."""

import math

import pytest
import torch
from tiny_llama import make_tiny_llama

from quant.cli import main
from quant.core.errors import FineQError
from quant.study import perplexity as ppl

SEQLEN = 32


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    full = ppl.pydoc_text(tmp_path_factory.mktemp("text") / "pydoc.txt").read_text()
    short = tmp_path_factory.mktemp("text") / "short.txt"
    short.write_text(full[:2500])  # real prose, about fifteen windows
    return short


def test_pydoc_text_is_real_prose(tmp_path):
    t = ppl.pydoc_text(tmp_path / "p.txt").read_text()
    assert len(t) > 50_000 and "\n\n" in t and " the " in t


def test_float_and_quantized_perplexity_in_one_run(tiny_llama, text):
    report = ppl.run_perplexity(tiny_llama, text, ("rtn2",), seqlen=SEQLEN, progress=False)
    _, tok = ppl.load_causal_lm(tiny_llama)
    tokens = ppl.tokenize(tok, text.read_text()).numel()
    assert report["tokens"] == tokens and report["windows"] == tokens // SEQLEN  # tail dropped
    m = report["methods"]
    assert set(m) == {"fp32", "rtn2"}
    for r in m.values():
        assert math.isfinite(r["ppl"]) and r["ppl"] > 1 and r["windows"] == report["windows"]
    assert m["rtn2"]["ppl"] != m["fp32"]["ppl"] and 2 < m["rtn2"]["bpw"] < 2.5
    # the output head stays in float: 2 layers x 7 projections quantized
    assert report["quantized_layers"] == 14


def test_the_loop_is_gptqs_convention(tiny_llama, text):
    model, tok = ppl.load_causal_lm(tiny_llama)
    ids = ppl.tokenize(tok, text.read_text())
    out = ppl.perplexity(model, ids, SEQLEN, max_windows=4)
    assert out["windows"] == 4
    # independent: mean next-token loss over windows of SEQLEN, each from an empty context
    losses = []
    with torch.no_grad():
        for i in range(4):
            w = ids[0, i * SEQLEN:(i + 1) * SEQLEN]
            logp = torch.log_softmax(model(input_ids=w[None]).logits[0, :-1], -1)
            losses.append(-logp.gather(1, w[1:, None]).mean())
    assert out["ppl"] == pytest.approx(math.exp(float(torch.stack(losses).mean())), rel=1e-4)


def test_bad_input_is_refused_clearly(tiny_llama, tiny_bert_dir, text, tmp_path):
    with pytest.raises(FineQError, match="does not exist"):
        ppl.run_perplexity(tiny_llama, tmp_path / "missing.txt", seqlen=SEQLEN, progress=False)
    with pytest.raises(FineQError, match="not a causal language model"):
        ppl.run_perplexity(tiny_bert_dir, text, seqlen=SEQLEN, progress=False)
    with pytest.raises(FineQError, match="exceeds the model's 64 positions"):
        ppl.run_perplexity(tiny_llama, text, seqlen=2048, progress=False)
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("Too short.")
    with pytest.raises(FineQError, match="fewer than one window"):
        ppl.run_perplexity(tiny_llama, tiny, seqlen=SEQLEN, progress=False)
    with pytest.raises(FineQError, match="unknown or calibrated"):
        ppl.run_perplexity(tiny_llama, text, ("gptq2",), seqlen=SEQLEN, progress=False)


def test_perplexity_command(tiny_llama, text, tmp_path, capsys):
    out = tmp_path / "ppl.json"
    argv = ["-q", "perplexity", "--model", str(tiny_llama), "--text", str(text), "--seqlen", str(SEQLEN),
            "--max-windows", "3", "--methods", "rtn3", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "rtn3" in printed and "3 windows of 32" in printed and out.is_file()
    assert main(["perplexity", "--model", str(tiny_llama), "--text", str(tmp_path / "none.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err
