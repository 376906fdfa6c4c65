"""Perplexity of a causal language model, float and weight-quantized, in one run.

The convention is GPTQ's evaluation loop (the one the field reports WikiText-2 / C4 figures
with): the whole text is tokenized once, cut into ``len(tokens) // seqlen`` non-overlapping
windows of ``seqlen`` tokens (default 2048; the tail that does not fill a window is dropped),
each window is one forward pass from an empty context, the loss is the mean next-token cross
entropy over the window, and

    ppl = exp( sum_w (loss_w * seqlen) / (windows * seqlen) )

(GPTQ multiplies the mean loss by ``seqlen`` although a window scores ``seqlen - 1`` tokens;
the factor cancels, so the figure is the mean of the window losses, exponentiated).

The text comes from a local file (``--text``; WikiText-2's test split joined with blank lines
is what papers use). Nothing is downloaded; on a machine without WikiText, ``pydoc_text()``
writes real English prose from the Python manual (``pydoc_data.topics``) to a file, and the
report says which text was used. Every ``nn.Linear`` except the output head (the field keeps
embeddings and ``lm_head`` in float) is quantized with a weight-only method of
``checkpoint.method_registry``; the float baseline is measured in the same run.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..core.errors import FineQError
from ..core.paths import build_dir
from ..methods.fineq import DEFAULT_THRESHOLD
from .checkpoint import apply_layers, linear_layers, load_pretrained, method_registry, model_folder
from .metrics import summarize_bpw

DEFAULT_SEQLEN = 2048


def pydoc_text(path: str | os.PathLike | None = None) -> Path:
    """Write the prose paragraphs of the Python manual (pydoc_data.topics), blank-line separated."""
    from .corpus import _paragraphs

    path = Path(path) if path is not None else build_dir("text", "pydoc_prose.txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(" ".join(p) for p in _paragraphs()) + "\n", encoding="utf-8")
    return path


def _causal_config(path: Path) -> tuple[bool, object]:
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as e:
        raise FineQError(f"cannot read the config in {path}: {e}") from None
    archs = getattr(config, "architectures", None) or []
    causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs) if archs else (
        config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and not config.is_encoder_decoder)
    return causal, archs or config.model_type


def is_causal_folder(path: str | os.PathLike) -> bool:
    return _causal_config(model_folder(path))[0]


def load_causal_lm(model_spec: str | os.PathLike):
    """(model, tokenizer) of a local causal LM (folder, GGUF file or short name), float32, eval, offline."""
    from transformers import AutoModelForCausalLM

    from .models import model_folder_of

    path = model_folder(model_folder_of(model_spec)[0])
    causal, archs = _causal_config(path)
    if not causal:
        raise FineQError(f"{path} is not a causal language model (architectures {archs}); "
                         "perplexity needs one that predicts the next token")
    return load_pretrained(path, AutoModelForCausalLM, "causal LM")


def max_positions(model) -> int | None:
    cfg = model.config
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(cfg, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def read_text(path: str | os.PathLike) -> str:
    path = Path(path)
    if not path.is_file():
        raise FineQError(f"text file {path} does not exist (give a local file: nothing is downloaded)")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise FineQError(f"text file {path} is empty")
    return text


def tokenize(tokenizer, text: str) -> torch.Tensor:
    """The whole text as one row of token ids [1, T] (no truncation)."""
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=True)["input_ids"]
    return ids.reshape(1, -1)


@torch.no_grad()
def perplexity(model, ids: torch.Tensor, seqlen: int = DEFAULT_SEQLEN, *, max_windows: int | None = None,
               progress: bool = False, desc: str = "ppl") -> dict:
    """GPTQ's loop over ``ids`` [1, T]: {"ppl", "windows", "nll"}."""
    if seqlen < 2:
        raise FineQError(f"window length must be at least 2 tokens, got {seqlen}")
    windows = ids.numel() // seqlen
    if windows == 0:
        raise FineQError(f"the text has {ids.numel()} tokens, fewer than one window of {seqlen}; "
                         "use a longer text or a shorter --seqlen")
    if max_windows is not None:
        windows = min(windows, max_windows)
    nlls = []
    for i in tqdm(range(windows), desc=desc, unit="window", disable=not progress, leave=False):
        batch = ids[:, i * seqlen:(i + 1) * seqlen]
        logits = model(input_ids=batch).logits.float()
        loss = torch.nn.functional.cross_entropy(logits[0, :-1], batch[0, 1:])
        nlls.append(loss * seqlen)
    nll = float(torch.stack(nlls).sum())
    return {"ppl": math.exp(nll / (windows * seqlen)), "windows": windows, "nll": nll}


def quantizable_layers(model) -> dict[str, torch.nn.Linear]:
    """Linear layers of a causal LM except its output head (kept in float, as in the field)."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return {n: m for n, m in linear_layers(model).items() if m is not head}


def run_perplexity(model_dir, text_path=None, methods=("rtn3", "fineq"), *, seqlen: int = DEFAULT_SEQLEN,
                   max_windows: int | None = None, threshold: float = DEFAULT_THRESHOLD,
                   progress: bool = True) -> dict:
    """Float and quantized perplexity on one text in one run."""
    registry = method_registry(threshold)
    unknown = [m for m in methods if m not in registry]
    if unknown:
        raise FineQError(f"unknown or calibrated method(s) {', '.join(unknown)} for perplexity; "
                         f"choose from {', '.join(registry)}")
    source = "file"
    if text_path is None:
        text_path, source = pydoc_text(), "pydoc_data.topics prose (no WikiText-2 on this machine)"
    text = read_text(text_path)
    model, tokenizer = load_causal_lm(model_dir)
    limit = max_positions(model)
    if limit is not None and seqlen > limit:
        raise FineQError(f"window length {seqlen} exceeds the model's {limit} positions; pass --seqlen {limit}")
    ids = tokenize(tokenizer, text)
    layers = quantizable_layers(model)
    original = {n: lin.weight.detach().clone() for n, lin in layers.items()}
    start = time.perf_counter()
    results = {"fp32": {"bpw": 32.0, "seconds": 0.0,
                        **perplexity(model, ids, seqlen, max_windows=max_windows, progress=progress, desc="fp32")}}
    results["fp32"]["eval_seconds"] = time.perf_counter() - start
    for method in methods:
        start = time.perf_counter()
        out = {n: registry[method](lin.weight, n) for n, lin in layers.items()}
        seconds = time.perf_counter() - start
        apply_layers(model, out)
        results[method] = {"bpw": summarize_bpw(out), "seconds": seconds,
                           **perplexity(model, ids, seqlen, max_windows=max_windows, progress=progress, desc=method)}
        with torch.no_grad():
            for n, lin in layers.items():
                lin.weight.copy_(original[n])
    from .models import model_folder_of

    return {"model": model_folder_of(model_dir, progress=False)[1], "text": str(text_path), "text_source": source,
            "tokens": int(ids.numel()), "seqlen": seqlen, "windows": results["fp32"]["windows"],
            "quantized_layers": len(layers), "methods": results}


def format_perplexity(report: dict) -> str:
    rows = [f"{report['model']}: {report['tokens']:,} tokens of {report['text']} ({report['text_source']}), "
            f"{report['windows']} windows of {report['seqlen']}",
            f"{'method':<14}{'bpw':>8}{'ppl':>12}"]
    for m, r in report["methods"].items():
        rows.append(f"{m:<14}{r['bpw']:>8.3f}{r['ppl']:>12.3f}")
    return "\n".join(rows)
