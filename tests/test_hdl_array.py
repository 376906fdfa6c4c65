# amaranth: UnusedElaboratable=no
"""hdl.datapath.array in the Amaranth simulator: exact tiles against quant.golden, timing, edge sizes."""

import dataclasses
import random

import numpy as np
import pytest

from hdl.datapath.array import SystolicArray
from hdl.datapath.config import ArrayKind, preset
from quant.golden import int_gemm
from verif.amaranth_tb import get, put, simulate
from verif.vectors import random_tiles, synthetic_golden, layer_tiles


def run_tiles(cfg, kind, tiles, *, pause=0.3, seed=0):
    """Stream ``tiles`` through an array; return the outputs and the cycle of every event."""
    dut = SystolicArray(cfg, kind)
    rng = random.Random(seed)
    outputs = [[] for _ in tiles]
    events = {"x": [], "y": [], "w": []}
    cycle = [0]

    async def clock(ctx):
        async for _ in ctx.tick():
            cycle[0] += 1

    async def weights(ctx):
        for t in tiles:
            for c in range(cfg.cols):
                await put(ctx, dut.w, [int(v) for v in t.q[c]], rng=rng, pause=pause)
                events["w"].append(cycle[0])

    async def activations(ctx):
        for t in tiles:
            m = t.x.shape[0]
            for i in range(m):
                await put(ctx, dut.x, {"data": [int(v) for v in t.x[i]], "last": int(i == m - 1)},
                          rng=rng, pause=pause)
                events["x"].append(cycle[0])

    async def results(ctx):
        for k, t in enumerate(tiles):
            want = int_gemm(t.x, t.q)
            for i in range(t.x.shape[0]):
                payload = await get(ctx, dut.y, rng=rng, pause=pause)
                events["y"].append(cycle[0])
                got = [int(v) for v in payload.data]
                assert got == want[i].tolist(), (
                    f"{kind.value} tile {k} '{t.name}' vector {i}: got {got}, want {want[i].tolist()}")
                assert payload.last == (i == t.x.shape[0] - 1)
                outputs[k].append(got)

    simulate(dut, results, background=[clock, weights, activations], name=kind.value)
    return outputs, events


@pytest.mark.parametrize("kind", list(ArrayKind), ids=lambda k: k.value)
def test_random_and_corner_tiles_with_pauses(kind):
    cfg = preset("tiny")
    tiles = random_tiles(np.random.default_rng(7), cfg, kind, 5)
    run_tiles(cfg, kind, tiles, seed=len(kind.value))


@pytest.mark.parametrize("kind", list(ArrayKind), ids=lambda k: k.value)
def test_layer_tiles_sum_to_the_golden_accumulator(kind):
    cfg = preset("tiny")
    golden = synthetic_golden(seed=5, n=4, k=18, m=3)
    tiles = layer_tiles(golden, cfg, kind)
    outputs, _ = run_tiles(cfg, kind, tiles, pause=0.2)
    total = np.sum([np.array(o) for o in outputs], axis=0)
    np.testing.assert_array_equal(total, golden["acc"])


@pytest.mark.parametrize("rows, cols", [(1, 1), (1, 5), (5, 1), (3, 7)])
@pytest.mark.parametrize("kind", [ArrayKind.FINEQ, ArrayKind.MAC8X8], ids=lambda k: k.value)
def test_edge_sizes(rows, cols, kind):
    cfg = dataclasses.replace(preset("tiny"), rows=rows, cols=cols)
    run_tiles(cfg, kind, random_tiles(np.random.default_rng(rows * cols), cfg, kind, 2))


@pytest.mark.parametrize("change", [{"adaptive_phases": False}, {"trim_psums": False},
                                    {"code_length": 6, "adaptive_phases": False}])
def test_configuration_variants(change):
    cfg = dataclasses.replace(preset("tiny"), **change)
    run_tiles(cfg, ArrayKind.FINEQ, random_tiles(np.random.default_rng(3), cfg, ArrayKind.FINEQ, 2))


@pytest.mark.parametrize("kind, weight, beat", ids=str, argvalues=[
    (ArrayKind.FINEQ, -4, 4), (ArrayKind.FINEQ, 3, 3), (ArrayKind.FINEQ, -1, 1),
    (ArrayKind.FINEQ, 0, 1), (ArrayKind.MAC8X8, -128, 1), (ArrayKind.MAC8X3, -4, 1),
])
def test_latency_and_throughput(kind, weight, beat):
    """Without pauses: one vector per beat, the first result valid (rows + cols - 1) * beat + 2
    cycles after the cycle the first vector is taken in, and one weight column per cycle."""
    cfg = preset("tiny")
    rng = np.random.default_rng(1)
    q = np.zeros((cfg.cols, cfg.rows), dtype=np.int64)
    q[rng.integers(cfg.cols), rng.integers(cfg.rows)] = weight  # the largest |q| sets the beat
    m = 6
    tile = random_tiles(rng, cfg, kind, 0)[0]
    tile = dataclasses.replace(tile, q=q, x=rng.integers(-128, 128, size=(m, cfg.rows)))
    _, ev = run_tiles(cfg, kind, [tile], pause=0.0)
    assert np.diff(ev["w"]).tolist() == [1] * (cfg.cols - 1)
    assert np.diff(ev["x"]).tolist() == [beat] * (m - 1)
    assert np.diff(ev["y"]).tolist() == [beat] * (m - 1)
    # (R + C - 1) beats through skew, PEs and de-skew, then one cycle into the output register.
    assert ev["y"][0] - ev["x"][0] == (cfg.rows + cfg.cols - 1) * beat + 2
    assert ev["x"][0] - ev["w"][-1] == 1  # the first vector enters right after the last column


def test_weights_wait_for_the_pipeline_to_drain():
    """The next tile's weights are not taken while the previous tile's vectors are in flight."""
    cfg = preset("tiny")
    tiles = random_tiles(np.random.default_rng(2), cfg, ArrayKind.MAC8X8, 2)[-2:]
    _, ev = run_tiles(cfg, ArrayKind.MAC8X8, tiles, pause=0.0)
    first_tile_y = ev["y"][: tiles[0].x.shape[0]]
    second_tile_w = ev["w"][cfg.cols:]
    # The last vector leaves the array one cycle before its output is taken.
    assert second_tile_w[0] >= first_tile_y[-1] - 1


@pytest.mark.parametrize("args, error, message", [
    (("tiny",), TypeError, "config must be an ArrayConfig, not 'tiny'"),
    ((preset("tiny"), "fineq"), TypeError, "kind must be an ArrayKind, not 'fineq'"),
])
def test_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        SystolicArray(*args)
