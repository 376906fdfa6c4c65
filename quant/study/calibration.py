"""Calibration activations from real text: the Hessian ``H = 2/n * X^T X`` of every linear layer.

GPTQ and the error-feedback FineQ variant minimise ``||W X^T - W_hat X^T||^2`` over the inputs
``X`` a layer sees, whose second moment is all they need. Inputs are collected in one pass of
the float model over calibration text with forward hooks on every ``nn.Linear``; only real
tokens count (padding positions, masked out by the attention mask, are dropped).

The calibration text is a fixed slice of ``corpus.sentences()`` after the sentences the
evaluation embeds (the first ``n_sentences`` of the same list), so calibration and the cosine /
similarity metrics never see the same sentence. The retrieval pairs are built from the same
manual's paragraphs, so some calibration sentences also occur inside retrieval documents: the
corpus on this machine is not large enough to keep those apart as well.
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from ..core.errors import FineQError
from . import corpus
from .checkpoint import linear_layers

CALIBRATION_SENTENCES = 256
EVAL_SENTENCES = 256  # Evaluation's default n_sentences: calibration starts after them
MAX_TOKENS = 128
BATCH = 32


def calibration_texts(n: int = CALIBRATION_SENTENCES, *, skip: int = EVAL_SENTENCES) -> list[str]:
    """``n`` real sentences disjoint from the first ``skip`` (the evaluation's sentences)."""
    available = corpus.sentences()[skip:]
    if n <= 0:
        raise FineQError(f"calibration needs at least one sentence, got {n}")
    if len(available) < n:
        raise FineQError(f"only {len(available)} calibration sentences after the first {skip}, asked for {n}")
    return available[:n]


@torch.no_grad()
def collect_hessians(model, tokenizer, texts: list[str], *, layers: dict | None = None,
                     progress: bool = True) -> dict[str, torch.Tensor]:
    """``{layer name: H [K, K] float32}`` with ``H = 2/n sum_t x_t x_t^T`` over the real tokens."""
    if not texts:
        raise FineQError("calibration needs at least one text")
    batches = (tokenizer(texts[i : i + BATCH], padding=True, truncation=True, max_length=MAX_TOKENS,
                         return_tensors="pt") for i in range(0, len(texts), BATCH))
    return hessians_of_batches(model, batches, -(-len(texts) // BATCH), layers=layers, progress=progress)


@torch.no_grad()
def collect_hessians_ids(model, ids: torch.Tensor, *, layers: dict | None = None, batch: int = 4,
                         progress: bool = True) -> dict[str, torch.Tensor]:
    """The same from token ids [S, L] (every position real), e.g. generated calibration text."""
    if ids.ndim != 2 or ids.numel() == 0:
        raise FineQError(f"calibration ids must be a non-empty [sequences, length] tensor, got {tuple(ids.shape)}")
    batches = ({"input_ids": ids[i : i + batch]} for i in range(0, ids.shape[0], batch))
    return hessians_of_batches(model, batches, -(-ids.shape[0] // batch), layers=layers, progress=progress)


def hessians_of_batches(model, batches, total: int, *, layers: dict | None = None,
                        progress: bool = True) -> dict[str, torch.Tensor]:
    """Forward hooks on every linear layer over model-input ``batches``; padding masked out."""
    layers = linear_layers(model) if layers is None else layers
    sums = {name: torch.zeros(lin.in_features, lin.in_features, dtype=torch.float64)
            for name, lin in layers.items()}
    counts = dict.fromkeys(layers, 0)
    state = {"mask": None, "last": None}  # last: (input tensor, kept alive so identity is safe, product, rows)

    def hook(name):
        def record(module, inputs, output):
            x = inputs[0]
            last = state["last"]
            if last is None or last[0] is not x:  # q/k/v (gate/up) read the same tensor object: one product
                xs = x.detach()
                mask = state["mask"]
                if mask is not None and xs.dim() == 3 and xs.shape[:2] == mask.shape:
                    xs = xs[mask]
                xs = xs.reshape(-1, xs.shape[-1]).to(torch.float32)
                state["last"] = (x, (xs.T @ xs).to(torch.float64), xs.shape[0])  # float32 product per batch
            _, prod, rows = state["last"]
            sums[name] += prod  # float64 running sum
            counts[name] += rows
        return record

    handles = [lin.register_forward_hook(hook(name)) for name, lin in layers.items()]
    try:
        for batch in tqdm(batches, total=total, desc="calibration", unit="batch", disable=not progress,
                          leave=False):
            state["mask"] = batch["attention_mask"].bool() if "attention_mask" in batch else None
            state["last"] = None
            model(**batch)
    finally:
        state["last"] = None
        for h in handles:
            h.remove()
    missing = [n for n, c in counts.items() if c == 0]
    if missing:
        raise FineQError(f"calibration never reached layer(s) {', '.join(missing[:3])}: unsupported architecture")
    return {n: (2.0 / counts[n] * sums[n]).to(torch.float32) for n in layers}


def fineq_bpw(n: int, k: int) -> float:
    """Audited bits per weight of fineq-v1 for an [N, K] weight (cluster bytes + float16 scales)."""
    from ..core.format import num_clusters

    return 8.0 * (n * num_clusters(k) + 2 * n) / (n * k)


def calibrated_registry(threshold: float = 4.0) -> dict:
    """Methods that need the calibration Hessian: ``{name: f(w, h, name) -> layer}``."""
    from ..methods import fineq_variants as fv
    from ..methods.fineq_v2 import quantize_v2_error_feedback
    from ..methods.gptq import quantize_gptq
    from ..methods.owq import quantize_owq

    def v2_error_feedback(group, damp):
        return lambda w, h, name: quantize_v2_error_feedback(w, h, group, damp=damp, name=name)

    v2 = {f"fineq-v2-ef-emin-g{g}{'' if d == 0.01 else f'-d{round(d * 100)}'}": v2_error_feedback(g, d)
          for g in (96, 192) for d in (0.01, 0.1)}
    return {
        **v2,
        "gptq2": lambda w, h, name: quantize_gptq(w, h, 2, name=name),
        "gptq3": lambda w, h, name: quantize_gptq(w, h, 3, name=name),
        "gptq2-g128": lambda w, h, name: quantize_gptq(w, h, 2, 128, name=name),
        "gptq3-g128": lambda w, h, name: quantize_gptq(w, h, 3, 128, name=name),
        # OWQ at FineQ's own audited bits per weight for the same layer shape (never above it)
        "owq2": lambda w, h, name: quantize_owq(w, h, 2, target_bpw=fineq_bpw(*w.shape), name=name),
        "fineq-ef": lambda w, h, name: fv.quantize_error_feedback(w, h, formats="rule", threshold=threshold,
                                                                 name=name),
        "fineq-ef-emin": lambda w, h, name: fv.quantize_error_feedback(w, h, formats="error-min", name=name),
        # dampening 10% instead of 1%: the calibration set is small (256 sentences), and a
        # stronger isotropic term protects input directions it rarely excites (worst sentence)
        "fineq-ef-emin-d10": lambda w, h, name: fv.quantize_error_feedback(w, h, formats="error-min", damp=0.1,
                                                                          name=name),
        "fineq-ef-emin-d30": lambda w, h, name: fv.quantize_error_feedback(w, h, formats="error-min", damp=0.3,
                                                                          name=name),
    }
