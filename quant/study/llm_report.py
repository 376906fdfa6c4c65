"""Reports of the causal-LM study: ``study.json``, ``study.md`` (table, winners, goal) and a plot of
perplexity against bits per weight, one panel per evaluation text."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..core import markdown as md

GOAL_BPW = 2.8
GOAL_RATIO = 2.0  # the paper's LLaMA-2-7B ratio: 10.94 against 5.47
GOAL_GPTQ = "gptq3-g128"
GOAL_OWQ = "owq2"
PLOT_TOP = 30.0  # the plot's perplexity axis ends at 30x float


def _ppl(v: float) -> str:
    if not math.isfinite(v):
        return "inf"
    return f"{v:.3g}" if v >= 1e4 else f"{v:.2f}"


def format_table(report: dict) -> str:
    texts = list(report["texts"])
    headers = ["method", "family", "bits/weight", *(f"ppl {t}" for t in texts), "outlier clusters", "seconds",
               "peak MB"]
    rows = [[m, r["family"], f"{r['bpw']:.3f}", *(_ppl(r["ppl"][t]) for t in texts),
             f"{r['outlier_fraction']:.1%}" if "outlier_fraction" in r else "", f"{r['seconds']:.0f}",
             f"{r['peak_mb']:.0f}"] for m, r in report["methods"].items()]
    return md.table(headers, rows)


LEGEND = {
    "bits/weight": ("storage per weight, counted from the bytes the method stores (scales included)", "lower"),
    "ppl TEXT": ("perplexity of the causal LM on that text (the fp32 row is the unquantized model)", "lower"),
    "outlier clusters": ("fraction of FineQ clusters stored as 3-bit codes with the smallest weight pruned", None),
    "seconds": ("wall time of the quantization (calibrated methods include the calibration pass); a shared "
                "machine, so compare loosely", "lower"),
    "peak MB": ("rise of the resident memory while quantizing", "lower"),
    "vs weight-only": ("perplexity change when the quantized layers run on the hardware's integer arithmetic "
                       "instead of float activations", "closer to 0"),
}


def hardware_table(report: dict) -> str:
    texts = list(report["texts"])
    headers = ["method", "arithmetic", *(h for t in texts for h in (f"ppl {t}", "vs weight-only"))]
    rows = [[m, variant, *(c for t in texts for c in (_ppl(v["ppl"][t]), f"{v['ppl'][t] / r['ppl'][t] - 1:+.1%}"))]
            for m, r in report["methods"].items()
            for variant, v in r.get("hardware", {}).items() if isinstance(v, dict)]
    return md.table(headers, rows) if rows else ""


def pareto(report: dict, text: str) -> list[str]:
    rows = sorted((r["bpw"], r["ppl"][text], m) for m, r in report["methods"].items() if m != "fp32")
    front, best = [], float("inf")
    for _bpw, ppl, m in rows:
        if ppl < best:
            front.append(m)
            best = ppl
    return front


def goal(report: dict) -> dict:
    """Best FineQ variant at <= 2.8 b: within 2x of float, ahead of GPTQ 3-bit g128 (at fewer bits)
    and at least as good as OWQ, on every text."""
    res, texts = report["methods"], list(report["texts"])
    cands = {m: r for m, r in res.items() if "fineq" in m and r["bpw"] <= GOAL_BPW}
    if not cands or "fp32" not in res:
        return {"checked": False}
    best = min(cands, key=lambda m: sum(math.log(cands[m]["ppl"][t]) for t in texts))
    r = cands[best]
    out = {"checked": True, "method": best, "bpw": r["bpw"], "per_text": {}}
    for t in texts:
        row = {"ratio_to_float": r["ppl"][t] / res["fp32"]["ppl"][t]}
        row["within_2x"] = row["ratio_to_float"] <= GOAL_RATIO
        if GOAL_GPTQ in res:
            row["ahead_of_gptq3_g128"] = r["ppl"][t] < res[GOAL_GPTQ]["ppl"][t] and r["bpw"] < res[GOAL_GPTQ]["bpw"]
        if GOAL_OWQ in res:
            row["at_least_owq"] = r["ppl"][t] <= res[GOAL_OWQ]["ppl"][t]
        out["per_text"][t] = row
    out["met"] = all(all(v for k, v in row.items() if k != "ratio_to_float") for row in out["per_text"].values())
    return out


def plot(report: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    texts = list(report["texts"])
    fig, axes = plt.subplots(1, len(texts), figsize=(7 * len(texts), 5), squeeze=False)
    colors = {}
    for ax, t in zip(axes[0], texts, strict=True):
        f = report["methods"]["fp32"]["ppl"][t]
        top = PLOT_TOP * f  # off-scale methods are drawn at the top edge, their value in the label
        for m, r in report["methods"].items():
            if m == "fp32":
                continue
            c = colors.setdefault(r["family"], f"C{len(colors) % 10}")
            v = r["ppl"][t]
            off = not math.isfinite(v) or v > top
            y = top if off else v
            ax.scatter(r["bpw"], y, color=c, label=r["family"], s=30,
                       marker="^" if off else ("*" if "fineq" in m else "o"))
            if off:  # off-scale labels stacked down the top edge, so that they do not overlap
                n_off = sum(1 for t2 in ax.texts if t2.get_text().endswith(")"))
                ax.annotate(f"{m} ({_ppl(v)})", (r["bpw"], y), fontsize=7, xytext=(6, -4 - 9 * n_off),
                            textcoords="offset points")
            else:
                ax.annotate(m, (r["bpw"], y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axhline(f, color="grey", ls="--", lw=1, label=f"float ({f:.1f})")
        ax.axhline(GOAL_RATIO * f, color="grey", ls=":", lw=1, label=f"goal: {GOAL_RATIO:g}x float")
        ax.axvline(GOAL_BPW, color="grey", ls=":", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylim(0.8 * f, 1.3 * top)
        ax.set_xlabel("bits per weight (audited from stored bytes)")
        ax.set_ylabel("perplexity (log scale)")
        ax.set_title(f"{t}: {report['texts'][t]['windows']} windows of {report['texts'][t]['seqlen']} tokens")
        ax.grid(alpha=0.3, which="both")
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles, strict=True))
        ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper right")
    fig.suptitle(f"{report['model']}: perplexity against bits per weight")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(report: dict, png: Path | None) -> str:
    texts = report["texts"]
    cal = report.get("calibration") or {}
    g = goal(report)
    verdict = (f"Best FineQ variant at <= {GOAL_BPW} bits/weight: **{g['method']}** ({g['bpw']:.3f} b), "
               + "; ".join(f"{row['ratio_to_float']:.2f}x the float perplexity on {t}" for t, row in g["per_text"].items())
               + f": the goal (<= {GOAL_RATIO:g}x on every text) is **{'met' if g['met'] else 'not met'}**."
               if g["checked"] else f"No FineQ variant at or under {GOAL_BPW} bits/weight with a float baseline in this run.")
    lines = [f"# Perplexity study: {report['model']}", "", verdict, "",
             f"{report['linear_layers']} linear layers quantized (the output head kept in float), "
             f"{report['weights']:,} weights; {report['model_note']}. Machine: {report['machine']}.", "",
             "Texts: " + "; ".join(f"**{t}**: {i['source']}, {i['tokens']:,} tokens, the first {i['windows']} windows "
                                  f"of {i['seqlen']}" for t, i in texts.items()) + ".",
             (f"Calibration: {cal['tokens']:,} tokens {cal['source']} ({cal['sequences']} x {cal['length']}, seed "
              f"{cal['seed']}), {cal['seconds']:.0f} s, included in the seconds of calibrated methods." if cal else
              "No calibrated method in this run."), "",
             format_table(report), "", *md.legend(LEGEND), ""]
    if not report.get("complete", True):
        lines += ["**Partial report**: the run has not finished; the methods above are all that were measured.", ""]
    for t in texts:
        lines.append(f"Pareto front on {t} (fewest bits for a perplexity): " + " -> ".join(
            f"{m} ({report['methods'][m]['bpw']:.2f} b, {_ppl(report['methods'][m]['ppl'][t])})"
            for m in pareto(report, t)))
        lines.append("")
    hw = hardware_table(report)
    if hw:
        lines += ["## What the hardware computes", "",
                  "Every quantized linear layer on the golden integer arithmetic (INT8 activations, exact "
                  "integer GEMM, the vector unit), the rest in float; ratio to the same method's weight-only "
                  "perplexity (float activations).", "", hw, ""]
    lines += ["## Goal", ""]
    if g["checked"]:
        lines.append(f"Best FineQ variant at <= {GOAL_BPW} bits/weight: **{g['method']}** ({g['bpw']:.3f} b). "
                     f"Goal met on every text: **{g['met']}**.")
        for t, row in g["per_text"].items():
            lines.append(f"- {t}: {row['ratio_to_float']:.2f}x float; " +
                         ", ".join(f"{k}: {v}" for k, v in row.items() if k != "ratio_to_float"))
    else:
        lines.append("Not checked (no FineQ variant at or under the bits, or no float baseline).")
    if png:
        lines += ["", f"![perplexity against bits per weight]({png.name})"]
    return "\n".join(lines) + "\n"


def write_llm_reports(report: dict, out_dir: Path, *, with_plot: bool = True, stem: str = "study") -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {**report, "goal": goal(report), "pareto": {t: pareto(report, t) for t in report["texts"]}}
    paths = {"json": out_dir / f"{stem}.json", "md": out_dir / f"{stem}.md", "plot": out_dir / f"{stem}_ppl_bpw.png"}
    paths["json"].write_text(json.dumps(report, indent=2, default=str) + "\n")
    png = plot(report, paths["plot"]) if with_plot else None
    paths["md"].write_text(markdown(report, png))
    return paths


def merge_llm_reports(paths) -> dict:
    """One report from runs that split the method list (same model, texts and windows)."""
    from ..core.errors import FineQError

    reports = []
    for p in paths:
        try:
            reports.append(json.loads(Path(p).read_text()))
        except (OSError, ValueError) as e:
            raise FineQError(f"cannot read study report {p}: {e}") from None
    base = reports[0]
    for other in reports[1:]:
        if other.get("model") != base.get("model") or other.get("texts") != base.get("texts"):
            raise FineQError("study reports of different models or texts cannot be merged")
    methods = {}
    for r in reports:
        for m, e in r["methods"].items():
            if m in methods and "hardware" in e:  # hardware variants measured in different runs add up
                methods[m] = {**methods[m], "hardware": {**e["hardware"], **methods[m].get("hardware", {})}}
            methods.setdefault(m, e)
    calib = next((r["calibration"] for r in reports if r.get("calibration")), {})
    return {**base, "methods": methods, "calibration": calib, "complete": all(r.get("complete") for r in reports),
            "merged_from": [str(p) for p in paths]}
