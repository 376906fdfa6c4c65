"""The quantization study: every method on the default checkpoint in one run, one table.

``python -m quant study`` quantizes every linear layer of the model with each method, loads the
dequantized weights into the model, and scores it against the float32 model on real text
(quant.study.metrics: embedding cosine mean / worst, retrieval recall@1, top-1 agreement with float32,
Spearman correlation of all pairwise sentence similarities). Per method it records the bits per
weight audited from the stored bytes, the quantization time (for calibrated methods including
the one shared calibration pass) and the peak memory of quantizing (quant.study.memory). It writes
``build/reports/study.json``, ``study.md`` (tables, the winners, the goal check) and plots.

Methods: RTN (per row / group 128), GPTQ (2/3 bits, per row / group 128), OWQ at FineQ's bits
per weight, FineQ at thresholds 2..8, without outlier protection, with error-minimising format
choice, and with error feedback (rule formats / error-minimising formats).
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path

import torch
from tqdm import tqdm

from ..core import markdown as md
from ..core.errors import FineQError
from ..methods.fineq import DEFAULT_THRESHOLD, FineQLayer
from .calibration import CALIBRATION_SENTENCES, calibrated_registry, calibration_texts, collect_hessians
from .checkpoint import apply_layers, linear_layers, load_model, method_registry
from .evaluate import machine
from .memory import PeakMemory
from .metrics import Evaluation, summarize_bpw

# the goal's comparison first, so a partial report (written after every method) says the most
DEFAULT_METHODS = (
    "rtn3", "rtn4", "fineq", "fineq-ef-emin-d10", "fineq-ef-emin", "fineq-emin", "fineq-ef",
    "gptq2", "gptq3", "owq2", "rtn2",
    "fineq-noprot", "fineq-t2", "fineq-t3", "fineq-t5", "fineq-t8",
    "gptq2-g128", "gptq3-g128", "rtn2-g128", "rtn3-g128", "fineq-ef-emin-d30",
)
METRICS = ("cos_mean", "cos_min", "recall_at_1", "spearman")
THRESHOLD_SWEEP = {"fineq-t2": 2.0, "fineq-t3": 3.0, "fineq": 4.0, "fineq-t5": 5.0, "fineq-t8": 8.0,
                   "fineq-noprot": None}  # None: no outlier protection at all
GOAL_BPW = 2.75
GOAL_BASELINE = "rtn3"


def family(method: str) -> str:
    for prefix, name in (("rtn", "RTN"), ("gptq", "GPTQ"), ("owq", "OWQ"), ("fineq-ef", "FineQ+EF"),
                         ("fineq-emin", "FineQ error-min"), ("fineq", "FineQ")):
        if method.startswith(prefix):
            return name
    return "other"


def all_methods(threshold: float = DEFAULT_THRESHOLD) -> list[str]:
    return [*method_registry(threshold), *calibrated_registry(threshold)]


def _with_hessian(fn, hessians, w, name):
    return fn(w, hessians[name], name)


def run_study(model_dir=None, methods=DEFAULT_METHODS, *, n_sentences: int = 256, n_pairs: int | None = None,
              calibration: int = CALIBRATION_SENTENCES, progress: bool = True, on_result=None) -> dict:
    """Run every method; ``on_result(report so far)`` is called after each (for partial reports)."""
    plain, calibrated = method_registry(DEFAULT_THRESHOLD), calibrated_registry(DEFAULT_THRESHOLD)
    unknown = [m for m in methods if m not in plain and m not in calibrated]
    if unknown:
        raise FineQError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(all_methods())}")
    model, tokenizer, name = load_model(model_dir, causal_ok=False)
    layers = linear_layers(model)
    original = {n: lin.weight.detach().clone() for n, lin in layers.items()}
    ev = Evaluation(model, tokenizer, n_sentences=n_sentences, n_pairs=n_pairs, progress=progress)
    results = {"fp32": {"bpw": 32.0, "seconds": 0.0, "peak_mb": 0.0, "family": "float",
                        **ev.reference_score()}}
    hessians, calib = None, {}
    if any(m in calibrated for m in methods):
        texts = calibration_texts(calibration, skip=n_sentences)
        start = time.perf_counter()
        with PeakMemory() as pm:
            hessians = collect_hessians(model, tokenizer, texts, progress=progress)
        calib = {"sentences": len(texts), "seconds": time.perf_counter() - start, "peak_mb": pm.peak_mb,
                 "first_sentence_index": n_sentences}
    for method in tqdm(methods, desc="study", unit="method", disable=not progress):
        if method in calibrated:
            quantize = partial(_with_hessian, calibrated[method], hessians)
        else:
            quantize = plain[method]
        start = time.perf_counter()
        with PeakMemory() as pm:
            out = {n: quantize(lin.weight, n)
                   for n, lin in tqdm(layers.items(), desc=method, unit="layer", leave=False, disable=not progress)}
        seconds = time.perf_counter() - start + (calib["seconds"] if method in calibrated else 0.0)
        apply_layers(model, out)
        entry = {"bpw": summarize_bpw(out), "seconds": seconds, "peak_mb": pm.peak_mb,
                 "family": family(method), "calibrated": method in calibrated, **ev.score(method)}
        if all(isinstance(layer, FineQLayer) for layer in out.values()):
            clusters = sum(layer.clusters.size for layer in out.values())
            entry["outlier_fraction"] = sum(layer.outlier_fraction * layer.clusters.size
                                            for layer in out.values()) / clusters
        if method in THRESHOLD_SWEEP:
            entry["threshold"] = THRESHOLD_SWEEP[method]
        results[method] = entry
        with torch.no_grad():
            for n, lin in layers.items():
                lin.weight.copy_(original[n])
        report = _report(name, layers, original, calib, results, complete=method == methods[-1])
        if on_result is not None:
            on_result(report)
    return _report(name, layers, original, calib, results, complete=True)


def _report(name, layers, original, calib, results, *, complete: bool) -> dict:
    return {"model": name, "linear_layers": len(layers), "weights": sum(w.numel() for w in original.values()),
            "machine": machine(), "threads": torch.get_num_threads(), "peak_memory_method": PeakMemory().method,
            "complete": complete, "calibration": calib, "methods": dict(results),
            "pareto": pareto(results), "goal": goal(results)}


def merge_reports(paths, order=DEFAULT_METHODS) -> dict:
    """One report from several study.json files of the same model and evaluation settings (e.g.
    the method list split over two processes): the first file's entry wins for a method measured
    twice; methods are listed in ``order``, then any others."""
    reports = []
    for path in paths:
        try:
            reports.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as e:
            raise FineQError(f"cannot read study report {path}: {e}") from None
    if not reports:
        raise FineQError("nothing to merge")
    base = reports[0]
    for other in reports[1:]:
        if other.get("model") != base.get("model") or other["methods"]["fp32"].get("n_sentences") != \
                base["methods"]["fp32"].get("n_sentences"):
            raise FineQError("study reports of different models or evaluation settings cannot be merged")
    results = {}
    for r in reports:
        for m, entry in r["methods"].items():
            results.setdefault(m, entry)
    ranked = ["fp32", *[m for m in order if m in results]]
    results = {m: results[m] for m in ranked + [m for m in results if m not in ranked]}
    calib = next((r["calibration"] for r in reports if r.get("calibration")), {})
    complete = all(r.get("complete", True) for r in reports) or all(m in results for m in order)
    return {**base, "complete": complete, "calibration": calib,
            "methods": results, "pareto": pareto(results), "goal": goal(results),
            "merged_from": [str(p) for p in paths]}


def pareto(results: dict, metric: str = "cos_mean") -> list[str]:
    """Methods no other method beats on both bits per weight (lower) and ``metric`` (higher)."""
    rows = [(r["bpw"], -r[metric], m) for m, r in results.items() if m != "fp32"]
    front, best = [], float("-inf")
    for _bpw, neg, m in sorted(rows):
        if -neg > best:
            front.append(m)
            best = -neg
    return front


def goal(results: dict) -> dict:
    """The issue's goal: the best FineQ variant under 2.75 bits/weight ahead of per-row 3-bit
    RTN on every metric, and how close it comes to 4-bit RTN."""
    base = results.get(GOAL_BASELINE)
    cands = {m: r for m, r in results.items() if m.startswith("fineq") and r["bpw"] < GOAL_BPW}
    if base is None or not cands:
        return {"checked": False}
    best = max(cands, key=lambda m: (sum(cands[m][k] > base[k] for k in METRICS), cands[m]["cos_mean"]))
    r = cands[best]
    out = {"checked": True, "method": best, "bpw": r["bpw"], "baseline": GOAL_BASELINE,
           "ahead_on": [k for k in METRICS if r[k] > base[k]],
           "behind_on": [k for k in METRICS if r[k] <= base[k]]}
    out["met"] = not out["behind_on"]
    if "rtn4" in results:
        out["gap_to_rtn4"] = {k: results["rtn4"][k] - r[k] for k in METRICS}
    return out


def format_table(report: dict) -> str:
    headers = ["method", "family", "bits/weight", "cos mean", "cos min", "recall@1", "top-1 = fp32", "Spearman",
               "outlier clusters", "seconds", "peak MB"]
    rows = [[m, r["family"], f"{r['bpw']:.3f}", f"{r['cos_mean']:.4f}", f"{r['cos_min']:.4f}",
             f"{r['recall_at_1']:.3f}", f"{r['top1_agreement']:.3f}", f"{r['spearman']:.4f}",
             f"{r['outlier_fraction']:.1%}" if "outlier_fraction" in r else "", f"{r['seconds']:.1f}",
             f"{r['peak_mb']:.0f}"] for m, r in report["methods"].items()]
    return md.table(headers, rows)


LEGEND = {
    "bits/weight": ("storage per weight, counted from the bytes the method stores (scales included)", "lower"),
    "cos mean": ("mean cosine similarity between each sentence's embedding from the quantized model and from "
                 "float32 (1 = identical)", "higher"),
    "cos min": ("the same cosine for the worst sentence", "higher"),
    "recall@1": ("fraction of queries whose most similar document, under the quantized model, is their own", "higher"),
    "top-1 = fp32": ("fraction of queries whose most similar document is the one float32 picks", "higher"),
    "Spearman": ("rank correlation between the quantized and float32 models' pairwise sentence similarities "
                 "(1 = same order)", "higher"),
    "outlier clusters": ("fraction of FineQ clusters stored as 3-bit codes with the smallest weight pruned", None),
    "seconds": ("wall time of the quantization on a shared machine; compare loosely", "lower"),
    "peak MB": ("rise of the resident memory while quantizing", "lower"),
}


def plot(report: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return None
    methods = {m: r for m, r in report["methods"].items() if m != "fp32"}
    sweep = sorted(((r["threshold"], r) for r in methods.values() if "threshold" in r and r["threshold"] is not None),
                   key=lambda e: e[0])
    fig, axes = plt.subplots(1, 3 if sweep else 2, figsize=(19 if sweep else 13, 5))
    colors = {}
    for ax, metric, title in ((axes[0], "cos_mean", "embedding cosine to fp32 (mean)"),
                              (axes[1], "spearman", "Spearman of pairwise similarities")):
        for m, r in methods.items():
            fam = r["family"]
            colors.setdefault(fam, f"C{len(colors)}")
            ax.scatter(r["bpw"], r[metric], color=colors[fam], label=fam, s=30)
            ax.annotate(m, (r["bpw"], r[metric]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("bits per weight (audited from stored bytes)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles, strict=True))
        ax.legend(uniq.values(), uniq.keys(), fontsize=8, loc="lower right")
    if sweep:
        ax = axes[2]
        ts = [t for t, _ in sweep]
        ax.plot(ts, [r["cos_mean"] for _, r in sweep], "o-", color="C0", label="cos mean")
        ax.plot(ts, [r["spearman"] for _, r in sweep], "s-", color="C2", label="Spearman")
        noprot = methods.get("fineq-noprot")
        if noprot:
            ax.axhline(noprot["cos_mean"], color="C0", ls=":", label="cos mean, no protection")
        ax.set_xlabel("outlier threshold T (max|w| > T min|w|)")
        ax.set_title("FineQ threshold sweep (same bits per weight)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
        twin = ax.twinx()
        twin.plot(ts, [r["outlier_fraction"] for _, r in sweep], "^--", color="C3")
        twin.set_ylabel("outlier-cluster fraction", color="C3")
    fig.suptitle(f"{report['model']}: accuracy against bits per weight")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def threshold_table(report: dict) -> str:
    sweep = [(r["threshold"], m, r) for m, r in report["methods"].items() if "threshold" in r]
    rows = [["none (no protection)" if t is None else f"{t:g}", f"{r['outlier_fraction']:.1%}", f"{r['cos_mean']:.4f}",
             f"{r['cos_min']:.4f}", f"{r['recall_at_1']:.3f}", f"{r['spearman']:.4f}"]
            for t, _m, r in sorted(sweep, key=lambda e: float("inf") if e[0] is None else e[0])]
    return md.table(["threshold", "outlier clusters", "cos mean", "cos min", "recall@1", "Spearman"], rows)


def write_reports(report: dict, out_dir: Path, *, with_plot: bool = True) -> dict[str, Path]:
    """study.json, study.md and (``with_plot``) the plot; partial reports skip the plot (slow)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "study.json", "md": out_dir / "study.md", "plot": out_dir / "study_accuracy_bpw.png"}
    paths["json"].write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    png = plot(report, paths["plot"]) if with_plot else None
    g = report["goal"]
    verdict = (f"Best FineQ variant under {GOAL_BPW} bits/weight: **{g['method']}** ({g['bpw']:.3f} b), ahead of "
               f"{g['baseline']} on {', '.join(g['ahead_on']) or 'nothing'}: goal met: **{g['met']}**."
               if g.get("checked") else "Goal not checked: the run lacked rtn3 or a FineQ variant.")
    lines = [
        f"# Quantization study: {report['model']}",
        "",
        verdict,
        "",
        f"{report['linear_layers']} linear layers, {report['weights']:,} weights; machine: {report['machine']}. "
        "Every method is scored against the same float32 model on the same real English text (the "
        "Python manual's prose, `pydoc_data.topics`). Bits per weight are counted from the bytes each method "
        "stores. Seconds of calibrated methods include the shared calibration pass "
        f"({report['calibration'].get('seconds', 0):.1f} s, {report['calibration'].get('sentences', 0)} sentences). "
        f"Peak MB: rise of the resident set over its level when quantization started ({report['peak_memory_method']}). "
        "Seconds are wall time on a shared machine: compare them within a run, loosely.",
        "",
        format_table(report),
        "",
        *md.legend(LEGEND),
        "",
        *([f"Merged from {len(report['merged_from'])} processes that split the method list (same model, "
           "same deterministic float32 reference and text): " + ", ".join(f"`{p}`" for p in report["merged_from"]), ""]
          if report.get("merged_from") else []),
        *([] if report.get("complete", True) else
          ["**Partial report**: the run has not finished (or was stopped); the methods above are all "
           "that were measured.", ""]),
        "## Pareto front (fewest bits for a given mean cosine)",
        "",
        " -> ".join(f"{m} ({report['methods'][m]['bpw']:.2f} b, cos {report['methods'][m]['cos_mean']:.3f})"
                    for m in report["pareto"]),
        "",
        "## Outlier threshold sensitivity",
        "",
        threshold_table(report),
        "",
        "## Goal",
        "",
    ]
    if g.get("checked"):
        lines.append(f"Best FineQ variant under {GOAL_BPW} bits/weight: **{g['method']}** ({g['bpw']:.3f} b). "
                     f"Ahead of {g['baseline']} on: {', '.join(g['ahead_on']) or 'nothing'}; "
                     f"not ahead on: {', '.join(g['behind_on']) or 'nothing'}. Goal met: **{g['met']}**.")
        if "gap_to_rtn4" in g:
            lines.append("Remaining gap to rtn4: " + ", ".join(f"{k} {v:+.4f}" for k, v in g["gap_to_rtn4"].items()))
    else:
        lines.append("Not checked (the run lacked rtn3 or a FineQ variant).")
    if png:
        lines += ["", f"![accuracy against bits per weight]({png.name})"]
    paths["md"].write_text("\n".join(lines) + "\n")
    return paths


def _json_default(o):
    return str(o)
