"""synth.job_counts and synth.token_energy: the counts of a job against figures derived another
way (the image builder's bytes, the bit ratio of the weight formats, the AXI words a simulated
top level moves), and the energy arithmetic (DRAM linear in its figure, every part scaled by
its own count)."""
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.hdl import Fragment, MemoryInstance, Shape

from hdl.datapath.config import ArrayKind
from hdl.soc.accel_config import accel_preset
from hdl.soc.top import Accelerator
from hdl.sw.image import build_image
from quant.core.format import unpack_clusters
from synth.job_counts import job_counts
from synth.token_energy import _check_args, compare_traffic, job_energy, main, rtl_traffic
from verif.top_jobs import random_job


@dataclass
class Rates:
    busy_cycle_pj: float = 7.0
    tile_pj: float = 110.0
    idle_cycle_pj: float = 0.5


def _job(seed=3, m=11, k=30, n=17, group=0):
    return random_job(np.random.default_rng(seed), m, k, n, name="small", group=group)


def test_dram_bits_are_the_image_builders_bytes_and_linear_in_the_figure():
    cfg = accel_preset("tiny")
    job = _job(n=2 * cfg.cols)   # whole blocks: the parameter region is 8 bytes per channel
    m, k, n = job.shape
    q = unpack_clusters(job.clusters, k)
    c = job_counts(q, m, cfg)
    img = build_image(job.clusters, k, job.x, job.rq, cfg, base=0, align=cfg.bus_bytes)
    w_bytes, x_bytes, p_bytes = img.x_addr - img.w_addr, img.p_addr - img.x_addr, img.y_addr - img.p_addr
    chunks = -(-m // cfg.chunk_m)
    # the weight image and the parameters stream once per chunk of tokens, activations once
    assert c.dram_read_bits == 8 * (chunks * (w_bytes + p_bytes) + x_bytes)
    assert c.dram_write_bits == 8 * m * n
    a, b = job_energy(c, Rates(), 2.0, 10.0), job_energy(c, Rates(), 2.0, 20.0)
    bits = c.dram_read_bits + c.dram_write_bits
    assert b["total_pj"] - a["total_pj"] == pytest.approx(bits * 10.0)
    assert b["parts_pj"]["sram"] == a["parts_pj"]["sram"]
    # the array and vector-unit parts are their counts times the measured energies
    assert a["parts_pj"]["array_tiles"] == pytest.approx(c.tile_loads * 110.0)
    assert a["parts_pj"]["array_busy"] == pytest.approx(c.busy_cycles * 7.0)
    assert a["parts_pj"]["vector_unit"] == pytest.approx(m * n * 2.0)
    assert c.tile_loads == chunks * -(-n // cfg.cols) * -(-k // cfg.rows)


def test_fineq_moves_a_third_of_the_int8_weight_bytes_plus_its_group_factors():
    cfg = accel_preset("tiny")
    rows, cols = cfg.rows, cfg.cols
    job = _job(m=1, k=8 * rows, n=3 * cols)   # no padding: whole tiles
    q = unpack_clusters(job.clusters, job.k)
    fq = job_counts(q, 1, cfg)
    i8 = job_counts(q, 1, replace(cfg, kind=ArrayKind.MAC8X8))
    assert 3 * fq.read_words["weights"] == i8.read_words["weights"]   # 8/3 bits against 8
    assert i8.read_words["weights"] * cfg.bus_bytes == job.k * 3 * cols
    # fineq-v2: one factor line (scale_beats words) per group of 2 tiles of each of 3 blocks
    g = job_counts(q, 1, cfg, group=2 * rows)
    assert g.read_words["weights"] - fq.read_words["weights"] == 3 * 4 * cfg.scale_beats
    # beats: FineQ pulses |q| per weight, the MAC array one cycle per vector
    assert fq.pulses == int(np.abs(q).sum()) and i8.busy_cycles == 3 * 8


def _memories(fragment, path=""):
    """(hierarchical name, word bits, depth) of every memory in an elaborated design."""
    if isinstance(fragment, MemoryInstance):
        memory = fragment._data   # MemoryData; Amaranth 0.5 has no public accessor
        yield path, Shape.cast(memory.shape).width, memory.depth
    for sub, name, *_ in fragment.subfragments:
        yield from _memories(sub, f"{path}.{name}")


@pytest.mark.parametrize("preset", ["tiny", "default"])
def test_modelled_buffers_are_the_memories_of_the_elaborated_top(preset):
    cfg = accel_preset(preset)
    rtl = {name: (bits, depth) for name, bits, depth in _memories(Fragment.get(Accelerator(cfg), None))}
    job = _job(m=2, k=3 * cfg.rows, n=2 * cfg.cols)
    modelled = {b.name: b for b in job_counts(unpack_clusters(job.clusters, job.k), 2, cfg, group=cfg.rows).sram}
    # the model's buffer -> the RTL memories it stands for (a buffered FIFO keeps one word in its
    # output register, so its storage is one word shallower than the FIFO)
    where = {"weight_fifo": ([".weights.fifo.storage"], 1), "factor_fifo": ([".weights.scales.storage"], 1),
             "activation_buffer": ([".activations.mem"], 0),
             "accumulator": ([".accumulator.set0", ".accumulator.set1"], 0),   # one set each
             "result_queue": ([".array_out.queue.storage"], 1)}
    for name, (mems, in_register) in where.items():
        b = modelled[name]
        for mem in mems:
            bits, depth = rtl[mem]
            assert b.width_bits == bits, (name, mem)
            assert b.capacity_bytes * 8 == (depth + in_register) * bits, (name, mem)


def test_bad_arguments_exit_2_without_output(tmp_path, capsys):
    assert main(["--layers", "nope", "--out", str(tmp_path)]) == 2
    assert "error: unknown layer" in capsys.readouterr().err
    assert main(["--tokens", "0", "--out", str(tmp_path)]) == 2
    assert main(["--kinds", "fineq", "--out", str(tmp_path)]) == 2
    assert "must include mac8x8" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_layers_whose_vectors_are_not_written_yet_are_accepted(tmp_path, monkeypatch):
    # they are written on demand under build/vectors/, as verif.top_perf does; a check for the
    # bare file name in the working folder refused every layer of a fresh clone
    monkeypatch.chdir(tmp_path)
    args = SimpleNamespace(layers=["gemma-down", "minilm"], tokens=[1], bus=4, dram=[20.0],
                           kinds=["fineq", "mac8x8"])
    assert _check_args(args) is None


def test_a_layer_whose_vectors_cannot_be_written_exits_2_before_any_run(tmp_path, monkeypatch, capsys):
    def no_model(name):
        raise RuntimeError("`quant vectors --model gemma3-270m` failed (1): the model is not installed")
    monkeypatch.setattr("synth.token_energy.layer_q", no_model)
    monkeypatch.setattr("synth.gate_rates.array_rates", lambda *a: pytest.fail("gate-level runs started"))
    assert main(["--layers", "gemma-down", "--out", str(tmp_path)]) == 2
    assert "error: the golden vectors of gemma-down could not be written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", [ArrayKind.FINEQ, ArrayKind.MAC8X8])
def test_counts_match_the_axi_traffic_of_a_simulated_top_level(kind, tmp_path):
    cfg = accel_preset("tiny", kind=kind)
    rng = np.random.default_rng(5)
    jobs = [random_job(rng, 1, 30, 17, name="decode"), random_job(rng, 11, 19, 9, name="chunks"),
            random_job(rng, 3, 48, 10, name="groups", group=2 * cfg.rows)]
    if kind is ArrayKind.MAC8X8:
        for j in jobs:
            j.factors, j.group = None, 0
    measured = rtl_traffic(cfg, jobs, tmp_path, sim="verilator")   # the builds the other tests make
    for j, r in zip(jobs, measured, strict=True):
        q = j.w8.astype(np.int64) if kind is ArrayKind.MAC8X8 else unpack_clusters(j.clusters, j.k)
        c = job_counts(q, j.x.shape[0], cfg, group=j.group if j.factors is not None else 0)
        cmp = compare_traffic(c, r)
        assert r["mismatches"] == 0
        assert cmp["exact"], (j.name, cmp["fields"])
        assert cmp["other_reads"] == 0
        # the array's beats: the RTL's BUSY_CYCLES also counts beats stalled by the accumulator
        assert r["busy_cycles"] >= c.busy_cycles
        assert abs(cmp["cycle_error"]) < 0.15


def test_compare_traffic_reports_a_difference():
    c = SimpleNamespace(read_words={"weights": 4, "activations": 2, "params": 2}, write_words=1,
                        write_bytes=3, cycles=100, busy_cycles=10)
    measured = {"ar_beats": {"weights": 5, "activations": 2, "params": 2}, "r_beats": 9,
                "w_beats": 1, "w_strobe_bytes": 3, "cycles": 100, "busy_cycles": 10}
    assert not compare_traffic(c, measured)["exact"]
