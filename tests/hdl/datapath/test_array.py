# amaranth: UnusedElaboratable=no
"""hdl.datapath.array in the Amaranth simulator: exact tiles against quant.core.golden, the double
buffer, beat lengths, masks, timing to the cycle, edge sizes."""

import dataclasses
import random

import numpy as np
import pytest

from hdl.datapath.array import PEArray
from hdl.datapath.config import ArrayKind, preset
from quant.core.golden import int_gemm
from verif.amaranth_tb import get, put, simulate
from verif.vectors import Tile, layer_tiles, random_tiles, synthetic_golden


def beat_of(cfg, kind, q):
    """The beat length P the array must use for weights q (padding already zeroed)."""
    if not kind.temporal:
        return 1
    if not cfg.adaptive_phases:
        return cfg.code_length if kind is ArrayKind.FINEQ else -(-cfg.code_length // 2)
    p = max(1, int(np.abs(q).max()))
    want = p if kind is ArrayKind.FINEQ else -(-p // 2)  # radix 2: ceil(max|q| / 2)
    assert cfg.beat_length(kind, int(np.abs(q).max())) == want
    return want


def run_tiles(cfg, kind, tiles, *, pause=0.3, seed=0, load_width=None, masks=None):
    """Stream ``tiles`` through an array; return the outputs and the cycle of every event.

    ``masks[i] = (row_mask, col_mask)`` marks padding of tile i: those weights are sent as
    random garbage and must count as zero."""
    dut = PEArray(cfg, kind, load_width=load_width)
    nw = dut.load_width
    rng = random.Random(seed)
    outputs = [[] for _ in tiles]
    events = {"x": [], "y": [], "w": []}
    cycle = [0]
    masks = masks or [None] * len(tiles)
    wb = cfg.weight_bits(kind)

    def effective(t, mask):
        if mask is None:
            return t.q
        rmask, cmask = mask
        return t.q * np.outer(cmask, rmask)

    async def clock(ctx):
        async for _ in ctx.tick():
            cycle[0] += 1
            # the registered end-of-beat flag is what its name says, in every cycle
            busy, phase = ctx.get(dut.computing), ctx.get(dut._phase)
            assert ctx.get(dut._last_cycle) == (busy and phase == 0), f"cycle {cycle[0]}"

    async def weights(ctx):
        for t, mask in zip(tiles, masks, strict=True):
            rmask, cmask = mask if mask is not None else ([1] * cfg.rows, [1] * cfg.cols)
            flat = t.q.reshape(-1).copy()  # column-major: q[c, r] is weight c * rows + r
            keep = np.outer(cmask, rmask).reshape(-1)
            garbage = [rng.randint(-(1 << (wb - 1)), (1 << (wb - 1)) - 1) for _ in flat]
            flat = np.where(keep == 1, flat, garbage)
            for b in range(len(flat) // nw):
                await put(ctx, dut.w, {"data": [int(v) for v in flat[b * nw:(b + 1) * nw]],
                                       "rows": sum(int(v) << i for i, v in enumerate(rmask)),
                                       "cols": sum(int(v) << i for i, v in enumerate(cmask))},
                          rng=rng, pause=pause)
                events["w"].append(cycle[0])

    async def activations(ctx):
        for t in tiles:
            m = t.x.shape[0]
            for i in range(m):
                await put(ctx, dut.x, {"data": [int(v) for v in t.x[i]], "last": int(i == m - 1)},
                          rng=rng, pause=pause)
                events["x"].append(cycle[0])

    async def results(ctx):
        for k, (t, mask) in enumerate(zip(tiles, masks, strict=True)):
            want = int_gemm(t.x, effective(t, mask))
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
    golden = synthetic_golden(seed=5, n=8, k=18, m=3)
    tiles = layer_tiles(golden, cfg, kind)
    outputs, _ = run_tiles(cfg, kind, tiles, pause=0.2)
    total = np.sum([np.array(o) for o in outputs], axis=0)
    np.testing.assert_array_equal(total, golden["acc"])


@pytest.mark.parametrize("load_width", [1, 2, 12, 48])
def test_any_load_width(load_width):
    cfg = preset("tiny")
    tiles = random_tiles(np.random.default_rng(load_width), cfg, ArrayKind.FINEQ, 3)
    run_tiles(cfg, ArrayKind.FINEQ, tiles, load_width=load_width, pause=0.2)


@pytest.mark.parametrize("rows, cols", [(1, 1), (1, 5), (5, 1), (3, 7), (9, 2)])
@pytest.mark.parametrize("kind", [ArrayKind.FINEQ, ArrayKind.MAC8X8], ids=lambda k: k.value)
def test_edge_sizes(rows, cols, kind):
    cfg = dataclasses.replace(preset("tiny"), rows=rows, cols=cols)
    run_tiles(cfg, kind, random_tiles(np.random.default_rng(rows * cols), cfg, kind, 2))


@pytest.mark.parametrize("kind", [ArrayKind.FINEQ, ArrayKind.FINEQ_R2], ids=lambda k: k.value)
@pytest.mark.parametrize("change", [{"adaptive_phases": False},
                                    {"code_length": 6, "adaptive_phases": False}])
def test_configuration_variants(change, kind):
    cfg = dataclasses.replace(preset("tiny"), **change)
    run_tiles(cfg, kind, random_tiles(np.random.default_rng(3), cfg, kind, 2))


def test_padding_never_counts_and_never_lengthens_the_beat():
    """Masked rows and columns carry garbage (even -4): results and beat use zeros there."""
    cfg = preset("tiny")
    rng = np.random.default_rng(11)
    q = rng.integers(-1, 2, size=(cfg.cols, cfg.rows))  # |q| <= 1: the real beat is 1
    tiles = [Tile("masked", q, rng.integers(-128, 128, size=(10, cfg.rows))),
             Tile("masked2", q, rng.integers(-128, 128, size=(10, cfg.rows)))]
    rmask = [1] * (cfg.rows - 2) + [0, 0]
    cmask = [1, 0] * (cfg.cols // 2)
    _, ev = run_tiles(cfg, ArrayKind.FINEQ, tiles, pause=0.0, masks=[(rmask, cmask)] * 2)
    assert set(np.diff(ev["x"]).tolist()) == {1}


def _timed(cfg, kind, weights_and_tokens, load_width=None):
    rng = np.random.default_rng(1)
    tiles = []
    for weight, m in weights_and_tokens:
        q = np.zeros((cfg.cols, cfg.rows), dtype=np.int64)
        q[rng.integers(cfg.cols), rng.integers(cfg.rows)] = weight  # the largest |q| sets P
        tiles.append(Tile(f"w{weight}", q, rng.integers(-128, 128, size=(m, cfg.rows))))
    return tiles, run_tiles(cfg, kind, tiles, pause=0.0, load_width=load_width)[1]


@pytest.mark.parametrize("kind, weight, beat", ids=str, argvalues=[
    (ArrayKind.FINEQ, -4, 4), (ArrayKind.FINEQ, 3, 3), (ArrayKind.FINEQ, -1, 1),
    (ArrayKind.FINEQ, 0, 1), (ArrayKind.MAC8X8, -128, 1), (ArrayKind.MAC8X3, -4, 1),
    (ArrayKind.FINEQ_R2, -4, 2), (ArrayKind.FINEQ_R2, 3, 2), (ArrayKind.FINEQ_R2, -2, 1),
    (ArrayKind.FINEQ_R2, 1, 1), (ArrayKind.FINEQ_R2, 0, 1),
])
def test_latency_and_throughput(kind, weight, beat):
    """Without pauses: one load beat per cycle, one vector per beat, the first result valid
    P + 3 cycles after the cycle the first vector is taken in."""
    cfg = preset("tiny")
    m = 6
    _, ev = _timed(cfg, kind, [(weight, m)])
    assert np.diff(ev["w"]).tolist() == [1] * (cfg.cols - 1)
    assert np.diff(ev["x"]).tolist() == [beat] * (m - 1)
    assert np.diff(ev["y"]).tolist() == [beat] * (m - 1)
    assert ev["y"][0] - ev["x"][0] == beat + 3
    assert ev["x"][0] - ev["w"][-1] == 1  # the first vector enters right after the last column


@pytest.mark.parametrize("kind", [ArrayKind.FINEQ, ArrayKind.FINEQ_R2], ids=lambda k: k.value)
def test_tiles_follow_each_other_without_a_gap_whatever_their_beats(kind):
    """Double buffering: the next tile loads during the current one, and its first vector
    follows the last vector of the current one after exactly that vector's beat."""
    cfg = preset("tiny")
    plan = [(3, 9), (-4, 9), (1, 9), (2, 9), (-4, 9)]  # 9 vectors >= cols load cycles
    tiles, ev = _timed(cfg, kind, plan)
    beats = [beat_of(cfg, kind, t.q) for t in tiles]
    want = [b for b, t in zip(beats, tiles, strict=True) for _ in range(t.x.shape[0])][:-1]
    assert np.diff(ev["x"]).tolist() == want
    per_vector = [b for b, t in zip(beats, tiles, strict=True) for _ in range(t.x.shape[0])]
    assert (np.array(ev["y"]) - np.array(ev["x"])).tolist() == [b + 3 for b in per_vector]


def test_single_vector_tiles_are_limited_by_loading_only():
    """M = 1 (decode): with a whole tile per load beat a new tile enters every beat."""
    cfg = preset("tiny")
    nw = cfg.rows * cfg.cols
    tiles, ev = _timed(cfg, ArrayKind.FINEQ, [(3, 1), (-4, 1), (1, 1), (2, 1)], load_width=nw)
    beats = [beat_of(cfg, ArrayKind.FINEQ, t.q) for t in tiles]
    assert np.diff(ev["x"]).tolist() == [max(b, 1) for b in beats[:-1]]


@pytest.mark.parametrize("args, error, message", [
    (("tiny",), TypeError, "config must be an ArrayConfig, not 'tiny'"),
    ((preset("tiny"), "fineq"), TypeError, "kind must be an ArrayKind, not 'fineq'"),
])
def test_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        PEArray(*args)


def test_bad_load_width():
    with pytest.raises(ValueError, match="load_width must divide rows \\* cols = 48, not 5"):
        PEArray(preset("tiny"), load_width=5)
