"""cocotb: the whole accelerator (top.v) with cocotbext-axi as memory and host.

The memory the DMA reads and writes is cocotbext-axi's ``AxiRam``; the host is its
``AxiLiteMaster`` driven through the register-level driver (hdl/sw/driver.py); the memory image
comes from hdl/sw/image.py; every output is compared with quant.core.golden, bit-exact. Random idle
cycles and back-pressure (cocotbext-axi pause generators) act on all five AXI4 channels and all
five AXI4-Lite channels.

The build's array kind and bus width come from its CAPS register; INT8 x INT8 builds get
INT8 weights (the decoded FineQ codes of a job, or its own ``w8``).

Environment (set by verif/test_sim_top.py, the demo and the benchmark):

    FINEQ_TB_CONFIG    preset name (must match the Verilog; checked against GEOMETRY/MAX_*)
    FINEQ_TB_JOBS      .npz of jobs (verif.top_jobs.jobs_to_npz); random jobs when unset
    FINEQ_TB_PAUSE     probability of an idle / back-pressure burst per cycle (default 0.3)
    FINEQ_TB_RESULTS   .json to write per-job cycles, counters, mismatches and wall time to
"""

import json
import logging
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from hdl.datapath.config import ArrayKind
from hdl.soc.accel_config import KIND_CODES, accel_preset
from hdl.soc.regmap import ErrorCode
from hdl.sw.driver import REG, Driver
from hdl.sw.image import build_image
from verif.cocotb_tb import random_pause, start_clock, tb_rng
from verif.top_jobs import jobs_from_npz, random_job

RAM_SIZE = 1 << 24  # 16 MiB (allocated sparsely): whole Gemma layers with 256 tokens fit
# AxiRam wraps addresses modulo its size; accesses at or above FAULT_BASE answer SLVERR instead,
# standing for an unmapped region of the SoC.
FAULT_BASE = 0x8000_0000
CLOCK_NS = 10


class TopBench:
    def __init__(self, dut, pause: float, rng):
        self.dut = dut
        self.preset = os.environ.get("FINEQ_TB_CONFIG", "tiny")
        self.cfg = accel_preset(self.preset)  # kind and bus width: from CAPS in setup()
        for name in ("cocotb.top.m_axi_", "cocotb.top.s_axil_", "cocotb.top"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.ram = AxiRam(AxiBus.from_prefix(dut, "m_axi_"), dut.clk, dut.rst, size=RAM_SIZE)
        self._fault_window(self.ram)
        self.host = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil_"), dut.clk, dut.rst)
        for log in (self.ram.write_if.log, self.ram.read_if.log, self.host.write_if.log,
                    self.host.read_if.log):
            log.setLevel(logging.WARNING)
        if pause:
            channels = [self.ram.write_if.aw_channel, self.ram.write_if.w_channel,
                        self.ram.write_if.b_channel, self.ram.read_if.ar_channel,
                        self.ram.read_if.r_channel, self.host.write_if.aw_channel,
                        self.host.write_if.w_channel, self.host.write_if.b_channel,
                        self.host.read_if.ar_channel, self.host.read_if.r_channel]
            for ch in channels:
                ch.set_pause_generator(random_pause(rng, pause))
        self.driver = Driver(self.read32, self.write32)
        self.rng = rng

    @staticmethod
    def _fault_window(ram):
        read, write = ram.read_if._read, ram.write_if._write

        async def faulty_read(address, length):
            if address >= FAULT_BASE:
                raise IndexError(f"read of unmapped address 0x{address:08x}")
            return await read(address, length)

        async def faulty_write(address, data):
            if address >= FAULT_BASE:
                raise IndexError(f"write to unmapped address 0x{address:08x}")
            return await write(address, data)

        ram.read_if._read, ram.write_if._write = faulty_read, faulty_write

    async def read32(self, offset: int) -> int:
        resp = await self.host.read(offset, 4)
        return int.from_bytes(resp.data, "little")

    async def write32(self, offset: int, value: int) -> None:
        await self.host.write(offset, int(value).to_bytes(4, "little"))

    async def write_resp(self, offset: int, value: int) -> int:
        resp = await self.host.write(offset, int(value).to_bytes(4, "little"))
        return int(resp.resp)

    async def reset(self, cycles: int = 3):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def irq_waiter(self, limit: int):
        """Wait for the interrupt without waking Python every cycle (the simulator runs at full
        speed meanwhile); fail after ``limit`` cycles."""
        async def wait():
            if int(self.dut.irq.value):
                return
            timeout = Timer(limit * CLOCK_NS, unit="ns")
            fired = await First(RisingEdge(self.dut.irq), timeout)
            if fired is timeout:
                raise AssertionError(f"no interrupt within {limit} cycles (hang?)")
        return wait

    def cycle_limit(self, m: int, k: int, n: int) -> int:
        """Far above any legal job's cycles (pauses included): a job beyond it hangs."""
        cfg = self.cfg
        kt, nb = -(-k // cfg.rows), -(-n // cfg.cols)
        chunks = -(-m // cfg.chunk_m)
        tile = cfg.chunk_m * cfg.array.code_length + cfg.line_beats + 40
        return 20 * (chunks * nb * (kt * tile + cfg.chunk_m * (cfg.cols + 40)) + m * k + 2000)

    def image(self, job, **kw):
        grouped = job.factors is not None and self.cfg.group_scales
        return build_image(job_weights(job, self.cfg), job.k, job.x, job.rq, self.cfg,
                           factors=job.factors if grouped else None,
                           group=job.group if grouped else 0, **kw)

    async def run_job(self, job, *, base: int = 0x1000, align: int = 64, check: bool = True):
        m, k, n = job.shape
        image = self.image(job, base=base, align=align)
        self.ram.write(image.base, image.data)
        poison = bytes([0xA5]) * image.y_bytes
        self.ram.write(image.y_addr, poison)
        t0 = time.perf_counter()
        st = await self.driver.run(image, irq_event=self.irq_waiter(self.cycle_limit(m, k, n)))
        wall = time.perf_counter() - t0
        raw = self.ram.read(image.y_addr, image.y_bytes)
        got = image.decode_results(raw)
        want = image.expected
        mismatches = int(np.count_nonzero(got != want))
        if not image.bypass:
            # Padding bytes of every output row must be left untouched (byte strobes).
            rows = np.frombuffer(raw, dtype=np.uint8).reshape(m, image.y_stride)
            untouched = rows[:, n:]
            assert (untouched == 0xA5).all(), f"{job.name}: padding bytes of Y rows were written"
        if mismatches:
            self.dut._log.info("got\n%s\nwant\n%s", got, want)
        if mismatches and check:
            mm, nn = (int(i) for i in np.argwhere(got != want)[0])
            q = job_weights(job, self.cfg, decoded=True)  # (group factors not shown)
            acc = int(np.dot(job.x[mm].astype(np.int64), q[nn].astype(np.int64)))
            extra = ("" if job.rq is None else
                     f", bias {int(job.rq.bias[nn])}, mult {int(job.rq.mult[nn])}, "
                     f"shift {int(job.rq.shift[nn])}")
            raise AssertionError(
                f"{job.name} (M={m}, K={k}, N={n}): {mismatches} mismatches; first at y[{mm}, {nn}]: "
                f"got {int(got[mm, nn])}, golden {int(want[mm, nn])}\n"
                f"  exact sum {acc}{extra}\n  x[{mm}, :16] = {job.x[mm, :16].tolist()}\n"
                f"  q[{nn}, :16] = {q[nn, :16].tolist()}")
        return {"name": job.name, "m": m, "k": k, "n": n, "bypass": image.bypass,
                "mismatches": mismatches, "cycles": st.cycles, "busy_cycles": st.busy_cycles,
                "stall_cycles": st.stall_cycles, "wall_s": wall}


def job_weights(job, cfg, *, decoded: bool = False):
    """The job's weights as the build takes them: cluster bytes, or INT8 weights for an INT8 x
    INT8 build (``job.w8`` if the job has its own, else its decoded FineQ codes); ``decoded``:
    the integer weights [N, K] either way."""
    from quant.core.format import unpack_clusters

    if cfg.kind is not ArrayKind.MAC8X8:
        return unpack_clusters(job.clusters, job.k) if decoded else job.clusters
    w8 = job.w8 if job.w8 is not None else unpack_clusters(job.clusters, job.k).astype(np.int8)
    return w8.astype(np.int64) if decoded else w8


def load_jobs(cfg, rng):
    path = os.environ.get("FINEQ_TB_JOBS")
    if path:
        return jobs_from_npz(path)
    g = np.random.default_rng(rng.getrandbits(32))
    rows, cols = cfg.rows, cfg.cols
    return [random_job(g, 3, 2 * rows + 1, cols + 1, name="random"),
            random_job(g, 2, rows, cols, bypass=True, name="random-int32"),
            random_job(g, 2 * cfg.chunk_m + 1, rows + 1, cols, name="random-chunks"),
            random_job(g, 3, 5 * rows + 2, cols + 1, name="random-groups", group=2 * rows)]


async def setup(dut, pause: float, salt: str):
    start_clock(dut)
    dut.rst.value = 1
    bench = TopBench(dut, pause, tb_rng(salt))
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    info = await bench.driver.identify()
    kind = {v: k for k, v in KIND_CODES.items()}[info["kind"]]
    cfg = bench.cfg = accel_preset(bench.preset, kind=kind, bus_bytes=info["bus_bytes"])
    want = {"rows": cfg.rows, "cols": cfg.cols, "max_m": cfg.max_m, "max_k": cfg.max_k,
            "max_n": cfg.max_n, "kind": KIND_CODES[cfg.kind],
            "adaptive": int(cfg.array.adaptive_phases), "code_length": cfg.array.code_length,
            "bus_bytes": cfg.bus_bytes, "chunk_m": cfg.chunk_m, "groups": int(cfg.group_scales)}
    assert info == want, f"capability registers {info} do not match config {cfg.name}: {want}"
    return bench


@cocotb.test()
async def run_jobs(dut):
    """Every job, bit-exact against quant.core.golden, under random AXI idle cycles and back-pressure."""
    pause = float(os.environ.get("FINEQ_TB_PAUSE", "0.3"))
    bench = await setup(dut, pause, "jobs")
    results = []
    for i, job in enumerate(load_jobs(bench.cfg, bench.rng)):
        # Odd jobs are packed tightly just below a 4 KiB line, so bursts must be split there.
        bus = bench.cfg.bus_bytes
        # Jobs take turns among seven 2 MiB regions of the memory.
        base = 0x1000 + 0x200000 * (i % 7) + (0x1000 - 3 * bus if i % 2 else 0)
        r = await bench.run_job(job, base=base, align=bus if i % 2 else 64)
        dut._log.info("%s: M=%d K=%d N=%d, %d cycles (%d computing, %d DMA stalls), "
                      "%d mismatches, %.1f s", r["name"], r["m"], r["k"], r["n"], r["cycles"],
                      r["busy_cycles"], r["stall_cycles"], r["mismatches"], r["wall_s"])
        results.append(r)
    out = os.environ.get("FINEQ_TB_RESULTS")
    if out:
        with open(out, "w") as f:
            json.dump({"pause": pause, "jobs": results}, f, indent=2)


async def expect_error(bench, registers: dict, code: ErrorCode, what: str):
    drv = bench.driver
    await drv.clear()
    await drv.program(registers)
    await drv.start()
    st = await drv.wait(irq_event=bench.irq_waiter(20000))
    assert st.done and st.error and st.code == code, f"{what}: status {st}, expected {code.name}"
    assert not st.busy, f"{what}: still busy after DONE"
    return st


@cocotb.test()
async def illegal_values_and_bus_errors(dut):
    """Zero sizes, sizes beyond the buffers, misaligned addresses, bad requantization words,
    AXI error responses and a start while busy: each sets its error code, never hangs, and a
    clean job afterwards is still bit-exact."""
    bench = await setup(dut, 0.2, "errors")
    cfg = bench.cfg
    g = np.random.default_rng(bench.rng.getrandbits(32))
    job = random_job(g, 2, cfg.rows + 2, cfg.cols + 1, name="clean")
    image = bench.image(job, base=0x1000)
    bench.ram.write(image.base, image.data)
    good = image.registers()
    cases = [
        ({"M": 0}, ErrorCode.ZERO_SIZE), ({"K": 0}, ErrorCode.ZERO_SIZE),
        ({"N": 0}, ErrorCode.ZERO_SIZE),
        ({"M": cfg.max_m + 1}, ErrorCode.M_TOO_LARGE), ({"M": 0xFFFFFFFF}, ErrorCode.M_TOO_LARGE),
        ({"K": cfg.max_k + 1}, ErrorCode.K_TOO_LARGE),
        ({"N": cfg.max_n + 1}, ErrorCode.N_TOO_LARGE),
        ({"X_ADDR": image.x_addr + 2}, ErrorCode.MISALIGNED),
        ({"Y_ADDR": image.y_addr + 1}, ErrorCode.MISALIGNED),
        ({"W_ADDR": image.w_addr + cfg.bus_bytes // 2}, ErrorCode.MISALIGNED),
        ({"M": 0, "K": cfg.max_k + 1, "X_ADDR": 2}, ErrorCode.ZERO_SIZE),  # the first check wins
        ({"W_ADDR": FAULT_BASE + 0x1000}, ErrorCode.AXI_READ),  # unmapped: SLVERR
        ({"X_ADDR": FAULT_BASE - cfg.bus_bytes}, ErrorCode.AXI_READ),  # the read runs into the hole
        ({"P_ADDR": FAULT_BASE + 64}, ErrorCode.AXI_READ),
        ({"Y_ADDR": FAULT_BASE + 0x2000}, ErrorCode.AXI_WRITE),
        ({"P_ADDR": image.x_addr}, ErrorCode.BAD_PARAMS),  # activations are not valid params
    ]
    for change, code in cases:
        await expect_error(bench, {**good, **change}, code, f"registers {change}")
        dut._log.info("%s -> %s", change, code.name)
    # Misaligned P_ADDR does not matter in bypass mode, but the others do.
    # A write to a read-only register and to an unmapped address: SLVERR, nothing changes.
    assert await bench.write_resp(REG["ID"], 0) == 2
    assert await bench.write_resp(0xFC, 0) == 2
    # Start while busy: a warning only, the running job completes exactly; CLEAR while busy is
    # ignored.
    await bench.driver.clear()
    await bench.driver.program(good)
    await bench.driver.start()
    await ClockCycles(dut.clk, 5)
    st = await bench.driver.status()
    assert st.busy, "job not running"
    assert await bench.write_resp(REG["M"], 1) == 2, "parameter write while busy not refused"
    await bench.driver.start()
    await bench.driver.clear()
    st = await bench.driver.wait(irq_event=bench.irq_waiter(200000))
    assert not st.error and st.code == ErrorCode.NONE and st.start_ignored, f"start while busy: {st}"
    got = image.decode_results(bench.ram.read(image.y_addr, image.y_bytes))
    assert np.array_equal(got, image.expected), "the job that saw a second start is wrong"
    # A rejected START resets the counters too.
    await expect_error(bench, {**good, "M": 0}, ErrorCode.ZERO_SIZE, "counters")
    assert (await bench.driver.status(counters=True)).cycles == 0, "CYCLES kept an old count"
    # Clear, then a clean run.
    await bench.driver.clear()
    st = await bench.driver.status()
    assert not st.done and not st.error and not st.start_ignored and not int(dut.irq.value), \
        f"CLEAR left {st}"
    r = await bench.run_job(job)
    assert r["mismatches"] == 0


@cocotb.test()
async def reset_in_the_middle(dut):
    """Reset while a job runs (at a random cycle, several times), then a clean job: bit-exact."""
    bench = await setup(dut, 0.2, "reset")
    cfg = bench.cfg
    g = np.random.default_rng(bench.rng.getrandbits(32))
    job = random_job(g, 3, 2 * cfg.rows + 1, 2 * cfg.cols + 1, name="after-reset")
    for trial in range(int(os.environ.get("FINEQ_TB_RESETS", "3"))):
        image = bench.image(job, base=0x1000)
        bench.ram.write(image.base, image.data)
        await bench.driver.clear()
        await bench.driver.program(image.registers())
        await bench.driver.start()
        await ClockCycles(dut.clk, bench.rng.randint(1, 1500))
        await bench.reset()
        st = await bench.driver.status(counters=True)
        assert not st.busy and not st.done and not st.error, f"reset left {st}"
        assert await bench.read32(REG["M"]) == 0, "reset did not clear the parameters"
        r = await bench.run_job(job)
        assert r["mismatches"] == 0
        dut._log.info("reset trial %d: clean run of %d cycles after the reset", trial, r["cycles"])
