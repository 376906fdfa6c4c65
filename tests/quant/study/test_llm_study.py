"""The causal-LM study end to end on a tiny Llama the test builds (random weights, the MiniLM
tokenizer with [CLS] as start-of-text): both texts, generated calibration, every method family,
equalisation, the hardware-arithmetic perplexity, the report files; and its errors."""

import json
import math
import re

import pytest
from tiny_llama import make_tiny_llama

from quant.cli import main
from quant.core.errors import FineQError


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("tiny-llama-bos"), bos="[CLS]")


@pytest.fixture(autouse=True)
def _build_dir(tmp_path, monkeypatch):
    """Texts and the calibration cache go under build/ of a scratch working directory."""
    monkeypatch.chdir(tmp_path)


METHODS = ["rtn3", "gptq3-g128", "owq2", "fineq", "fineq-ef-emin", "fineq-v2-emin-g96", "fineq-v2-ef-emin-g96",
           "awq-fineq-ef-emin"]


def test_llm_study_writes_table_json_and_plot(tiny_llama, tmp_path, capsys):
    out = tmp_path / "reports"
    argv = ["-q", "study", "--model", str(tiny_llama), "--methods", *METHODS, "--hardware", "fineq-ef-emin",
            "--windows", "2", "--seqlen", "32", "--calib-sequences", "4", "--calib-length", "24",
            "--out-dir", str(out), "--threads", "1"]
    assert main(argv) == 0
    report = json.loads((out / "study.json").read_text())
    assert report["model"] == tiny_llama.name and report["complete"]
    assert list(report["methods"]) == ["fp32", *METHODS]
    assert set(report["texts"]) == {"pydoc", "licenses"}
    for m, r in report["methods"].items():
        assert {"bpw", "ppl", "seconds", "peak_mb"} <= set(r), m
        assert all(math.isfinite(v) and v > 1 for v in r["ppl"].values()), m
    r = report["methods"]
    assert r["fineq-v2-emin-g96"]["bpw"] > r["fineq"]["bpw"]  # the group factors are stored bytes too
    assert r["owq2"]["bpw"] <= r["fineq"]["bpw"] and r["gptq3-g128"]["calibrated"] and not r["fineq"]["calibrated"]
    assert set(r["awq-fineq-ef-emin"]["alphas"].values()) <= {0.0, 0.25, 0.5, 0.75}
    hw = r["fineq-ef-emin"]["hardware"]
    assert {"int32-per-token", "int8-per-token-max", "int8-per-token-p99.99", "int32-per-tensor"} <= set(hw)
    assert report["calibration"]["tokens"] == 4 * 24 and "generated" in report["calibration"]["source"]
    md = (out / "study.md").read_text()
    assert all(re.search(rf"^\| {re.escape(m)} +\|", md, re.M) for m in METHODS) and "What the hardware computes" in md and "## Goal" in md
    assert (out / "study_ppl_bpw.png").stat().st_size > 10_000
    assert "goal:" in capsys.readouterr().out
    # the page opens with its verdict on the goal, from the same numbers as its Goal section
    from quant.core.verdicts import verdict_of
    from quant.study.llm_report import goal
    g, first = goal(report), verdict_of(md)[1]
    if g["checked"]:
        assert first.startswith(f"Best FineQ variant at <= 2.8 bits/weight: **{g['method']}**")
        assert f"is **{'met' if g['met'] else 'not met'}**" in first
    else:
        assert first == "No FineQ variant at or under 2.8 bits/weight with a float baseline in this run."
    # the calibration text is cached: a second run does not generate it again
    cached = [p for p in (tmp_path / "build" / "text").glob("calibration-*.pt") if "hessians" not in p.name]
    assert len(cached) == 1


def test_the_float_model_is_untouched_between_methods(tiny_llama):
    from quant.study.llm_study import run_llm_study

    a = run_llm_study(tiny_llama, ["fineq"], texts=("pydoc",), seqlen=32, windows=2, progress=False)
    b = run_llm_study(tiny_llama, ["awq-fineq-emin", "fineq"], texts=("pydoc",), seqlen=32, windows=2,
                      calib_sequences=2, calib_length=16, progress=False)
    assert a["methods"]["fp32"]["ppl"] == b["methods"]["fp32"]["ppl"]
    assert a["methods"]["fineq"]["ppl"] == b["methods"]["fineq"]["ppl"]  # after an equalised method


def test_study_errors(tiny_llama, tiny_bert_dir, capsys):
    from quant.study.llm_study import run_llm_study

    with pytest.raises(FineQError, match="unknown method"):
        run_llm_study(tiny_llama, ["fineq", "awq-fp4"], progress=False)
    with pytest.raises(FineQError, match="exceeds the model's 64 positions"):
        run_llm_study(tiny_llama, ["fineq"], seqlen=1024, progress=False)
    with pytest.raises(FineQError, match="not in --methods"):
        run_llm_study(tiny_llama, ["fineq"], hardware=["rtn3"], seqlen=32, progress=False)
    with pytest.raises(FineQError, match="fewer than 5000 windows"):
        run_llm_study(tiny_llama, ["fineq"], seqlen=32, windows=5000, progress=False)
    assert main(["study", "--model", "/nonexistent/model.gguf"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["eval", "--model", str(tiny_llama)]) == 2
    assert "causal language model" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["fineq", "fineq-v2-emin-g96"])
def test_per_token_vectors_of_a_causal_lm(tiny_llama, tmp_path, method):
    import numpy as np

    from quant.core import golden
    from quant.core.vectors import load_vectors

    out = tmp_path / "v.npz"
    argv = ["-q", "vectors", "--model", str(tiny_llama), "--layer", "model.layers.0.mlp.down_proj", "--rows", "12",
            "--tokens", "5", "--method", method, "--out", str(out)]
    assert main(argv) == 0
    v = load_vectors(out)
    meta = v["meta"]
    assert meta["act_mode"] == "per-token" and meta["format"] == "fineq-golden-v2"
    assert v["x_q"].shape == (5, 96) and v["act_scale"].shape == (5,) and v["q"].shape == (12, 96)
    assert (np.abs(v["x_q"]).max(axis=1) == 127).all()  # every token uses its full INT8 range
    if method.startswith("fineq-v2"):
        assert meta["weight_format"] == "fineq-v2" and meta["group"] == 96 and v["sub"].shape == (12, 1)
        expect = golden.int_gemm_grouped(v["x_q"], v["q"], v["sub"], 96)
    else:
        expect = golden.int_gemm(v["x_q"], v["q"])
    assert np.array_equal(v["acc"], expect)
    # the INT8 outputs read back per token: y * sigma * s_x[m] is within one step of acc * s_w * s_x
    back = golden.dequantize_per_token(v["y"], v["act_scale"], float(v["out_scale"]))
    exact = v["acc"] * v["scales"].astype(np.float64) * v["act_scale"].astype(np.float64)[:, None]
    assert (np.abs(back - exact) <= float(v["out_scale"]) * v["act_scale"][:, None] * 0.5 + np.abs(exact) * 1e-4).all()
    # a per-token file whose act_scale lost its per-token shape is refused
    with np.load(out) as z:
        bad = {k: z[k] for k in z.files}
    bad["act_scale"] = np.float32(bad["act_scale"][0])
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(FineQError, match="act_scale has shape"):
        load_vectors(tmp_path / "bad.npz")


def test_merge_joins_runs_and_their_hardware_variants(tmp_path):
    from quant.study.llm_report import goal, merge_llm_reports

    texts = {"a": {"windows": 1, "seqlen": 8}}

    def entry(bpw, ppl, **kw):
        return {"bpw": bpw, "ppl": {"a": ppl}, "family": "x", "seconds": 0, "peak_mb": 0, **kw}

    r1 = {"model": "m", "texts": texts, "complete": True,
          "methods": {"fp32": entry(32, 10), "fineq-v2-ef-emin-g96": entry(2.78, 15, hardware={"int32": {"ppl": {"a": 16}}}),
                      "gptq3-g128": entry(3.125, 14)}}
    r2 = {"model": "m", "texts": texts, "complete": True,
          "methods": {"fp32": entry(32, 10), "fineq-v2-ef-emin-g96": entry(2.78, 15, hardware={"int8": {"ppl": {"a": 17}}}),
                      "owq2": entry(2.68, 1e9)}}
    for i, r in enumerate((r1, r2)):
        (tmp_path / f"{i}.json").write_text(json.dumps(r))
    m = merge_llm_reports([tmp_path / "0.json", tmp_path / "1.json"])
    assert list(m["methods"]) == ["fp32", "fineq-v2-ef-emin-g96", "gptq3-g128", "owq2"]
    assert set(m["methods"]["fineq-v2-ef-emin-g96"]["hardware"]) == {"int32", "int8"}
    g = goal(m)  # 1.5x float, but behind GPTQ 3-bit g128
    assert g["method"] == "fineq-v2-ef-emin-g96" and g["per_text"]["a"]["within_2x"] and not g["met"]
    assert g["per_text"]["a"]["at_least_owq"] and not g["per_text"]["a"]["ahead_of_gptq3_g128"]
    r2["texts"] = {"b": texts["a"]}
    (tmp_path / "1.json").write_text(json.dumps(r2))
    with pytest.raises(FineQError, match="cannot be merged"):
        merge_llm_reports([tmp_path / "0.json", tmp_path / "1.json"])
