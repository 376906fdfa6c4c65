"""The command line: help, the quantize command end to end, and clear errors on bad input."""

import subprocess
import sys

import numpy as np
import pytest

from quant.cli import main
from quant.study.checkpoint import load_packed


def test_help_explains_every_command():
    out = subprocess.run([sys.executable, "-m", "quant", "--help"], capture_output=True, text=True, check=True)
    for command in ("quantize", "eval", "vectors", "bench"):
        assert command in out.stdout


def test_quantize_writes_a_valid_file(tmp_path, capsys, tiny_bert_dir):
    out = tmp_path / "m.safetensors"
    assert main(["-q", "quantize", "--model", str(tiny_bert_dir), "--threshold", "5", "--out", str(out)]) == 0
    layers, meta = load_packed(out)
    # 2 layers x (q, k, v, attention output, intermediate, output) + pooler; K=100 is not a multiple of 3
    assert len(layers) == 13 and meta["threshold"] == 5.0
    assert meta["source_model"] == tiny_bert_dir.name
    assert layers["encoder.layer.1.output.dense"].shape == (48, 100)
    assert "bits/weight" in capsys.readouterr().out


def test_vectors_command(tmp_path):
    out = tmp_path / "v.npz"
    assert main(["vectors", "--rows", "4", "--k", "9", "--tokens", "3", "--out", str(out)]) == 0
    with np.load(out) as z:
        assert z["acc"].shape == (3, 4)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["quantize", "--model", "/nonexistent/model", "--out", "x.safetensors"], "does not exist"),
        (["quantize", "--threshold", "1", "--out", "x.safetensors"], "threshold must be a finite number > 1"),
        (["eval", "--methods", "fineq", "fp4"], "unknown method"),
        (["vectors", "--layer", "nope", "--out", "v.npz"], "not a linear layer"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not (tmp_path / "x.safetensors").exists()
