"""synth.memory: the documented memory model turns access counts into energy (hand-checked
figures), and the per-token comparison behaves as its arithmetic says it must."""
import math

import pytest

from synth import memory as M


def test_sram_figures_are_horowitz_scaled_to_the_node():
    # 45 nm: 10 pJ per 64-bit read of an 8 KB SRAM, 20 pJ of 32 KB, 100 pJ of 1 MB
    assert M.sram_pj_per_bit(8 * 1024, scale=1.0) == pytest.approx(10 / 64)
    assert M.sram_pj_per_bit(32 * 1024, scale=1.0) == pytest.approx(20 / 64)
    assert M.sram_pj_per_bit(1024 * 1024, scale=1.0) == pytest.approx(100 / 64)
    # log-log halfway between 8 KB and 32 KB (16 KB): the geometric mean
    assert M.sram_pj_per_bit(16 * 1024, scale=1.0) == pytest.approx(math.sqrt(10 * 20) / 64)
    # 0.18 um, 1.8 V: C (x4) times V^2 (x4)
    assert M.NODE_SCALE == pytest.approx(16.0)
    assert M.sram_pj_per_bit(8 * 1024) == pytest.approx(2.5)
    # smaller buffers cost less per bit, larger more (extrapolated the same way)
    assert M.sram_pj_per_bit(2 * 1024) < M.sram_pj_per_bit(8 * 1024) < M.sram_pj_per_bit(2 ** 22)
    with pytest.raises(ValueError, match="capacity_bytes must be positive"):
        M.sram_pj_per_bit(0)


def test_memory_energy_adds_dram_and_buffers():
    c = M.AccessCounts(dram_read_bits=1000, dram_write_bits=24, sram=(
        M.SramAccesses("w", 8 * 1024, 32, reads=10, writes=5),
        M.SramAccesses("x", 32 * 1024, 64, reads=2)))
    e = M.memory_energy(c, dram_pj_per_bit=20.0, scale=1.0)
    assert e["dram_pj"] == pytest.approx(1024 * 20.0)
    assert e["sram_by_buffer_pj"]["w"] == pytest.approx(15 * 32 * 10 / 64)
    assert e["sram_by_buffer_pj"]["x"] == pytest.approx(2 * 20.0)
    assert e["total_pj"] == pytest.approx(e["dram_pj"] + e["sram_pj"])
    with pytest.raises(ValueError, match="dram_pj_per_bit"):
        M.memory_energy(c, -1.0)
    with pytest.raises(ValueError, match="reads must be >= 0"):
        M.SramAccesses("bad", 1024, 8, reads=-1)


def test_layer_counts_of_the_weight_stationary_schedule():
    c = M.layer_counts(24, 12, 4, weight_bits=8 / 3, rows=12, cols=12)
    assert c.dram_read_bits == math.ceil(24 * 12 * 8 / 3) + 4 * 12 * 8
    assert c.dram_write_bits == 4 * 24 * 32
    bufs = {s.name: s for s in c.sram}
    assert bufs["w_buffer"].reads == bufs["w_buffer"].writes == math.ceil(24 * 12 * 8 / 3 / 32)
    assert bufs["x_buffer"].reads == 2 * bufs["x_buffer"].writes   # two column blocks
    assert bufs["acc_buffer"].reads == 0                             # one K tile: no read back
    with pytest.raises(ValueError, match="m must be a positive integer"):
        M.layer_counts(24, 12, 0, weight_bits=8, rows=12, cols=12)


def test_decode_efficiency_tends_to_the_weight_bits_ratio():
    """One token (decode): as DRAM gets expensive the comparison tends to the ratio of weight
    bits fetched (8 against 8/3 = 3x, less the activations both read); with free DRAM it is the
    logic's ratio."""
    n, k = 384, 384
    f = M.layer_counts(n, k, 1, weight_bits=8 / 3, rows=12, cols=12)
    b = M.layer_counts(n, k, 1, weight_bits=8, rows=12, cols=12)
    macs = n * k
    rows = M.dram_sweep((macs * 10.0, f), (macs * 20.0, b), tokens=1, figures=(0.0, 4.0, 1e6),
                        scale=0.0)
    assert rows[0]["efficiency"] == pytest.approx(2.0)
    assert 2.0 < rows[1]["efficiency"] < rows[2]["efficiency"] < 3.0
    bits_f = f.dram_read_bits + f.dram_write_bits
    bits_b = b.dram_read_bits + b.dram_write_bits
    assert rows[2]["efficiency"] == pytest.approx(bits_b / bits_f, rel=1e-3)
    assert rows[1]["source"].startswith("HBM2")
