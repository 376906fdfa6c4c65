"""Cycle model of the accelerator (v2): how many cycles a job takes, and its roofline.

The model follows the tiles of a job in the order the hardware runs them (chunk of tokens,
block of ``cols`` channels, K tile) with the mechanisms of docs/accelerator.md:

- the weight image streams through the DMA at one bus word per cycle, except where the
  parameter words of a block (read with priority) and a chunk's activation rows take the bus;
  the weight FIFO lets it run at most ``w_fifo_words`` ahead of the array;
- a tile's ``line_beats`` words load into the shadow registers one per cycle, from the cycle
  in which the previous tile was swapped in, once each has arrived;
- the tile's first vector (and the swap) is taken once it is loaded and the previous tile's
  ``mc`` vectors have had their beats of ``P`` cycles;
- a chunk's activations load (the gearbox passes ``min(bus_bytes, rows)`` bytes a cycle) after
  the previous chunk's last vector was fed;
- after a block's last vector, the adder tree and the accumulator, then the block's write-back
  (one element a cycle, one write burst per token), one block at a time; the accumulator has two
  sets, so a block's first vector waits for the write-back of the block two before it.

The fixed latencies (``Latency``) were fitted once on 56 random ``tiny`` jobs on four builds
with the cocotbext-axi memory (``python -m verif.top_perf --calibrate``) and are used unchanged
for every other build and job; ``verif.top_perf --validate`` measures the model against 56 other
random jobs, and the roofline sweep against whole layers on the default preset.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from hdl.datapath.config import ArrayKind
from hdl.soc.accel_config import AcceleratorConfig
from hdl.soc.vector_unit import LATENCY as VU_LATENCY

__all__ = ["Latency", "LATENCY", "tile_beats", "model_cycles", "ideal_cycles", "job_bytes",
           "useful_pulses"]


@dataclass(frozen=True)
class Latency:
    """Fixed costs in cycles, fitted as a whole on 56 random tiny jobs (the module docstring):
    the fit trades the terms against each other, so read them as a set, not one by one."""

    start: int = 22  # START to the first DMA request: flush, geometry, first AR, memory latency
    x_chunk: int = 0  # per chunk: activation request to first line, load done to first vector
    p_block: int = 0  # per block: bus cycles a parameter burst costs beyond its beats
    w_lag: int = 14  # weight word arrival to its load into the shadow registers
    drain: int = 1  # last vector's beat to its sums in the accumulator (its second stage)
    row: int = 4 + VU_LATENCY  # per token of a block's write-back: burst set-up, the vector unit, response
    finish: int = 19  # last write response to DONE


LATENCY = Latency()


def tile_beats(q: np.ndarray, cfg: AcceleratorConfig) -> np.ndarray:
    """Beat length P of every (block, K tile): max(1, max |q|) over the tile (1 for MAC)."""
    n, k = q.shape
    rows, cols = cfg.rows, cfg.cols
    nb, kt = math.ceil(n / cols), math.ceil(k / rows)
    pad = np.zeros((nb * cols, kt * rows), dtype=np.int64)
    pad[:n, :k] = np.abs(q)
    largest = pad.reshape(nb, cols, kt, rows).max(axis=(1, 3))
    beat = np.vectorize(lambda v: cfg.array.beat_length(cfg.kind, int(v)), otypes=[np.int64])
    return beat(largest)


def job_bytes(m: int, k: int, n: int, cfg: AcceleratorConfig, bypass: bool, group: int = 0) -> dict:
    """Bytes a job must move at least: every operand once, in its canonical packed size."""
    w = n * (k if cfg.kind is ArrayKind.MAC8X8 else math.ceil(k / 3))
    w += n * math.ceil(k / group) if group else 0  # fineq-v2 factors, one byte per group
    return {"weights": w, "activations": m * k, "params": 0 if bypass else 8 * n,
            "results": m * n * (4 if bypass else 1)}


def ideal_cycles(q: np.ndarray, m: int, cfg: AcceleratorConfig, bypass: bool,
                 group: int = 0) -> dict:
    """Roofline: max(compute bound sum_t M * P_t, bytes moved / bus bytes per cycle). AXI reads
    and writes have channels of their own, so the bandwidth bound is the larger direction.
    ``dataflow``: the same bound with the weight traffic of this design (once per chunk)."""
    n, k = q.shape
    compute = int(m * tile_beats(q, cfg).sum())
    b = job_bytes(m, k, n, cfg, bypass, group)
    moved = max(b["weights"] + b["activations"] + b["params"], b["results"])
    bandwidth = math.ceil(moved / cfg.bus_bytes)
    # This design's dataflow reads the weights and parameters again for every chunk of tokens
    chunks = math.ceil(m / cfg.chunk_m)
    streamed = max(chunks * (b["weights"] + b["params"]) + b["activations"], b["results"])
    return {"compute": compute, "bandwidth": bandwidth, "ideal": max(compute, bandwidth),
            "bound": "compute" if compute >= bandwidth else "bandwidth",
            "dataflow": max(compute, math.ceil(streamed / cfg.bus_bytes))}


def useful_pulses(q: np.ndarray, m: int) -> int:
    """PE-cycles that add or subtract an activation: m * sum |q| (one pulse per unit of |q|)."""
    return int(m * np.abs(q.astype(np.int64)).sum())


def _pass_layout(cfg, nb, kt, cws, bypass, groups_per_block, lat):
    """One pass over the weight image: for every word its earliest bus slot (counted from the
    pass's first request, parameter bursts of each block included) and, for tile words, the
    tile it belongs to (-1 for a group-factor line)."""
    line, sb = cfg.line_beats, cfg.scale_beats
    gt = -(-kt // groups_per_block) if groups_per_block else kt
    slots, tiles, t, tile = [], [], 0, 0
    for b in range(nb):
        if not bypass:
            t += math.ceil(8 * cws[b] / cfg.bus_bytes) + lat.p_block  # the block's parameters go first
        for tt in range(kt):
            if groups_per_block and tt % gt == 0:
                slots.extend(range(t, t + sb))
                tiles.extend([-1] * sb)
                t += sb
            slots.extend(range(t, t + line))
            tiles.extend([tile] * line)
            t += line
            tile += 1
    return np.array(slots, dtype=np.int64), np.array(tiles, dtype=np.int64)


def _arrival(slot, freed, x_start, x_end):
    """A weight word's arrival: its bus slot, once the FIFO entry it needs has been freed, and
    not while a chunk's activation rows hold the bus."""
    arr = max(int(slot), int(freed) + 1)
    return x_end if x_start <= arr < x_end else arr


def model_cycles(q: np.ndarray, m: int, cfg: AcceleratorConfig, bypass: bool, group: int = 0,
                 lat: Latency = LATENCY) -> int:
    """Cycles from START to DONE of ``Y[m, n] = X[m, k] @ q.T`` on build ``cfg`` (``group``:
    fineq-v2 group size, 0 for fineq-v1)."""
    n, k = q.shape
    rows, cols = cfg.rows, cfg.cols
    nb, kt = math.ceil(n / cols), math.ceil(k / rows)
    beats = tile_beats(q, cfg).reshape(-1)  # tile order inside a chunk: block-major
    cws = [min(cols, n - b * cols) for b in range(nb)]
    groups = math.ceil(kt / (group // rows)) if group else 0
    slots, owner = _pass_layout(cfg, nb, kt, cws, bypass, groups, lat)
    x_rate = min(cfg.bus_bytes, rows)  # bytes a cycle through the gearbox
    x_row_bytes = math.ceil(k / cfg.bus_bytes) * cfg.bus_bytes
    fifo = cfg.w_fifo_words
    chunks = math.ceil(m / cfg.chunk_m)
    accept = lat.start  # when the array could take the next tile's first vector
    stream = lat.start  # bus time at which the next pass of the weight stream may begin
    recent = np.full(fifo, -(10 ** 12), dtype=np.int64)  # when the last fifo words left the FIFO
    written = [-(10 ** 12)] * 2  # when each accumulator set's last write-back ended
    blocks_done = 0
    for c in range(chunks):
        mc = min(cfg.chunk_m, m - c * cfg.chunk_m)
        x_words = math.ceil(mc * x_row_bytes / cfg.bus_bytes)
        x_start = accept if c else lat.start  # after the previous chunk's last vector
        feed = x_start + math.ceil(mc * x_row_bytes / x_rate) + lat.x_chunk
        arrivals = slots + max(stream, x_start + x_words if c == 0 else stream)
        x_end = x_start + x_words  # the activation rows have the bus first
        accept = max(accept, feed)
        load_free, w = accept, 0
        for i, p in enumerate(beats):
            while owner[w] == -1:  # a factor line: it only passes through the FIFO
                arr = _arrival(arrivals[w], recent[w % fifo], x_start, x_end)
                recent[w % fifo] = arr + lat.w_lag
                w += 1
            tl = load_free
            for _ in range(cfg.line_beats):
                # a word arrives once it has its slot and the FIFO has room for it
                tl = max(tl, _arrival(arrivals[w], recent[w % fifo], x_start, x_end) + lat.w_lag)
                recent[w % fifo] = tl
                tl += 1
                w += 1
            start = max(accept, tl)  # the tile is loaded (registered) and the last one is done
            if i % kt == 0:  # a block's first tile needs its accumulator set written back
                start = max(start, written[blocks_done % 2])
            accept = start + mc * int(p)
            load_free = start
            if i % kt == kt - 1:  # the block's sums go to the write-back, one set at a time
                b = i // kt
                begin = max(accept + lat.drain, written[(blocks_done + 1) % 2])
                written[blocks_done % 2] = begin + _write_back_cycles(mc, cws[b], cfg, bypass, lat)
                blocks_done += 1
        stream = int(arrivals[-1]) + 1
    return int(written[(blocks_done + 1) % 2] + lat.finish)


def _write_back_cycles(mc: int, width: int, cfg: AcceleratorConfig, bypass: bool, lat: Latency) -> int:
    """A block's write-back: one element a cycle (INT8 or INT32: the packer fills bus words)
    and one write burst per token."""
    return mc * (width + lat.row)


def latency_dict(lat: Latency = LATENCY) -> dict:
    return asdict(lat)
