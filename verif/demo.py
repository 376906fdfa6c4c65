"""A real layer tile through the generated arrays (``python -m verif demo``).

Generates the Verilog of a configuration, builds it on one simulator, and streams the first tile
of a real layer (the first ``rows`` input features of the first ``cols`` output channels of
all-MiniLM-L6-v2's first attention query, real activations from text) through the FineQ array and
both MAC baselines, bit-exact against quant.core.golden, and prints the sums and the cycles.
"""

from __future__ import annotations

import numpy as np

from hdl.datapath.config import PRESETS, ArrayKind, preset
from quant.core import cli_policy, paths
from verif import simulate
from verif.bench import _run, beat_of, tile_formula
from verif.vectors import ensure_vectors, layer_tiles, load_golden


def main(argv=None) -> int:
    parser = cli_policy.parser("python -m verif demo", __doc__)
    parser.add_argument("--config", default="default", choices=sorted(PRESETS), help="array preset (default: default)")
    parser.add_argument("--sim", default="icarus", choices=simulate.SIMULATORS, help="simulator (default: icarus)")
    args = parser.parse_args(argv)
    return cli_policy.run(lambda: demo(args))


def demo(args) -> int:
    cfg = preset(args.config)
    cli_policy.output_path(paths.build_dir("sim"), folder=True, what="the build folder")
    simulate.use_verilator()
    golden = load_golden(ensure_vectors())
    meta = golden["meta"]
    workdir = paths.build_dir("sim", args.config, "demo").absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"{meta.get('model')} {meta.get('layer')}: tile k0:{cfg.rows} x n0:{cfg.cols}, "
          f"{golden['x_q'].shape[0]} tokens, {args.config} array {cfg.rows}x{cfg.cols} on {args.sim}")
    for kind in ArrayKind:
        tile = layer_tiles(golden, cfg, kind, k_tiles=1)[0]
        res = _run(args.sim, args.config, kind, [tile], workdir, kind.value)
        with np.load(workdir / f"{kind.value}-results.npz") as r:
            y = r["y0"]
        assert np.array_equal(y, tile.expected), "mismatch (the testbench should have failed)"
        m, p = tile.x.shape[0], beat_of(kind, cfg, tile.q)
        print(f"  {kind.value:13s} bit-exact  {res['spans'][0]:4d} cycles "
              f"(formula {tile_formula(cfg.rows, cfg.cols, m, p)}, beat P={p})")
    print("  first token's INT32 partial sums:", tile.expected[0].tolist())
    return 0
