"""cocotb: the AXI traffic of accelerator jobs, counted on the bus (for synth/job_counts.py).

For every job of ``FINEQ_TB_JOBS`` (run as in verif/tb_top.py, without pauses, outputs checked
bit-exact) a monitor samples the AXI4 manager port every cycle and counts: read beats
requested (``arlen + 1`` per AR handshake), by the image region their address falls in
(weights, activations, requantization words), read beats received (R handshakes), write beats
(W handshakes) and the bytes with their ``wstrb`` bit set. ``FINEQ_TB_RESULTS`` gets a JSON list
with those counts and the job's counters.
"""

import copy
import json
import os

import cocotb
from cocotb.triggers import RisingEdge

from verif.tb_top import setup


class AxiTraffic:
    """Counts of the manager port while ``regions`` (name -> (start, end)) are set."""

    def __init__(self, dut):
        self.dut = dut
        self.regions = {}
        self.reset()

    def reset(self):
        self.counts = {"ar_beats": {}, "r_beats": 0, "w_beats": 0, "w_strobe_bytes": 0,
                       "ar_bursts": 0, "aw_bursts": 0, "aw_beats": 0}

    def region(self, addr: int) -> str:
        for name, (lo, hi) in self.regions.items():
            if lo <= addr < hi:
                return name
        return "other"

    async def run(self):
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            c = self.counts  # reset() swaps in a new dict between jobs
            if int(d.m_axi__arvalid.value) and int(d.m_axi__arready.value):
                name = self.region(int(d.m_axi__araddr.value))
                c["ar_beats"][name] = c["ar_beats"].get(name, 0) + int(d.m_axi__arlen.value) + 1
                c["ar_bursts"] += 1
            if int(d.m_axi__rvalid.value) and int(d.m_axi__rready.value):
                c["r_beats"] += 1
            if int(d.m_axi__awvalid.value) and int(d.m_axi__awready.value):
                c["aw_bursts"] += 1
                c["aw_beats"] += int(d.m_axi__awlen.value) + 1
            if int(d.m_axi__wvalid.value) and int(d.m_axi__wready.value):
                c["w_beats"] += 1
                c["w_strobe_bytes"] += int(d.m_axi__wstrb.value).bit_count()


@cocotb.test()
async def count_traffic(dut):
    """Every job once, no pauses, bit-exact; the AXI beats of each."""
    bench = await setup(dut, 0.0, "traffic")
    from verif.tb_top import load_jobs

    monitor = AxiTraffic(dut)
    cocotb.start_soon(monitor.run())
    results = []
    base = 0x1000  # every job's image replaces the last one's (the memory is 1 MiB)
    for job in load_jobs(bench.cfg, bench.rng):
        image = bench.image(job, base=base)
        ends = [image.x_addr, image.p_addr or image.y_addr, image.y_addr]
        monitor.regions = {"weights": (image.w_addr, ends[0]),
                           "activations": (image.x_addr, ends[1]),
                           "params": (image.p_addr, image.y_addr) if image.p_addr else (0, 0)}
        monitor.reset()
        r = await bench.run_job(job, base=base)
        await RisingEdge(dut.clk)
        results.append({**r, **copy.deepcopy(monitor.counts)})
        dut._log.info("%s: %s", job.name, monitor.counts)
    out = os.environ.get("FINEQ_TB_RESULTS")
    if out:
        _write_results(out, results)


def _write_results(path: str, results: list) -> None:
    with open(path, "w") as f:
        json.dump({"jobs": results}, f, indent=2)
