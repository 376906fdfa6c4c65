"""FineQ against the baselines on a real checkpoint, in one run: bits per weight audited
from stored bytes, embedding fidelity and retrieval recall@1, quantization time."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch

from ..methods.fineq import DEFAULT_THRESHOLD, FineQLayer
from .checkpoint import apply_layers, linear_layers, load_model, method_registry, quantize_model
from .metrics import Evaluation, summarize_bpw

DEFAULT_METHODS = ("fineq", "rtn2", "rtn3", "rtn4", "rtn2-g128", "rtn3-g128")


def machine() -> str:
    return f"{platform.machine()}, {torch.get_num_threads()} threads, {platform.processor() or 'cpu'}"


def evaluate(model_dir=None, methods=DEFAULT_METHODS, *, threshold: float = DEFAULT_THRESHOLD,
             n_sentences: int = 256, n_pairs: int | None = None, progress: bool = True) -> dict:
    """Metrics of the float32 model and of every method; the model is restored after each."""
    unknown = [m for m in methods if m not in method_registry(threshold)]
    if unknown:
        from ..core.errors import FineQError

        raise FineQError(f"unknown method(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(method_registry(threshold))}")
    model, tokenizer, name = load_model(model_dir, causal_ok=False)
    original = {n: lin.weight.detach().clone() for n, lin in linear_layers(model).items()}
    ev = Evaluation(model, tokenizer, n_sentences=n_sentences, n_pairs=n_pairs, progress=progress)
    n_weights = sum(w.numel() for w in original.values())
    results = {"fp32": {"bpw": 32.0, "seconds": 0.0, **ev.reference_score()}}
    for method in methods:
        start = time.perf_counter()
        layers = quantize_model(model, method, threshold=threshold, progress=progress)
        seconds = time.perf_counter() - start
        apply_layers(model, layers)
        entry = {"bpw": summarize_bpw(layers), "seconds": seconds, **ev.score(method)}
        if all(isinstance(layer, FineQLayer) for layer in layers.values()):
            clusters = sum(layer.clusters.size for layer in layers.values())
            entry["outlier_fraction"] = sum(
                layer.outlier_fraction * layer.clusters.size for layer in layers.values()) / clusters
        results[method] = entry
        with torch.no_grad():
            for n, lin in linear_layers(model).items():
                lin.weight.copy_(original[n])
    return {"model": name, "threshold": threshold, "linear_layers": len(original),
            "weights": n_weights, "machine": machine(), "methods": results}


def format_table(report: dict) -> str:
    rows = [f"{'method':<12}{'bpw':>8}{'cos_mean':>10}{'cos_min':>10}{'R@1':>8}{'top1=fp32':>11}{'seconds':>9}"]
    for name, r in report["methods"].items():
        rows.append(f"{name:<12}{r['bpw']:>8.3f}{r['cos_mean']:>10.4f}{r['cos_min']:>10.4f}"
                    f"{r['recall_at_1']:>8.3f}{r['top1_agreement']:>11.3f}{r['seconds']:>9.2f}")
    return "\n".join(rows)


def write_report(report: dict, path: Path) -> Path:
    """The JSON report, and beside it a Markdown table with a plot (same stem, .md and .png)."""
    from .plots import plot_accuracy

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    png = plot_accuracy(report["methods"], path.with_suffix(".png"),
                        title=f"{report['model']}: accuracy against bits per weight")
    path.with_suffix(".md").write_text(markdown(report, png))
    return path


def _verdict(quantized: dict) -> str:
    if not quantized:
        return "No quantized method in this run."
    best = max(quantized, key=lambda m: quantized[m]["cos_mean"])
    line = (f"Closest to float32: **{best}**, mean cosine {quantized[best]['cos_mean']:.4f} at "
            f"{quantized[best]['bpw']:.3f} bits/weight.")
    if "fineq" in quantized:
        f = quantized["fineq"]
        rivals = {m: r for m, r in quantized.items() if m != "fineq" and r["bpw"] <= f["bpw"]}
        rival = max(rivals, key=lambda m: rivals[m]["cos_mean"]) if rivals else None
        line += (f" FineQ at {f['bpw']:.3f} bits/weight: mean cosine {f['cos_mean']:.4f}" +
                 (f"; the best other method at no more bits, {rival}, {rivals[rival]['cos_mean']:.4f}." if rival
                  else "; no other method here stores fewer bits."))
    return line


def markdown(report: dict, png: Path | None) -> str:
    from ..core import markdown as md
    from .study import LEGEND

    methods = report["methods"]
    quantized = {m: r for m, r in methods.items() if r["bpw"] < 16}
    verdict = _verdict(quantized)
    headers = ["method", "bits/weight", "cos mean", "cos min", "recall@1", "top-1 = fp32", "seconds"]
    rows = [[m, f"{r['bpw']:.3f}", f"{r['cos_mean']:.4f}", f"{r['cos_min']:.4f}", f"{r['recall_at_1']:.3f}",
             f"{r['top1_agreement']:.3f}", f"{r['seconds']:.2f}"] for m, r in methods.items()]
    lines = [f"# Quantization of {report['model']}", "", verdict, "",
             f"{report['linear_layers']} linear layers, {report['weights']:,} weights, outlier threshold "
             f"{report['threshold']}, measured on {report['machine']}.", "",
             md.table(headers, rows), "", *md.legend({h: LEGEND[h] for h in headers[1:]})]
    if png:
        lines += ["", f"![accuracy against bits per weight]({png.name})"]
    return "\n".join(lines) + "\n"
