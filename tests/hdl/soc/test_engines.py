# amaranth: UnusedElaboratable=no
"""The accelerator's engines in the Amaranth simulator, each against a Python model: geometry,
weight path, activation buffer, accumulator, parameter loader."""

import dataclasses
import random

import numpy as np
import pytest

from hdl.datapath.config import ArrayKind
from hdl.soc.accel_config import accel_preset
from hdl.soc.accumulator import Accumulator
from hdl.soc.activation_buffer import ActivationBuffer
from hdl.soc.geometry import SETUP_CYCLES, Geometry
from hdl.soc.param_loader import ParamLoader
from hdl.soc.weight_path import WeightPath
from hdl.sw.image import weight_image
from quant.core.format import unpack_clusters
from verif.amaranth_tb import get, put, simulate
from verif.top_jobs import random_job


async def wait_for(ctx, signal):
    """Tick until ``signal`` is high (now included). Background testbenches poll rather than
    await ``tick().until()``: a generator left suspended in it when the simulation ends is torn
    down later by the garbage collector, which upsets the interpreter (CPython 3.11)."""
    while not ctx.get(signal):
        await ctx.tick()


def pack_words(data: bytes, bus: int) -> list[int]:
    return [int.from_bytes(data[i:i + bus], "little") for i in range(0, len(data), bus)]


@pytest.mark.parametrize("group_log2", [None, 0, 3])
@pytest.mark.parametrize("preset, bus", [("tiny", 4), ("default", 16), ("default", 8)])
@pytest.mark.parametrize("m, k, n, bypass", [(1, 1, 1, 0), (17, 95, 13, 1), (8, 96, 8, 0),
                                             (300, 2048, 1000, 0), (65535, 65535, 65535, 1)])
def test_geometry(preset, bus, m, k, n, bypass, group_log2):
    cfg = accel_preset(preset, bus_bytes=bus)
    k = min(k, cfg.max_k)
    dut = Geometry(cfg)
    got = {}

    async def bench(ctx):
        for name, v in (("m", m), ("k", k), ("n", n), ("bypass", bypass),
                        ("grouped", group_log2 is not None), ("group_log2", group_log2 or 0)):
            ctx.set(getattr(dut, name), v)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        cycles = 0
        while not ctx.get(dut.ready):
            await ctx.tick()
            cycles += 1
        got["cycles"] = cycles
        for name in ("kt", "nb", "chunks", "last_rows", "last_cols", "last_m", "x_row_words",
                     "y_stride", "w_words", "x_last_words", "groups"):
            got[name] = ctx.get(getattr(dut, name))

    simulate(dut, bench)
    kt, nb, chunks = -(-k // cfg.rows), -(-n // cfg.cols), -(-m // cfg.chunk_m)
    last_m = m - (chunks - 1) * cfg.chunk_m
    groups = 0 if group_log2 is None else -(-kt // (1 << group_log2))
    want = {"cycles": SETUP_CYCLES, "kt": kt, "nb": nb, "chunks": chunks,
            "last_rows": k - (kt - 1) * cfg.rows, "last_cols": n - (nb - 1) * cfg.cols,
            "last_m": last_m, "x_row_words": -(-k // bus),
            "y_stride": -(-(n * (4 if bypass else 1)) // bus) * bus,
            "groups": groups,
            "w_words": (nb * (kt * cfg.line_beats + groups * cfg.scale_beats)) % 2**32,
            "x_last_words": last_m * -(-k // bus)}
    assert got == want


@pytest.mark.parametrize("kind, group", [(ArrayKind.FINEQ, 0), (ArrayKind.MAC8X8, 0),
                                         (ArrayKind.FINEQ, 12)], ids=str)
@pytest.mark.parametrize("bus", [4, 16])
def test_weight_path_streams_the_image_once_per_chunk_with_masks(kind, group, bus):
    cfg = accel_preset("tiny", kind=kind, bus_bytes=bus)
    rng = np.random.default_rng(bus)
    job = random_job(rng, 1, 4 * cfg.rows + 1, cfg.cols + 3, group=group)
    k, n = job.k, job.clusters.shape[0]
    weights = job.w8 if kind is ArrayKind.MAC8X8 else job.clusters
    q = job.w8.astype(np.int64) if kind is ArrayKind.MAC8X8 else unpack_clusters(job.clusters, k)
    words = pack_words(weight_image(weights, k, cfg, job.factors, group), bus)
    gt = group // cfg.rows
    lines = []  # the factor lines the accumulator must receive, in order
    kt, nb, chunks = -(-k // cfg.rows), -(-n // cfg.cols), 2
    dut = WeightPath(cfg)
    prng = random.Random(1)
    requests = []

    async def memory(ctx):  # a DMA client that honours the credit, with random gaps
        ctx.set(dut.kt, kt)
        ctx.set(dut.nb, nb)
        ctx.set(dut.chunks, chunks)
        ctx.set(dut.last_rows, k - (kt - 1) * cfg.rows)
        ctx.set(dut.last_cols, n - (nb - 1) * cfg.cols)
        ctx.set(dut.w_addr, 0x100)
        ctx.set(dut.w_words, len(words))
        ctx.set(dut.grouped, bool(group))
        ctx.set(dut.group_log2, (gt.bit_length() - 1) if group else 0)
        ctx.set(dut.go, 1)
        await ctx.tick()
        ctx.set(dut.go, 0)
        while len(requests) < chunks:
            await wait_for(ctx, dut.dma_start)
            requests.append((ctx.get(dut.dma_addr), ctx.get(dut.dma_words)))
            ctx.set(dut.dma_busy, 1)
            for w in words:
                while ctx.get(dut.space) == 0:
                    await ctx.tick()
                await put(ctx, dut.dma_data, w, rng=prng, pause=0.2)
            ctx.set(dut.dma_busy, 0)
            await ctx.tick()

    async def array(ctx):
        per_tile = cfg.rows * cfg.cols // cfg.load_width
        for _ in range(chunks):
            for b in range(nb):
                for t in range(kt):
                    tile = []
                    for _ in range(per_tile):
                        p = await get(ctx, dut.o, rng=prng, pause=0.2)
                        tile += [int(v) for v in p.data]
                        rows, cols = int(p.rows), int(p.cols)
                    w = np.array(tile).reshape(cfg.cols, cfg.rows)
                    keep = np.outer([(cols >> c) & 1 for c in range(cfg.cols)],
                                    [(rows >> r) & 1 for r in range(cfg.rows)])
                    want = np.zeros((cfg.cols, cfg.rows), dtype=np.int64)
                    part = q[b * cfg.cols:(b + 1) * cfg.cols, t * cfg.rows:(t + 1) * cfg.rows]
                    want[:part.shape[0], :part.shape[1]] = part
                    want_keep = np.zeros_like(want)
                    want_keep[:part.shape[0], :part.shape[1]] = 1
                    assert (keep == want_keep).all(), f"masks of tile b{b} t{t}"
                    assert (w * keep == want).all(), f"weights of tile b{b} t{t}"

    async def accumulator(ctx):
        ctx.set(dut.scales.ready, 1)
        while True:
            await ctx.tick()
            if ctx.get(dut.scales.valid):
                lines.append(int(ctx.get(dut.scales.payload)))

    simulate(dut, array, background=[memory, accumulator], name="weight_path")
    assert requests == [(0x100, len(words))] * chunks
    if group:
        want = [sum(int(job.factors[b * cfg.cols + c, g]) << (8 * c)
                    for c in range(cfg.cols) if b * cfg.cols + c < n)
                for _ in range(chunks) for b in range(nb) for g in range(-(-kt // gt))]
        assert lines[:len(want)] == want


def test_activation_buffer_feeds_tiles_in_order():
    cfg = accel_preset("tiny")
    rng = np.random.default_rng(3)
    mc, kt, nb = 5, 3, 2
    x = rng.integers(-128, 128, size=(mc, kt * cfg.rows))
    dut = ActivationBuffer(cfg)
    prng = random.Random(2)

    async def writer(ctx):
        ctx.set(dut.load, 1)
        await ctx.tick()
        ctx.set(dut.load, 0)
        for m in range(mc):
            for t in range(kt):
                line = x[m, t * cfg.rows:(t + 1) * cfg.rows]
                await put(ctx, dut.i, {"data": sum((int(v) & 0xFF) << (8 * i)
                                                   for i, v in enumerate(line)),
                                       "last": int(t == kt - 1)}, rng=prng, pause=0.3)
        await ctx.tick()
        assert ctx.get(dut.loaded) == mc
        for name, v in (("mc", mc), ("kt", kt), ("nb", nb)):
            ctx.set(getattr(dut, name), v)
        ctx.set(dut.feed, 1)
        await ctx.tick()
        ctx.set(dut.feed, 0)

    async def reader(ctx):
        for _ in range(nb):
            for t in range(kt):
                for m in range(mc):
                    p = await get(ctx, dut.o, rng=prng, pause=0.3)
                    assert [int(v) for v in p.data] == x[m, t * cfg.rows:(t + 1) * cfg.rows].tolist()
                    assert p.last == (m == mc - 1)
        await ctx.tick().repeat(3)
        assert ctx.get(dut.fed)

    simulate(dut, reader, background=[writer], name="activation_buffer")


@pytest.mark.parametrize("m, chunks, group_log2, dsp", [(1, 1, None, False), (3, 2, None, False),
                                                        (8, 1, None, False), (1, 1, 1, False),
                                                        (3, 2, 0, False), (3, 2, 0, True), (8, 1, None, True)])
def test_accumulator_sums_tiles_into_alternating_sets(m, chunks, group_log2, dsp):
    """``dsp``: the FPGA build, its group-factor products as one ``*`` each."""
    cfg = dataclasses.replace(accel_preset("tiny"), dsp_products=dsp)
    rng = np.random.default_rng(m)
    kt, nb = 4, 3
    last_m = m
    mcs = [cfg.chunk_m] * (chunks - 1) + [last_m]
    blocks = [(c, b) for c in range(chunks) for b in range(nb)]
    bound = cfg.array.psum_bound(cfg.kind, cfg.rows)  # what a tile sum can be
    beats = {blk: rng.integers(-bound, bound + 1, size=(kt, mcs[blk[0]], cfg.cols)) for blk in blocks}
    groups = 0 if group_log2 is None else -(-kt // (1 << group_log2))
    factors = {blk: rng.integers(0, 256, size=(groups, cfg.cols)) for blk in blocks}
    dut = Accumulator(cfg)
    prng = random.Random(m)
    seen = []

    def want_line(blk, tok):
        if not groups:
            return beats[blk][:, tok].sum(axis=0).tolist()
        g = np.arange(kt) >> group_log2
        return (beats[blk][:, tok] * factors[blk][g]).sum(axis=0).tolist()

    async def scales(ctx):
        for blk in blocks:
            for g in range(groups):
                await put(ctx, dut.scales, sum(int(v) << (8 * c) for c, v in
                                               enumerate(factors[blk][g])), rng=prng, pause=0.3)

    async def array(ctx):
        for name, v in (("kt", kt), ("nb", nb), ("chunks", chunks), ("last_m", last_m),
                        ("grouped", groups > 0), ("group_log2", group_log2 or 0)):
            ctx.set(getattr(dut, name), v)
        ctx.set(dut.go, 1)
        await ctx.tick()
        ctx.set(dut.go, 0)
        for blk in blocks:
            for t in range(kt):
                for tok in range(mcs[blk[0]]):
                    await put(ctx, dut.i, {"data": [int(v) for v in beats[blk][t, tok]], "last": 0},
                              rng=prng, pause=0.3)

    async def writeback(ctx):
        for i, blk in enumerate(blocks):
            s = i % 2
            while not (ctx.get(dut.full) >> s) & 1:
                await ctx.tick()
            await ctx.tick().repeat(prng.randint(1, 6))  # a slow write-back holds the array
            ctx.set(dut.rd_set, s)
            for tok in range(mcs[blk[0]]):
                ctx.set(dut.rd_line, tok)
                await ctx.tick().repeat(2)  # the read port and the read-out register
                got = [int(v) for v in ctx.get(dut.rd_data)]
                assert got == want_line(blk, tok), f"block {blk} token {tok}"
            ctx.set(dut.release, 1 << s)
            await ctx.tick()
            ctx.set(dut.release, 0)
            seen.append(blk)

    simulate(dut, writeback, background=[array, scales], name="accumulator")
    assert seen == blocks


@pytest.mark.parametrize("bus", [4, 8, 16])
def test_param_loader_loads_and_checks_blocks(bus):
    cfg = accel_preset("tiny", bus_bytes=bus)
    rng = np.random.default_rng(bus)
    n, chunks = 2 * cfg.cols + 3, 2
    nb = -(-n // cfg.cols)
    bias = rng.integers(-2**31, 2**31, size=n)
    mult = rng.integers(0, 2**15, size=n)
    shift = rng.integers(1, 48, size=n)
    blocks = np.zeros((nb, cfg.param_stride), dtype=np.uint8)
    words = np.zeros((nb * cfg.cols, 2), dtype="<u4")
    words[:n, 0] = bias & 0xFFFFFFFF
    words[:n, 1] = mult | (shift << 16)
    blocks[:, :8 * cfg.cols] = words.reshape(nb, -1).view(np.uint8)
    image = blocks.tobytes()
    dut = ParamLoader(cfg)
    prng = random.Random(bus)

    async def memory(ctx):
        ctx.set(dut.nb, nb)
        ctx.set(dut.chunks, chunks)
        ctx.set(dut.last_cols, n - (nb - 1) * cfg.cols)
        ctx.set(dut.p_addr, 0x200)
        ctx.set(dut.go, 1)
        await ctx.tick()
        ctx.set(dut.go, 0)
        while True:
            await wait_for(ctx, dut.dma_start)
            addr, count = ctx.get(dut.dma_addr), ctx.get(dut.dma_words)
            ctx.set(dut.dma_busy, 1)
            offset = addr - 0x200
            for w in pack_words(image[offset:offset + count * bus], bus):
                await put(ctx, dut.dma_data, w, rng=prng, pause=0.3)
            ctx.set(dut.dma_busy, 0)

    async def writeback(ctx):
        for i in range(chunks * nb):
            s, b = i % 2, i % nb
            while not (ctx.get(dut.ready) >> s) & 1:
                await ctx.tick()
            ctx.set(dut.sel_set, s)
            for c in range(min(cfg.cols, n - b * cfg.cols)):
                ctx.set(dut.sel_col, c)
                await ctx.delay(1e-9)
                ch = b * cfg.cols + c
                assert (ctx.get(dut.bias), ctx.get(dut.mult), ctx.get(dut.shift)) == \
                    (int(np.int32(np.uint32(bias[ch] & 0xFFFFFFFF))), int(mult[ch]), int(shift[ch]))
            ctx.set(dut.release, 1 << s)
            await ctx.tick()
            ctx.set(dut.release, 0)
        assert not ctx.get(dut.bad)

    simulate(dut, writeback, background=[memory], name="param_loader")


@pytest.mark.parametrize("bus", [4, 16])
def test_a_bad_last_word_sets_bad_and_the_set_never_becomes_ready(bus):
    """The block's last word (a multiplier with bit 15 set) arrives in the last beat, with the
    DMA's busy falling right after it: the set must not be raised ready."""
    cfg = accel_preset("tiny", bus_bytes=bus)
    words = np.zeros((cfg.cols, 2), dtype="<u4")
    words[:, 1] = 1 << 16  # mult 0, shift 1: legal
    words[-1, 1] |= 1 << 15
    image = words.reshape(-1).view(np.uint8).tobytes()
    dut = ParamLoader(cfg)
    seen_ready = []

    async def memory(ctx):
        ctx.set(dut.nb, 1)
        ctx.set(dut.chunks, 1)
        ctx.set(dut.last_cols, cfg.cols)
        ctx.set(dut.go, 1)
        await ctx.tick()
        ctx.set(dut.go, 0)
        await wait_for(ctx, dut.dma_start)
        ctx.set(dut.dma_busy, 1)
        for w in pack_words(image, bus):
            await put(ctx, dut.dma_data, w)
        ctx.set(dut.dma_busy, 0)
        for _ in range(20):
            seen_ready.append(ctx.get(dut.ready))
            await ctx.tick()
        assert ctx.get(dut.bad)

    simulate(dut, memory, name="param_loader_bad")
    assert not any(r & 1 for r in seen_ready), seen_ready


@pytest.mark.parametrize("bus, bypass, last_cols", [(4, 0, 5), (16, 0, 5), (16, 0, 1), (8, 1, 1),
                                                     (16, 1, 3)])
def test_writeback_writes_every_block_row_by_row(bus, bypass, last_cols):
    """Finished accumulator sets through the vector unit and the packer into memory writes,
    exactly quant.core.golden.requantize (or the raw sums), padding bytes untouched."""
    from hdl.soc.writeback import WriteBack
    from quant.core import golden

    cfg = accel_preset("tiny", bus_bytes=bus)
    rng = np.random.default_rng(bus + bypass)
    # a last block narrower than the vector unit is deep: its first element reaches the packer
    # after the next block's request has been prepared
    m, n = cfg.chunk_m + 3, 2 * cfg.cols + last_cols
    chunks, nb = -(-m // cfg.chunk_m), -(-n // cfg.cols)
    last_m = m - (chunks - 1) * cfg.chunk_m
    acc = rng.integers(-2**20, 2**20, size=(m, n))
    rq = golden.Requant(bias=rng.integers(-5000, 5000, size=n),
                        mult=rng.integers(2**14, 2**15, size=n), shift=rng.integers(8, 20, size=n))
    want = acc if bypass else golden.requantize(acc, rq)
    e = 4 if bypass else 1
    stride = -(-(n * e) // bus) * bus
    y_addr = 0x400
    memory = bytearray([0xA5]) * (y_addr + m * stride + 64)
    dut = WriteBack(cfg)
    prng = random.Random(bus)
    blocks = [(c, b) for c in range(chunks) for b in range(nb)]
    released = []

    async def accumulator_and_params(ctx):
        for name, v in (("nb", nb), ("chunks", chunks), ("last_m", last_m), ("bypass", bypass),
                        ("last_cols", n - (nb - 1) * cfg.cols), ("y_addr", y_addr),
                        ("y_stride", stride)):
            ctx.set(getattr(dut, name), v)
        ctx.set(dut.go, 1)
        await ctx.tick()
        ctx.set(dut.go, 0)
        before = [0] * cfg.cols  # the row asked for in the cycle before
        for i, (chunk, b) in enumerate(blocks):
            s = i % 2
            ctx.set(dut.full, 1 << s)
            ctx.set(dut.p_ready, 1 << s)
            while True:  # serve reads of set s until it is released
                line = ctx.get(dut.rd_line)
                col = ctx.get(dut.sel_col)
                tok = chunk * cfg.chunk_m + line
                row = [int(acc[tok, b * cfg.cols + c]) if tok < m and b * cfg.cols + c < n else 0
                       for c in range(cfg.cols)]
                ch = min(b * cfg.cols + col, n - 1)
                ctx.set(dut.bias, int(rq.bias[ch]))
                ctx.set(dut.mult, int(rq.mult[ch]))
                ctx.set(dut.shift, int(rq.shift[ch]))
                await ctx.tick()
                ctx.set(dut.rd_data, before)  # two cycles: the read port and the read-out register
                before = row
                if ctx.get(dut.acc_release):
                    assert ctx.get(dut.acc_release) == 1 << s
                    released.append((chunk, b))
                    break
            ctx.set(dut.full, 0)
            ctx.set(dut.p_ready, 0)
            await ctx.tick().repeat(prng.randint(1, 5))

    async def dma(ctx):
        while True:
            await wait_for(ctx, dut.wr_start)
            addr, words = ctx.get(dut.wr_addr), ctx.get(dut.wr_words)
            assert addr % bus == 0
            ctx.set(dut.wr_busy, 1)
            for w in range(words):
                p = await get(ctx, dut.wr_data, rng=prng, pause=0.3)
                data, strb = int(p.data), int(p.strb)
                for lane in range(bus):
                    if (strb >> lane) & 1:
                        memory[addr + w * bus + lane] = (data >> (8 * lane)) & 0xFF
            await ctx.tick().repeat(prng.randint(1, 4))  # the write response
            ctx.set(dut.wr_busy, 0)

    async def finish(ctx):
        await wait_for(ctx, dut.done)

    simulate(dut, finish, background=[accumulator_and_params, dma], name="writeback", deadline=2e-3)
    assert released == blocks, (released, blocks)
    rows = np.frombuffer(bytes(memory[y_addr:y_addr + m * stride]), dtype=np.uint8).reshape(m, stride)
    got = rows[:, :n * e].copy().view("<i4" if bypass else np.int8).reshape(m, n)
    np.testing.assert_array_equal(got, want)
    assert (rows[:, n * e:] == 0xA5).all(), "padding bytes were written"
