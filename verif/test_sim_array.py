"""cocotb on the generated arrays (FineQ and both MAC baselines), on every selected simulator.

The same testbench (verif/tb_array.py) runs every K tile of the first column block of a real
layer (golden vectors from ``python -m quant vectors``), then random and corner-case tiles, under
random idle cycles and back-pressure, and a reset test. Here, after the run, the array's tile
outputs summed over the K tiles must equal the golden file's INT32 ``acc`` for those columns.
"""

import zlib

import numpy as np
import pytest

from hdl.datapath.config import ArrayKind, preset
from verif import simulate
from verif.vectors import layer_tiles, random_tiles, tiles_to_npz


@pytest.mark.parametrize("kind", list(ArrayKind), ids=lambda k: k.value)
@pytest.mark.parametrize("sim", simulate.selected_simulators())
def test_array(sim, kind, config_name, verilog, golden, tmp_path):
    cfg = preset(config_name)
    real = layer_tiles(golden, cfg, kind)
    rng = np.random.default_rng(zlib.crc32(f"{sim}/{kind.value}".encode()))
    tiles = real + random_tiles(rng, cfg, kind, 6)
    tiles_path = tiles_to_npz(tiles, tmp_path / "tiles.npz")
    results = tmp_path / "results.npz"
    simulate.run(sim, config_name, kind.value, "verif.tb_array", vdir=verilog, env={
        "FINEQ_TB_TILES": str(tiles_path),
        "FINEQ_TB_RESULTS": str(results),
    })
    with np.load(results) as r:
        partial = sum(r[f"y{i}"] for i in range(len(real)))
    m, cols = partial.shape
    n0 = real[0].origin[1]
    want = golden["acc"][:m, n0:n0 + cols].astype(np.int64)
    have = min(cols, want.shape[1])
    np.testing.assert_array_equal(partial[:, :have], want,
                                  err_msg="array tiles summed over K differ from the golden acc")
