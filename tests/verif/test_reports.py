"""The Markdown pages of verif's reports: a verdict sentence, and a legend line for every metric column."""

import re

from verif import bench, top_perf

NAMES = {"array", "sim", "layer"}  # columns that name a row rather than measure it


def row(**over):
    r = {"array": "fineq", "simulator": "icarus", "vectors": 8, "beat": 2, "tile_cycles": 28, "tile_formula": 28,
         "tile_ideal": 16, "tile_macs": 384, "block_tiles": 4, "block_cycles": 90, "block_sum_of_tile_formulas": 112,
         "block_mean_beat": 2.25, "sim_cycles_per_cpu_second": 1000.0, "sim_cycles_per_wall_second": 900.0}
    return {**r, **over}


def columns(md: str) -> list[str]:
    header = next(line for line in md.splitlines() if line.startswith("| "))
    return [c.strip() for c in header.strip("|").split("|")]


def legend_names(md: str) -> set[str]:
    return set(re.findall(r"^- `([^`]+)`: .*(?:is better\.|\(context, not a score\)\.|must be 0.*)$", md, re.M))


def test_hdl_bench_page():
    report = {"config": {"name": "tiny", "rows": 6, "cols": 8}, "layer": "L", "model": "M", "date": "d",
              "formula": "T = C + M * P + 4", "results": [row(), row(array="mac8x8", tile_cycles=20, tile_formula=21)]}
    md = bench.render(report)
    assert "1 of 2 lone tiles differ from the schedule's formula" in md
    assert set(columns(md)) - NAMES <= legend_names(md)


def test_perf_page():
    rec = {"layer": "minilm", "kind": "fineq", "bus_bits": 32, "m": 8, "cycles": 1000, "ideal_cycles": 900,
           "bound": "compute", "roofline_efficiency": 0.9, "dataflow_efficiency": 0.95, "model_cycles": 1010, "model_error": 0.01,
           "utilization": 0.25, "mismatches": 0, "outputs": 100}
    twin = {**rec, "kind": "mac8x8", "cycles": 2000}
    md = top_perf.markdown([rec, twin], "default", None)
    assert md.splitlines()[2] == top_perf.verdict([rec, twin])
    tables = [block for block in md.split("\n\n") if block.startswith("| ")]
    assert len(tables) == 2 and "2.00x" in tables[1]
    for table in tables:
        assert set(columns(table)) - NAMES - {"FineQ cycles", "INT8 cycles"} <= legend_names(md)
