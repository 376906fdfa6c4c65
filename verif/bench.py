"""Cycles per real tile and simulation speed of the three arrays (``python -m verif bench``).

For every array (FineQ, MAC 8x8, MAC 8x3) and simulator it streams, without idle cycles or
back-pressure, (a) one real tile alone and (b) every K tile of the first column block of the real
layer back to back, both bit-exact against the golden model, and reports

- the measured span of the lone tile, from its first weight beat to its last result beat,
  against the schedule's formula ``T = C + M * P + 4`` and the ideal ``M * P``
  (``R x C`` array, ``M`` vectors, beat ``P`` = max(1, max|q|) for FineQ, 1 for MAC);
- the cycles of the whole column block;
- simulation speed in cycles per second of the simulator process's CPU time (simulator plus
  cocotb testbench; robust on a shared machine) and of wall time, excluding the build.

Writes build/reports/hdl_bench.json (for scripts) and build/reports/hdl_bench.md (for people).
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from hdl.datapath.config import PRESETS, ArrayKind, preset
from quant.core import cli_policy, paths
from quant.core import markdown as md
from verif import simulate
from verif.vectors import ensure_vectors, layer_tiles, load_golden, tiles_to_npz

BENCH_VECTORS = "minilm-layer0-query-n24-t64.npz"  # under build/vectors/
BENCH_ARGS = ["--rows", "24", "--tokens", "64"]


def tile_formula(rows: int, cols: int, m: int, p: int) -> int:
    """Cycles from a tile's first weight beat to its last result beat, no pauses.

    Cycles 0 .. C-1 load the weight columns (one per cycle); vector 0 is taken in cycle C and
    one more every P cycles; a vector's result is valid P + 3 cycles after the cycle it was
    taken in (P cycles of pulses, two adder-tree stages, the output register); the count
    includes both end cycles. Rows and columns add no fill or drain.
    """
    return cols + m * p + 4


def beat_of(kind: ArrayKind, cfg, q: np.ndarray) -> int:
    return cfg.beat_length(kind, int(np.abs(q).max()))


def _run(sim, config, kind, tiles, workdir: Path, tag: str):
    from cocotb_tools.check_results import get_results

    tiles_path = tiles_to_npz(tiles, workdir / f"{tag}-tiles.npz")
    results = workdir / f"{tag}-results.npz"
    results.unlink(missing_ok=True)
    xml = simulate.run(sim, config, kind.value, "verif.tb_array", testcase="stream_tiles",
                       name=f"bench-{tag}", quiet=True, env={
                           "FINEQ_TB_TILES": str(tiles_path),
                           "FINEQ_TB_RESULTS": str(results),
                           "FINEQ_TB_PAUSE": "0",
                       })
    total, failed = get_results(xml)
    if failed or not results.exists():
        raise RuntimeError(f"{kind.value} on {sim}: the run failed; see {Path(xml).parent / 'sim.log'}")
    with np.load(results) as r:
        return {"spans": r["spans"].tolist(), "cycles": int(r["cycles"]), "wall": float(r["wall"]),
                "cpu": float(r["cpu"])}


def bench(config: str = "default", sims=None, vectors: Path | None = None) -> dict:
    cfg = preset(config)
    sims = sims or list(simulate.SIMULATORS)
    simulate.use_verilator()
    path = vectors or ensure_vectors(BENCH_VECTORS, BENCH_ARGS)
    golden = load_golden(path)
    workdir = paths.build_dir("sim", config, "bench").absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for kind in ArrayKind:
        block = layer_tiles(golden, cfg, kind)
        lone = block[0]
        m = lone.x.shape[0]
        p = beat_of(kind, cfg, lone.q)
        block_p = [beat_of(kind, cfg, t.q) for t in block]
        for sim in sims:
            _, _, build_s = simulate.build(sim, config, kind.value)
            one = _run(sim, config, kind, [lone], workdir, f"{kind.value}-{sim}-tile")
            many = _run(sim, config, kind, block, workdir, f"{kind.value}-{sim}-block")
            rows.append({
                "array": kind.value, "simulator": sim, "rows": cfg.rows, "cols": cfg.cols,
                "vectors": m, "beat": p,
                "tile_cycles": one["spans"][0],
                "tile_formula": tile_formula(cfg.rows, cfg.cols, m, p),
                "tile_ideal": m * p,
                "tile_macs": m * cfg.rows * cfg.cols,
                "block_tiles": len(block),
                "block_cycles": many["cycles"],
                "block_sum_of_tile_formulas": sum(tile_formula(cfg.rows, cfg.cols, m, bp) for bp in block_p),
                "block_mean_beat": float(np.mean(block_p)),
                "sim_cycles_per_cpu_second": many["cycles"] / many["cpu"],
                "sim_cycles_per_wall_second": many["cycles"] / many["wall"],
                "sim_cpu_seconds": many["cpu"],
                "sim_wall_seconds": many["wall"],
                "build_seconds": build_s,
            })
    meta = golden.get("meta", {})
    report = {
        "config": json.loads(cfg.to_json()),
        "layer": meta.get("layer"), "model": meta.get("model"), "vectors": str(path),
        "formula": "T = C + M * P + 4 cycles per tile; ideal M * P",
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "results": rows,
    }
    reports = paths.build_dir("reports")
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "hdl_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (reports / "hdl_bench.md").write_text(render(report))
    return report


def render(report: dict) -> str:
    cfg = report["config"]
    lines = [
        f"# Array cycles and simulation speed ({cfg['name']}: {cfg['rows']}x{cfg['cols']})",
        "",
        f"Real tile: {report['layer']} of {report['model']}, {report['date']}.",
        f"Formula: {report['formula']}.",
        "",
        verdict(report),
        "",
    ]
    headers = ["array", "sim", "M", "P", "tile cycles", "formula", "ideal M*P", "MACs/cycle", "block tiles",
               "block cycles", "sum of tile formulas", "mean P", "sim cycles/CPU-s", "sim cycles/wall-s"]
    rows = [[r["array"], r["simulator"], r["vectors"], r["beat"], r["tile_cycles"], r["tile_formula"], r["tile_ideal"],
             f"{r['tile_macs'] / r['tile_cycles']:.1f}", r["block_tiles"], r["block_cycles"],
             r["block_sum_of_tile_formulas"], f"{r['block_mean_beat']:.2f}", f"{r['sim_cycles_per_cpu_second']:.0f}",
             f"{r['sim_cycles_per_wall_second']:.0f}"] for r in report["results"]]
    lines += [md.table(headers, rows), "", *md.legend(LEGEND)]
    return "\n".join(lines) + "\n"


def verdict(report: dict) -> str:
    rows = report["results"]
    off = [r for r in rows if r["tile_cycles"] != r["tile_formula"]]
    fastest = min(rows, key=lambda r: r["block_cycles"]) if rows else None
    return ((f"Every lone tile took exactly the schedule's formula ({len(rows)} array and simulator runs)" if not off else
             f"{len(off)} of {len(rows)} lone tiles differ from the schedule's formula") +
            (f"; fewest cycles for the column block: {fastest['array']} ({fastest['block_cycles']})." if fastest else "."))


LEGEND = {
    "M": ("activation vectors streamed through each tile", None),
    "P": ("the tile's beat: cycles per vector (max(1, max|q|) for FineQ, 1 for the MAC arrays)", "lower"),
    "tile cycles": ("measured span of the lone tile, first weight beat to last result beat", "lower"),
    "formula": ("the schedule's prediction C + M * P + 4; should equal tile cycles", None),
    "ideal M*P": ("cycles with no fill or drain", None),
    "MACs/cycle": ("multiply-accumulates of the lone tile per cycle", "higher"),
    "block tiles": ("K tiles of the first column block, streamed back to back", None),
    "block cycles": ("cycles of the whole column block", "lower"),
    "sum of tile formulas": ("the block's cycles if tiles did not overlap; block cycles below it show the overlap", None),
    "mean P": ("mean beat over the block's tiles", "lower"),
    "sim cycles/CPU-s": ("simulated cycles per CPU second of the simulator process (simulator plus cocotb)", "higher"),
    "sim cycles/wall-s": ("simulated cycles per wall-clock second (a shared machine: loose)", "higher"),
}


def main(argv=None) -> int:
    parser = cli_policy.parser("python -m verif bench", __doc__)
    parser.add_argument("--config", default="default", choices=sorted(PRESETS), help="array preset (default: default)")
    parser.add_argument("--sim", nargs="+", default=list(simulate.SIMULATORS),
                        choices=simulate.SIMULATORS, help="simulators (default: all)")
    parser.add_argument("--vectors", type=Path, default=None, help="golden .npz (default: real layer, 64 tokens)")
    args = parser.parse_args(argv)

    def work():
        cli_policy.output_path(paths.build_dir("reports"), folder=True, what="the report folder")
        if args.vectors is not None:
            load_golden(args.vectors)  # a clear error for a missing or corrupt file, before any build
        report = bench(args.config, args.sim, args.vectors)
        print(render(report))
        print(f"-> {paths.build_dir('reports', 'hdl_bench.json')}")

    return cli_policy.run(work)
