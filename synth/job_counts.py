"""Activity counts of one accelerator job, from the RTL's job structure (docs/accelerator.md):
what the energy per token scales the gate-level energies by (synth/token_energy.py).

For ``Y[M, N] = X[M, K] @ W[N, K]^T`` on build ``cfg`` (``R x C`` array, ``B``-byte bus,
chunks of ``chunk_m`` tokens, ``nb`` blocks of ``C`` channels, ``kt`` K tiles):

- **DRAM / AXI traffic** (what the DMA moves, in bus words): per chunk the whole weight image
  (``nb * kt`` tile lines of ``line_bytes``, plus for fineq-v2 one factor line of
  ``scale_beats`` words before every group of a block) and the requantization words of every
  block (``ceil(8 cw / B)`` words); the activations once (``M`` rows of ``ceil(K/B)`` words);
  the results once, one burst per token and block (``ceil((n0 e mod B + cw e) / B)`` words,
  ``cw e`` of their bytes strobed). ``verif/tb_traffic.py`` counts the same words on the AXI
  bus of a simulated top level; tests/synth/test_token_energy.py checks they agree.
- **Array**: ``chunks * nb * kt`` tile loads; ``M * sum_t P_t`` busy cycles (a beat of
  ``P_t`` cycles per vector); ``M * sum |q|`` pulses (temporal kinds); the cycle model's
  cycles from START to DONE (``hdl.sw.cycle_model.model_cycles``, within 1.3 % of the RTL).
- **Buffers** (useful accesses; the RTL's read ports have no enable, a compiled SRAM with a
  chip enable reads only these): weight FIFO one write and one read per weight word; factor
  FIFO one per factor line; activation buffer a write per line of ``R`` bytes and a read per
  vector (``M * kt * nb``); accumulator a write per tile sum line, a read-modify-write read
  for every tile but a block's first, one read per token and block for the write-back; the
  credit buffer's result queue (``hdl/soc/credit_buffer.py``) a write and a read per vector.
- **Vector unit**: one element per output (``M * N``; none in bypass).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from hdl.datapath.config import ArrayKind
from hdl.soc.accel_config import AcceleratorConfig
from hdl.soc.accumulator import LINE_BITS
from hdl.soc.credit_buffer import DEPTH as QUEUE_DEPTH
from hdl.sw.cycle_model import job_bytes, model_cycles, tile_beats

from .memory import SramAccesses

__all__ = ["JobCounts", "bus_words", "job_counts"]


@dataclass(frozen=True)
class JobCounts:
    m: int
    k: int
    n: int
    kind: str
    bus_bytes: int
    chunks: int
    tile_loads: int
    busy_cycles: int           # cycles with a vector in its beat
    cycles: int                # START to DONE (cycle model)
    pulses: int                # PE-cycles that add an activation (temporal kinds), else MACs
    macs: int                  # useful multiply-accumulates, M * N * K
    outputs: int               # elements through the vector unit
    read_words: dict           # AXI read beats by operand (weights, params, activations)
    write_words: int           # AXI write beats (results)
    write_bytes: int           # bytes of those beats with their strobe set
    canonical_bytes: dict      # hdl.sw.cycle_model.job_bytes: every operand once, packed
    sram: tuple                # memory.SramAccesses of every buffer

    @property
    def dram_read_bits(self) -> int:
        return 8 * self.bus_bytes * sum(self.read_words.values())

    @property
    def dram_write_bits(self) -> int:
        return 8 * self.write_bytes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sram"] = [asdict(s) for s in self.sram]
        d["dram_read_bits"], d["dram_write_bits"] = self.dram_read_bits, self.dram_write_bits
        return d


def bus_words(m: int, k: int, n: int, cfg: AcceleratorConfig, *, bypass: bool = False,
              group: int = 0) -> dict:
    """AXI beats of a job by operand, and the strobed bytes of the writes."""
    B, rows, cols = cfg.bus_bytes, cfg.rows, cfg.cols
    nb, kt, chunks = -(-n // cols), -(-k // rows), -(-m // cfg.chunk_m)
    groups = -(-kt // (group // rows)) if group else 0   # factor lines per block
    image = nb * (kt * cfg.line_beats + groups * cfg.scale_beats)
    cws = [min(cols, n - b * cols) for b in range(nb)]
    e = 4 if bypass else 1
    params = 0 if bypass else sum(math.ceil(8 * cw / B) for cw in cws)
    y_words = m * sum(math.ceil(((b * cols * e) % B + cw * e) / B) for b, cw in enumerate(cws))
    return {"read": {"weights": chunks * image, "params": chunks * params,
                     "activations": m * math.ceil(k / B)},
            "write": y_words, "write_bytes": m * n * e, "image_words": image,
            "factor_lines": nb * groups}


def _sram(m, k, n, cfg, words) -> tuple:
    nb, kt = -(-n // cfg.cols), -(-k // cfg.rows)
    chunks = -(-m // cfg.chunk_m)
    w = words["read"]["weights"]
    lines = chunks * words["factor_lines"]
    acc_line = LINE_BITS * cfg.cols   # each column's 32-bit word and its pending carries
    result_bits = cfg.array.sum_width(cfg.kind, cfg.rows) * cfg.cols + 1   # column sums and `last`
    out = [SramAccesses("weight_fifo", cfg.w_fifo_words * cfg.bus_bytes, 8 * cfg.bus_bytes,
                        reads=w, writes=w),
           SramAccesses("activation_buffer", cfg.x_depth * cfg.rows, 8 * cfg.rows,
                        reads=m * kt * nb, writes=m * kt),
           SramAccesses("accumulator", cfg.chunk_m * acc_line // 8, acc_line,
                        reads=m * nb * (kt - 1) + m * nb, writes=m * nb * kt),
           SramAccesses("result_queue", QUEUE_DEPTH * result_bits / 8, result_bits,
                        reads=m * nb * kt, writes=m * nb * kt)]
    if lines:
        out.append(SramAccesses("factor_fifo", 4 * cfg.cols, 8 * cfg.cols, reads=lines, writes=lines))
    return tuple(out)


def job_counts(q: np.ndarray, m: int, cfg: AcceleratorConfig, *, bypass: bool = False,
               group: int = 0) -> JobCounts:
    """Counts of the job ``X[m, K] @ q.T`` (``q`` the integer weights [N, K] as the build runs
    them: FineQ codes for the temporal and 3-bit builds, any int8 for INT8 x INT8; ``group``
    the fineq-v2 group size, 0 for none or for an INT8 build)."""
    if not isinstance(m, int) or m < 1:
        raise ValueError(f"m must be a positive integer, not {m!r}")
    q = np.asarray(q)
    n, k = q.shape
    if cfg.kind is ArrayKind.MAC8X8:
        group = 0           # INT8 weights carry no group factors
    words = bus_words(m, k, n, cfg, bypass=bypass, group=group)
    beats = tile_beats(q, cfg)
    nb, kt = beats.shape
    chunks = -(-m // cfg.chunk_m)
    if cfg.kind.temporal:
        mags = np.abs(q.astype(np.int64)).reshape(-1)
        pulses = m * int(sum(cfg.kind.pulses(int(v)) * c for v, c in
                             zip(*np.unique(mags, return_counts=True), strict=True)))
    else:
        pulses = m * n * k
    return JobCounts(
        m=m, k=k, n=n, kind=cfg.kind.name.lower(), bus_bytes=cfg.bus_bytes, chunks=chunks,
        tile_loads=chunks * nb * kt, busy_cycles=int(m * beats.sum()),
        cycles=model_cycles(q, m, cfg, bypass, group), pulses=pulses, macs=m * n * k,
        outputs=0 if bypass else m * n, read_words=words["read"], write_words=words["write"],
        write_bytes=words["write_bytes"], canonical_bytes=job_bytes(m, k, n, cfg, bypass, group),
        sram=_sram(m, k, n, cfg, words))
