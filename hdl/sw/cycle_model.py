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
- after the last vector, the adder tree and the accumulator, then the last block's write-back
  (one element a cycle, one write burst per token).

The fixed latencies (``Latency``) were fitted once on ``tiny`` jobs with the cocotbext-axi
memory (``python -m verif.top_perf --calibrate``) and are used unchanged for every other build
and job; ``verif.top_perf --validate`` measures the model against jobs outside the fit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from hdl.datapath.config import ArrayKind
from hdl.soc.accel_config import AcceleratorConfig

__all__ = ["Latency", "LATENCY", "tile_beats", "model_cycles", "ideal_cycles", "job_bytes",
           "useful_pulses"]


@dataclass(frozen=True)
class Latency:
    """Fixed costs in cycles (fitted, see the module docstring)."""

    start: int = 40  # START to the first DMA request: flush, geometry, first AR, memory latency
    x_chunk: int = 6  # per chunk: activation request to first line, load done to first vector
    p_block: int = 3  # per block: bus cycles a parameter burst costs beyond its beats
    w_lag: int = 3  # weight word arrival to its load into the shadow registers
    drain: int = 6  # last vector's beat to its sums in the accumulator
    row: int = 10  # per token of the last block: burst set-up, vector unit, response
    finish: int = 4  # last write response to DONE


LATENCY = Latency()


def tile_beats(q: np.ndarray, cfg: AcceleratorConfig) -> np.ndarray:
    """Beat length P of every (block, K tile): max(1, max |q|) over the tile (1 for MAC)."""
    n, k = q.shape
    rows, cols = cfg.rows, cfg.cols
    nb, kt = math.ceil(n / cols), math.ceil(k / rows)
    if not cfg.kind.temporal:
        return np.ones((nb, kt), dtype=np.int64)
    if not cfg.array.adaptive_phases:
        return np.full((nb, kt), cfg.array.code_length, dtype=np.int64)
    pad = np.zeros((nb * cols, kt * rows), dtype=np.int64)
    pad[:n, :k] = np.abs(q)
    return np.maximum(pad.reshape(nb, cols, kt, rows).max(axis=(1, 3)), 1)


def job_bytes(m: int, k: int, n: int, cfg: AcceleratorConfig, bypass: bool) -> dict:
    """Bytes a job must move at least: every operand once, in its canonical packed size."""
    w = n * (k if cfg.kind is ArrayKind.MAC8X8 else math.ceil(k / 3))
    return {"weights": w, "activations": m * k, "params": 0 if bypass else 8 * n,
            "results": m * n * (4 if bypass else 1)}


def ideal_cycles(q: np.ndarray, m: int, cfg: AcceleratorConfig, bypass: bool) -> dict:
    """Roofline: max(compute bound sum_t M * P_t, bytes moved / bus bytes per cycle). AXI reads
    and writes have channels of their own, so the bandwidth bound is the larger direction."""
    n, k = q.shape
    compute = int(m * tile_beats(q, cfg).sum())
    b = job_bytes(m, k, n, cfg, bypass)
    moved = max(b["weights"] + b["activations"] + b["params"], b["results"])
    bandwidth = math.ceil(moved / cfg.bus_bytes)
    return {"compute": compute, "bandwidth": bandwidth, "ideal": max(compute, bandwidth),
            "bound": "compute" if compute >= bandwidth else "bandwidth"}


def useful_pulses(q: np.ndarray, m: int) -> int:
    """PE-cycles that add or subtract an activation: m * sum |q| (one pulse per unit of |q|)."""
    return int(m * np.abs(q.astype(np.int64)).sum())


def _weight_arrivals(cfg, nb, kt, cws, bypass, chunk_gaps, lat):
    """Earliest cycle (from the first weight request) each word of one pass over the weight
    image can arrive, bus time taken by parameter bursts included; ``chunk_gaps`` adds the
    activation load in front of the pass."""
    line = cfg.line_beats
    p_beats = [0 if bypass else math.ceil(8 * cw / cfg.bus_bytes) + lat.p_block for cw in cws]
    per_block = kt * line
    t0 = np.arange(nb * per_block, dtype=np.int64) + chunk_gaps
    t0 += np.repeat(np.cumsum(p_beats), per_block)  # a block's parameters go first
    return t0


def model_cycles(q: np.ndarray, m: int, cfg: AcceleratorConfig, bypass: bool,
                 lat: Latency = LATENCY) -> int:
    """Cycles from START to DONE of ``Y[m, n] = X[m, k] @ q.T`` on build ``cfg``."""
    n, k = q.shape
    rows, cols, line = cfg.rows, cfg.cols, cfg.line_beats
    nb, kt = math.ceil(n / cols), math.ceil(k / rows)
    beats = tile_beats(q, cfg).reshape(-1)  # tile order inside a chunk: block-major
    cws = [min(cols, n - b * cols) for b in range(nb)]
    x_rate = min(cfg.bus_bytes, rows)  # bytes a cycle through the gearbox
    x_row_bytes = math.ceil(k / cfg.bus_bytes) * cfg.bus_bytes
    fifo = cfg.w_fifo_words
    chunks = math.ceil(m / cfg.chunk_m)
    t = lat.start
    accept_end = t  # when the array could take the next tile's first vector
    stream_t = t  # bus time of the weight stream
    for c in range(chunks):
        mc = min(cfg.chunk_m, m - c * cfg.chunk_m)
        x_load = math.ceil(mc * x_row_bytes / x_rate) + lat.x_chunk
        feed = max(t, stream_t if c == 0 else t) + x_load  # the chunk's first vector
        arrivals = _weight_arrivals(cfg, nb, kt, cws, bypass, 0, lat) + stream_t
        if c == 0:
            arrivals += math.ceil(mc * x_row_bytes / cfg.bus_bytes)  # X goes first on the bus
        accept = max(accept_end, feed)
        load_free = accept  # the shadow registers are free
        consumed = np.zeros(len(arrivals), dtype=np.int64)
        w = 0
        for i, p in enumerate(beats):
            # load this tile's words, one a cycle, each once it has arrived
            tl = load_free
            for j in range(line):
                # the FIFO lets the stream run only w_fifo_words ahead of the loads
                arr = arrivals[w]
                if w >= fifo:
                    arr = max(arr, consumed[w - fifo] + 1)
                tl = max(tl, arr + lat.w_lag)
                consumed[w] = tl
                tl += 1
                w += 1
            loaded = tl  # the first vector needs the whole tile (registered)
            start = max(accept, loaded) if i else max(feed, loaded)
            accept = start + mc * int(p)
            load_free = start
        stream_t = int(consumed[-1]) + 1 - fifo  # where the next pass can begin, at the latest
        accept_end = accept
        t = accept  # the next chunk's activations load after this chunk's last vector
    last_mc = m - (chunks - 1) * cfg.chunk_m
    tail = lat.drain + last_mc * (cws[-1] * (4 if bypass and cfg.bus_bytes == 4 else 1) + lat.row)
    return int(accept_end + tail + lat.finish)


def latency_dict(lat: Latency = LATENCY) -> dict:
    return asdict(lat)
