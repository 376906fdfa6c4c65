"""Quantizer speed: FineQ with scale search on one LLaMA-7B-sized MLP layer (4096 x 11008),
and the whole default checkpoint. Figures go to build/reports/bench.json (section "quant").

No real 7B checkpoint is available offline, so the large layer is synthetic: Student-t
(3 degrees of freedom) weights, heavy-tailed like real LLM weights, with a fixed seed. The
quantizer's work does not depend on the values beyond the outlier mix, which is reported.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..core import markdown as md
from ..core.paths import build_dir
from ..methods.fineq import quantize_fineq
from .checkpoint import linear_layers, load_model, quantize_model
from .evaluate import machine

LAYER_SHAPE = (4096, 11008)


def bench_quantizer(repeats: int = 3, progress: bool = True) -> dict:
    torch.manual_seed(0)
    w = torch.distributions.StudentT(3.0).sample(LAYER_SHAPE) * 0.01
    quantize_fineq(w[:64])  # warm up allocator and kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        layer = quantize_fineq(w)
        times.append(time.perf_counter() - start)
    best = min(times)
    model, _, name = load_model()
    start = time.perf_counter()
    quantize_model(model, "fineq", progress=progress)
    whole = time.perf_counter() - start
    n_model = sum(lin.weight.numel() for lin in linear_layers(model).values())
    return {
        "machine": machine(),
        "layer_shape": list(LAYER_SHAPE),
        "layer_seconds_best": best,
        "layer_seconds_all": times,
        "layer_weights_per_second": w.numel() / best,
        "layer_outlier_fraction": layer.outlier_fraction,
        "model": name,
        "model_linear_weights": n_model,
        "model_seconds": whole,
        "model_weights_per_second": n_model / whole,
    }


def update_bench_report(section: str, figures: dict, path: Path | None = None) -> Path:
    """Merge one section into bench.json (other parts of `make bench` add theirs)."""
    path = Path(path) if path is not None else build_dir("reports", "bench.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    report = json.loads(path.read_text()) if path.exists() else {}
    report[section] = figures
    path.write_text(json.dumps(report, indent=2) + "\n")
    if "quant" in report:
        path.with_suffix(".md").write_text(markdown(report["quant"]))
    return path


LEGEND = {
    "layer seconds": ("best of the repeated runs of FineQ on one layer of the default shape", "lower"),
    "weights/s": ("weights quantized per second", "higher"),
    "outlier clusters": ("fraction of the layer's clusters stored as 3-bit codes with one weight pruned", None),
    "model seconds": ("FineQ on every linear layer of the default checkpoint, once", "lower"),
}


def markdown(f: dict) -> str:
    """bench.md: the quantizer's speed, for people."""
    n, k = f["layer_shape"]
    rows = [[f"{n}x{k} layer", f"{f['layer_seconds_best']:.3f}", f"{f['layer_weights_per_second'] / 1e6:.2f} M",
             f"{f['layer_outlier_fraction']:.1%}", ""],
            [f"{f['model']} ({f['model_linear_weights']:,} weights)", "", f"{f['model_weights_per_second'] / 1e6:.2f} M",
             "", f"{f['model_seconds']:.2f}"]]
    return "\n".join([
        "# Quantizer speed", "",
        f"FineQ quantizes the whole {f['model']} in {f['model_seconds']:.1f} s on {f['machine']} "
        f"({f['model_weights_per_second'] / 1e6:.1f} M weights/s); wall time on a shared machine, so compare loosely.",
        "", md.table(["work", "layer seconds", "weights/s", "outlier clusters", "model seconds"], rows), "",
        *md.legend(LEGEND), ""])
