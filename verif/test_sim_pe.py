"""cocotb on the generated PEs (temporal, 3-bit MAC, 8-bit MAC), on every selected simulator."""

import pytest

from verif import simulate


@pytest.mark.parametrize("top", ["temporal_pe", "mac8x3_pe", "mac8x8_pe"])
@pytest.mark.parametrize("sim", simulate.selected_simulators())
def test_pe(sim, top, config_name, verilog):
    simulate.run(sim, config_name, top, "verif.tb_pe", vdir=verilog)
