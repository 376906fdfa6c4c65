"""cocotb: a PE array (fineq_array.v, mac8x8_array.v, mac8x3_array.v) on whole tiles.

Structure after cocotb's matrix_multiplier example: two drivers (weights, activations), a monitor
on the results, the golden model (quant.core.golden.int_gemm) as the reference, an in-order checker,
and random idle cycles / back-pressure on all three streams.

Environment (set by verif/test_sim_array.py, the demo and the benchmark):

    FINEQ_TB_CONFIG    preset name (sizes must match the Verilog)
    FINEQ_TB_TILES     .npz of tiles (verif.vectors.tiles_to_npz); random tiles when unset
    FINEQ_TB_PAUSE     probability of an idle / back-pressure burst per cycle (default 0.3)
    FINEQ_TB_RESULTS   .npz to write the outputs and cycle counts to
    FINEQ_TB_RESETS    number of mid-work resets in the reset test (default 3)
"""

import os
import time

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge

from hdl.datapath.config import ArrayKind, preset
from verif.cocotb_tb import Clocked, StreamSink, StreamSource, pack, random_pause, reset, start_clock, tb_rng, unpack
from verif.vectors import Tile, random_tiles, tiles_from_npz


class ArrayBench:
    """Drivers, monitor and checker for one array."""

    def __init__(self, dut, pause: float, rng):
        self.dut = dut
        self.cfg = preset(os.environ.get("FINEQ_TB_CONFIG", "tiny"))
        self.kind = ArrayKind(os.environ.get("COCOTB_TOPLEVEL", dut._name))
        cfg = self.cfg
        self.rows, self.cols = cfg.rows, cfg.cols
        self.wb = cfg.weight_bits(self.kind)
        # The Verilog must have been generated for this configuration.
        widths = (len(dut.w__payload), len(dut.x__payload), len(dut.y__payload))
        want = (self.rows * self.wb + self.rows + self.cols, self.rows * cfg.act_width + 1,
                self.cols * cfg.acc_width + 1)
        assert widths == want, f"port widths {widths} do not match config {cfg.name}: {want}"
        self.w = StreamSource(dut, "w", random_pause(rng, pause) if pause else None)
        self.x = StreamSource(dut, "x", random_pause(rng, pause) if pause else None)
        self.y = StreamSink(dut, "y", random_pause(rng, pause) if pause else None, self.on_beat)
        self.clocked = Clocked(dut, [self.w, self.x, self.y])
        self.expected = []  # (tile index, vector index) in output order
        self.tiles: list[Tile] = []
        self.want: list[np.ndarray] = []
        self.outputs: list[np.ndarray] = []
        self.first_w: list[int] = []  # index into w transfers of each tile's first column
        self.done_y: list[int] = []  # index into y transfers of each tile's last vector
        self.checked = 0

    def queue(self, tile: Tile):
        t = len(self.tiles)
        self.tiles.append(tile)
        self.want.append(tile.expected)
        self.outputs.append(np.zeros((tile.x.shape[0], self.cols), dtype=np.int64))
        self.first_w.append(self.w.sent + len(self.w.queue) + (self.w.current is not None))
        # one column per load beat (the generated array's load width), no padding masked
        masks = (((1 << self.cols) - 1) << self.rows | ((1 << self.rows) - 1)) << (self.rows * self.wb)
        for c in range(self.cols):
            self.w.send(pack(tile.q[c], self.wb) | masks)
        last_bit = 1 << (self.rows * self.cfg.act_width)
        m_count = tile.x.shape[0]
        for m in range(m_count):
            self.x.send(pack(tile.x[m], self.cfg.act_width) | (last_bit if m == m_count - 1 else 0))
            self.expected.append((t, m))
        self.done_y.append(len(self.expected) - 1)

    def on_beat(self, word: int, cycle: int):
        if self.checked >= len(self.expected):
            raise AssertionError(f"cycle {cycle}: unexpected output beat 0x{word:x}")
        t, m = self.expected[self.checked]
        tile = self.tiles[t]
        got = unpack(word, self.cfg.acc_width, self.cols)
        last = (word >> (self.cols * self.cfg.acc_width)) & 1
        want = self.want[t][m]
        self.outputs[t][m] = got
        for c in range(self.cols):
            if got[c] != want[c]:
                raise AssertionError(
                    f"{self.kind.value}: tile {t} '{tile.name}', vector {m}, column {c}: "
                    f"got {got[c]}, expected {want[c]} (difference {got[c] - want[c]})\n"
                    f"  x[{m}] = {tile.x[m].tolist()}\n"
                    f"  weights of column {c} (rows 0..{self.rows - 1}) = {tile.q[c].tolist()}\n"
                    f"  whole output beat: got {got}, expected {want.tolist()}")
        if last != int(m == tile.x.shape[0] - 1):
            raise AssertionError(f"tile {t} vector {m}: last flag {last} is wrong")
        self.checked += 1

    async def run_all(self, what: str):
        total = sum(t.x.shape[0] for t in self.tiles)
        limit = 400 + 40 * sum(self.rows + self.cols + t.x.shape[0] * 4 for t in self.tiles)
        await self.clocked.run(lambda: self.checked == total, limit, what)

    def spans(self) -> list[int]:
        """Cycles from each tile's first weight beat to its last output beat, inclusive."""
        return [self.y.transfers[self.done_y[t]] - self.w.transfers[self.first_w[t]] + 1
                for t in range(len(self.tiles))]


def load_tiles(cfg, kind, rng) -> list[Tile]:
    path = os.environ.get("FINEQ_TB_TILES")
    if path:
        return tiles_from_npz(path)
    return random_tiles(np.random.default_rng(rng.getrandbits(32)), cfg, kind, 8)


@cocotb.test()
async def stream_tiles(dut):
    """Every tile, back to back, bit-exact, under random idle cycles and back-pressure."""
    start_clock(dut)
    await reset(dut)
    rng = tb_rng("array")
    pause = float(os.environ.get("FINEQ_TB_PAUSE", "0.3"))
    bench = ArrayBench(dut, pause, rng)
    for tile in load_tiles(bench.cfg, bench.kind, rng):
        bench.queue(tile)
    t0, c0 = time.perf_counter(), time.process_time()
    await bench.run_all(f"{bench.kind.value}: {len(bench.tiles)} tiles")
    # CPU time of the simulator process (simulator and testbench) is what a loaded machine
    # does not distort; wall time is reported next to it.
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    cycles = bench.clocked.cycle
    dut._log.info("%d tiles, %d vectors, %d cycles, %.2f s wall, %.2f s CPU: %.0f cycles/CPU-s",
                  len(bench.tiles), bench.checked, cycles, wall, cpu, cycles / max(cpu, 1e-9))
    out = os.environ.get("FINEQ_TB_RESULTS")
    if out:
        arrays = {f"y{i}": y for i, y in enumerate(bench.outputs)}
        np.savez(out, spans=np.array(bench.spans()), cycles=cycles, wall=wall, cpu=cpu,
                 phases=np.array([dut.phases.value.to_unsigned()]), **arrays)


@cocotb.test()
async def reset_in_the_middle(dut):
    """Reset while weights load or vectors are in flight: nothing stale comes out afterwards."""
    start_clock(dut)
    rng = tb_rng("reset")
    cfg = preset(os.environ.get("FINEQ_TB_CONFIG", "tiny"))
    tiles = load_tiles(cfg, ArrayKind(os.environ.get("COCOTB_TOPLEVEL", dut._name)), rng)
    for trial in range(int(os.environ.get("FINEQ_TB_RESETS", "3"))):
        await reset(dut)
        bench = ArrayBench(dut, 0.3, rng)
        victim = tiles[rng.randrange(len(tiles))]
        bench.queue(victim)
        # Stop somewhere between the first weight beat and the last output.
        stop = rng.randint(1, cfg.cols + (cfg.rows + cfg.cols + victim.x.shape[0]) * 4)
        bench.y.on_beat = lambda word, cycle: None
        await bench.clocked.run(lambda b=bench, s=stop: b.clocked.cycle >= s, stop + 1, "reset trial")
        await RisingEdge(dut.clk)
        bench.w.clear()
        bench.x.clear()
        dut.y__ready.value = 0
        dut.rst.value = 1
        await RisingEdge(dut.clk)
        await RisingEdge(dut.clk)
        dut.rst.value = 0
        await FallingEdge(dut.clk)
        assert int(dut.y__valid.value) == 0, "y still valid after reset"
        assert int(dut.x__ready.value) == 0, "x ready after reset: the weights are gone"
        # A fresh bench: two whole tiles must come out exactly, and nothing else.
        fresh = ArrayBench(dut, 0.3, rng)
        for _ in range(2):
            fresh.queue(tiles[rng.randrange(len(tiles))])
        await fresh.run_all(f"after reset {trial}")
        for _ in range(3 * (cfg.rows + cfg.cols) * 4):
            await FallingEdge(dut.clk)
            assert int(dut.y__valid.value) == 0, "an extra output beat after the last tile"
