"""cocotb on the generated decoder.v, on every selected simulator."""

import pytest

from verif import simulate


@pytest.mark.parametrize("sim", simulate.selected_simulators())
def test_decoder(sim, config_name, verilog):
    simulate.run(sim, config_name, "decoder", "verif.tb_decoder", vdir=verilog)
