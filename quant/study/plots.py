"""Accuracy against bits per weight, for the quantization reports (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path


def plot_accuracy(methods: dict, path: Path, *, title: str) -> Path:
    """One panel per metric, each method a labelled point at its audited bits per weight."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [("cos_mean", "mean embedding cosine vs fp32"), ("top1_agreement", "top-1 retrieval = fp32"),
               ("recall_at_1", "retrieval recall@1")]
    metrics = [(k, label) for k, label in metrics if all(k in r for r in methods.values())]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
    quantized = {name: r for name, r in methods.items() if r["bpw"] < 16}
    for ax, (key, label) in zip(axes[0], metrics, strict=True):
        for name, r in quantized.items():
            marker = "*" if name.startswith("fineq") else "o"
            ax.scatter(r["bpw"], r[key], marker=marker, s=120 if marker == "*" else 40)
            ax.annotate(name, (r["bpw"], r[key]), textcoords="offset points", xytext=(4, 4), fontsize=8)
        if "fp32" in methods:
            ax.axhline(methods["fp32"][key], color="grey", linestyle="--", linewidth=1, label="fp32")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel("bits per weight (audited from stored bytes)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
