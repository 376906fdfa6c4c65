"""Memory energy for the whole-accelerator energy per token: on-chip SRAM buffers and DRAM.

The arrays are measured at gate level (:mod:`synth.energy`); the buffers are memory macros that
the OSU 0.18 um library cannot build (no memory compiler), and DRAM is off chip. This module
turns *access counts* into energy with documented figures, so that the accelerator's measured
counts (its performance counters, or a simulation of the top level) can be plugged in:

    counts = AccessCounts(dram_read_bits=..., dram_write_bits=...,
                          sram=[SramAccesses("w_buffer", capacity_bytes=6144, width_bits=32,
                                             reads=..., writes=...)])
    memory_energy(counts, dram_pj_per_bit=20.0)["total_pj"]

Figures and their sources
-------------------------
SRAM, per access, from M. Horowitz, "Computing's energy problem (and what we can do about it)",
ISSCC 2014 (45 nm, 0.9 V): a 64-bit read costs 10 pJ from an 8 KB SRAM, 20 pJ from 32 KB and
100 pJ from 1 MB (:data:`HOROWITZ_SRAM_64B_PJ`). Between those points the energy per bit is
interpolated linearly in log(capacity) against log(energy) and extrapolated the same way; a write
is taken to cost as much as a read (Horowitz gives reads only). To put the figures at the node of
our gate-level numbers (0.18 um, 1.8 V), they are scaled by ``C * V^2`` with the capacitance
proportional to the feature size: ``(180 / 45) * (1.8 / 0.9)^2 = 16`` (:data:`NODE_SCALE`). That
scaling is our assumption, not a measurement; it is stated with every result.

DRAM, per bit transferred, from the same paper (DDR3: 1.3-2.6 nJ per 64-bit access, i.e.
20-40 pJ/bit) and from M. O'Connor et al., "Fine-Grained DRAM: Energy-Efficient DRAM for Extreme
Bandwidth Systems", MICRO 2017 (HBM2: about 3.9 pJ/bit). DRAM energy is a property of the DRAM
and its interface, not of our logic node, so it is not scaled. Because it dominates decoding
(one token reads every weight once), every result is given over a sweep of the figure
(:data:`DRAM_SWEEP_PJ_PER_BIT`).

Offline SRAM models from PyPI were tried: ``hwcomponents-cacti`` (CACTI through the Accelergy
plug-in) requires Python >= 3.12 (the project's virtualenv is 3.11); OpenRAM needs a SPICE
simulator and a technology setup to characterise a macro. Neither is used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

# (capacity in bytes, pJ per 64-bit read) at 45 nm, 0.9 V (Horowitz, ISSCC 2014)
HOROWITZ_SRAM_64B_PJ = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))
HOROWITZ_NODE = {"feature_nm": 45.0, "voltage": 0.9}
OSU018_NODE = {"feature_nm": 180.0, "voltage": 1.8}


def node_scale(frm=HOROWITZ_NODE, to=OSU018_NODE) -> float:
    """C * V^2 scaling with the capacitance proportional to the feature size (an assumption)."""
    return (to["feature_nm"] / frm["feature_nm"]) * (to["voltage"] / frm["voltage"]) ** 2


NODE_SCALE = node_scale()          # 16 from 45 nm / 0.9 V to 0.18 um / 1.8 V
# DRAM pJ per bit: HBM2 (O'Connor et al. 2017), LPDDR-class, DDR3 range (Horowitz 2014)
DRAM_SWEEP_PJ_PER_BIT = (2.0, 4.0, 10.0, 20.0, 40.0)
DRAM_SOURCES = {
    4.0: "HBM2, about 3.9 pJ/bit (O'Connor et al., MICRO 2017)",
    20.0: "DDR3, 1.3 nJ per 64-bit access (Horowitz, ISSCC 2014)",
    40.0: "DDR3, 2.6 nJ per 64-bit access (Horowitz, ISSCC 2014)",
}


def sram_pj_per_bit(capacity_bytes: int, scale: float = NODE_SCALE) -> float:
    """Energy of one bit read from (or written to) an SRAM of ``capacity_bytes``: Horowitz's
    45 nm figures interpolated in log-log, times ``scale`` (1.0 for 45 nm itself)."""
    if not isinstance(capacity_bytes, (int, float)) or capacity_bytes <= 0:
        raise ValueError(f"capacity_bytes must be positive, not {capacity_bytes!r}")
    pts = [(math.log(c), math.log(e / 64.0)) for c, e in HOROWITZ_SRAM_64B_PJ]
    x = math.log(capacity_bytes)
    (x0, y0), (x1, y1) = (pts[0], pts[1]) if x <= pts[1][0] else (pts[1], pts[2])
    y = y0 + (x - x0) * (y1 - y0) / (x1 - x0)
    return math.exp(y) * scale


@dataclass(frozen=True)
class SramAccesses:
    """Accesses of one buffer: ``reads`` and ``writes`` of ``width_bits`` each."""
    name: str
    capacity_bytes: int
    width_bits: int
    reads: int = 0
    writes: int = 0

    def __post_init__(self):
        for f in ("capacity_bytes", "width_bits"):
            if getattr(self, f) <= 0:
                raise ValueError(f"{self.name}: {f} must be positive, not {getattr(self, f)}")
        for f in ("reads", "writes"):
            if getattr(self, f) < 0:
                raise ValueError(f"{self.name}: {f} must be >= 0, not {getattr(self, f)}")


@dataclass(frozen=True)
class AccessCounts:
    """What one run (a layer, a token) moved: DRAM bits and the accesses of each buffer."""
    dram_read_bits: int = 0
    dram_write_bits: int = 0
    sram: tuple = field(default_factory=tuple)


def memory_energy(counts: AccessCounts, dram_pj_per_bit: float, scale: float = NODE_SCALE) -> dict:
    """Energy in pJ of ``counts``: DRAM at ``dram_pj_per_bit``, each buffer at
    :func:`sram_pj_per_bit` of its capacity (scaled by ``scale``)."""
    if dram_pj_per_bit < 0:
        raise ValueError(f"dram_pj_per_bit must be >= 0, not {dram_pj_per_bit}")
    dram = (counts.dram_read_bits + counts.dram_write_bits) * dram_pj_per_bit
    per_buffer = {}
    for s in counts.sram:
        per_buffer[s.name] = (s.reads + s.writes) * s.width_bits * sram_pj_per_bit(s.capacity_bytes, scale)
    sram = sum(per_buffer.values())
    return {"dram_pj": dram, "sram_pj": sram, "sram_by_buffer_pj": per_buffer, "total_pj": dram + sram,
            "dram_pj_per_bit": dram_pj_per_bit, "sram_node_scale": scale}


def layer_counts(n: int, k: int, m: int, *, weight_bits: float, rows: int, cols: int,
                 act_bits: int = 8, out_bits: int = 32, buffers: dict | None = None) -> AccessCounts:
    """Access counts of one ``N x K`` linear layer on ``M`` tokens in a weight-stationary
    schedule: every weight is read from DRAM once (``weight_bits`` per weight: 8/3 for FineQ's
    cluster bytes, 8 for INT8), written to the weight buffer and read from it once into the array;
    the ``M x K`` activations are read from DRAM once, written to the activation buffer once and
    read once per column block (``ceil(N / cols)`` times); the ``M x N`` results (``out_bits``)
    are accumulated over ``ceil(K / rows)`` K tiles in the accumulator buffer (one read and one
    write per tile after the first) and written to DRAM once.

    This is a model of the schedule, to be replaced by the accelerator's measured counts;
    ``buffers`` gives each buffer's ``(capacity_bytes, width_bits)`` (defaults: 32-bit words of a
    6 KiB weight buffer, a 24 KiB activation buffer and a 2 KiB accumulator)."""
    for name, v in (("n", n), ("k", k), ("m", m), ("rows", rows), ("cols", cols)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, not {v!r}")
    b = {"w_buffer": (6 * 1024, 32), "x_buffer": (24 * 1024, 32), "acc_buffer": (2 * 1024, 32)}
    b.update(buffers or {})
    w_bits = n * k * weight_bits
    x_bits = m * k * act_bits
    col_blocks, k_tiles = -(-n // cols), -(-k // rows)
    y_bits = m * n * out_bits

    def words(bits, buf):
        return math.ceil(bits / b[buf][1])

    sram = (
        SramAccesses("w_buffer", b["w_buffer"][0], b["w_buffer"][1],
                     reads=words(w_bits, "w_buffer"), writes=words(w_bits, "w_buffer")),
        SramAccesses("x_buffer", b["x_buffer"][0], b["x_buffer"][1],
                     reads=col_blocks * words(x_bits, "x_buffer"), writes=words(x_bits, "x_buffer")),
        SramAccesses("acc_buffer", b["acc_buffer"][0], b["acc_buffer"][1],
                     reads=(k_tiles - 1) * words(y_bits, "acc_buffer"),
                     writes=k_tiles * words(y_bits, "acc_buffer")),
    )
    return AccessCounts(dram_read_bits=math.ceil(w_bits) + x_bits, dram_write_bits=y_bits, sram=sram)


def per_token(logic_pj: float, counts: AccessCounts, tokens: int, dram_pj_per_bit: float,
              scale: float = NODE_SCALE) -> dict:
    """Energy per token: the gate-level logic energy of the run plus its memory energy, over
    ``tokens``."""
    if tokens < 1:
        raise ValueError(f"tokens must be >= 1, not {tokens}")
    mem = memory_energy(counts, dram_pj_per_bit, scale)
    return {"logic_pj_per_token": logic_pj / tokens, "dram_pj_per_token": mem["dram_pj"] / tokens,
            "sram_pj_per_token": mem["sram_pj"] / tokens,
            "total_pj_per_token": (logic_pj + mem["total_pj"]) / tokens, "dram_pj_per_bit": dram_pj_per_bit}


def dram_sweep(fineq: tuple, baseline: tuple, tokens: int,
               figures=DRAM_SWEEP_PJ_PER_BIT, scale: float = NODE_SCALE) -> list[dict]:
    """FineQ against a baseline over DRAM figures. ``fineq`` and ``baseline`` are
    ``(logic_pj, AccessCounts)`` of the same run; each row has both per-token energies and the
    efficiency (baseline energy over FineQ energy)."""
    rows = []
    for e in figures:
        f = per_token(fineq[0], fineq[1], tokens, e, scale)
        b = per_token(baseline[0], baseline[1], tokens, e, scale)
        rows.append({"dram_pj_per_bit": e, "fineq": f, "baseline": b,
                     "efficiency": b["total_pj_per_token"] / f["total_pj_per_token"],
                     "source": DRAM_SOURCES.get(e)})
    return rows


def array_layer_estimate(fineq_pj_per_mac: float, baseline_pj_per_mac: float, n: int, k: int,
                         tokens, rows: int, cols: int, *, fineq_bits: float = 8 / 3,
                         baseline_bits: float = 8.0, figures=DRAM_SWEEP_PJ_PER_BIT,
                         scale: float = NODE_SCALE) -> list[dict]:
    """A first look at energy per token before the whole accelerator can be simulated: the
    arrays' measured pJ/MAC times the layer's MACs, plus :func:`layer_counts` of the
    weight-stationary schedule at each DRAM figure, for each token count. Leaves out everything
    the top level adds (controller, DMA, vector unit, buffers' periphery beyond the per-access
    figure), so it is labelled an estimate wherever it is shown."""
    out = []
    for m in tokens:
        logic_f = fineq_pj_per_mac * n * k * m
        logic_b = baseline_pj_per_mac * n * k * m
        cf = layer_counts(n, k, m, weight_bits=fineq_bits, rows=rows, cols=cols)
        cb = layer_counts(n, k, m, weight_bits=baseline_bits, rows=rows, cols=cols)
        for row in dram_sweep((logic_f, cf), (logic_b, cb), m, figures, scale):
            out.append({"tokens": m, **row})
    return out
