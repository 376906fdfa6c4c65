"""Bad input to `python -m synth` and `python -m synth.ecp5_sweep`: `error: ...`, exit code 2,
no traceback and no report written."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository


def _synth(*args, module="synth"):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)


def _refused(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert r.stderr.startswith("error: ") or "\nerror: " in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


@pytest.mark.parametrize("args, words", [
    (["--config", "nosuch"], ["nosuch"]),
    (["--designs", "fineq_array,nosuch"], ["nosuch", "known"]),
    (["--sweep", "4,x"], ["--sweep"]),
    (["--dask", "cluster"], ["local:N"]),
    (["--jobs", "0"], ["--jobs"]),
])
def test_synth_refuses_bad_options(args, words, tmp_path):
    r = _synth(*args, "--no-energy", "--out", str(tmp_path / "out"))
    _refused(r, *words)
    assert not (tmp_path / "out").exists()


def test_missing_vectors_file(tmp_path):
    r = _synth("--vectors-file", str(tmp_path / "none.npz"), "--out", str(tmp_path / "out"))
    _refused(r, "none.npz", "does not exist")
    assert not (tmp_path / "out").exists()


def test_truncated_vectors_file(tmp_path):
    f = tmp_path / "v.npz"
    rng = np.random.default_rng(1)
    q = rng.integers(-4, 5, (8, 16), dtype=np.int8)
    x = rng.integers(-128, 128, (4, 16), dtype=np.int8)
    np.savez(f, q=q, x_q=x, acc=x.astype(np.int32) @ q.T.astype(np.int32))
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    r = _synth("--vectors-file", str(f), "--out", str(tmp_path / "out"))
    _refused(r, "v.npz")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, words", [
    (["--presets", "nosuch"], ["nosuch"]),
    (["--parts", "LFE5U-45F"], ["LFE5U-45F", "LFE5U-25F"]),
    (["--only", "default/nosuch/dsp"], ["default/nosuch/dsp"]),
])
def test_ecp5_sweep_refuses_bad_options(args, words, tmp_path):
    r = _synth(*args, "--out", str(tmp_path / "out"), module="synth.ecp5_sweep")
    _refused(r, *words)
    assert not (tmp_path / "out").exists()
