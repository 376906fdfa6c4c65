"""python -m verif {demo,bench} and python -m verif.top_perf: help that explains, and bad input
ending in `error: ...`, exit 2, before anything is built or simulated."""

import subprocess
import sys

import pytest

from verif import __main__ as verif_main
from verif import bench, demo, top_perf


def test_help_explains_both_commands():
    out = subprocess.run([sys.executable, "-m", "verif", "--help"], capture_output=True, text=True, check=True).stdout
    assert "demo" in out and "bench" in out and "hdl_bench.md" in out and len(out.splitlines()) > 8


@pytest.mark.parametrize("argv", [[], ["nope"]])
def test_unknown_or_missing_command(argv, capsys):
    with pytest.raises(SystemExit) as e:
        verif_main.main(argv)
    assert e.value.code == 2 and "error:" in capsys.readouterr().err


@pytest.mark.parametrize("main, argv", [
    (demo.main, ["--config", "nope"]),
    (bench.main, ["--config", "nope"]),
    (top_perf.main, ["--config", "nope"]),
    (top_perf.main, ["--kinds", "mac4"]),
    (top_perf.main, ["--buses", "3"]),
])
def test_bad_choices_are_usage_errors(main, argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and "error: argument" in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, b"PK\x03\x04 truncated"])
def test_bench_refuses_a_missing_or_corrupt_vectors_file(content, tmp_path, capsys, monkeypatch):
    path = tmp_path / "v.npz"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setattr(bench, "bench", lambda *a, **k: pytest.fail("simulated before the check"))
    assert bench.main(["--vectors", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "golden-vector file" in err


def test_top_perf_refuses_an_unwritable_build_folder(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("FINEQ_BUILD", str(blocker / "build"))
    monkeypatch.setattr(top_perf, "run_sweep", lambda *a, **k: pytest.fail("simulated before the check"))
    assert top_perf.main(["--config", "tiny", "--kinds", "fineq", "--buses", "4"]) == 2
    assert "not a writable folder" in capsys.readouterr().err
