"""Golden vectors for the hardware tests: a real layer of a real checkpoint, real activations.

Makes the arrays of a slice of one linear layer (``rows`` output channels, the first ``k`` input
features) and ``tokens`` activation rows: the weights quantized, the activations captured from real
text and quantized to INT8, and the expected outputs from the golden model. The file and its fields
are quant.core.vectors' (docs/golden-vectors.md).
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import numpy as np
import torch

from ..core import golden
from ..core.errors import FineQError
from ..core.vectors import FORMAT, FORMAT_V2
from ..methods.fineq import DEFAULT_THRESHOLD, quantize_fineq
from . import corpus
from .checkpoint import linear_layers, load_model

DEFAULT_LAYER = "encoder.layer.0.attention.self.query"


@contextmanager
def inputs_of(layer: torch.nn.Linear):
    """The input batches ``layer`` sees while the ``with`` body runs (a forward hook, removed after)."""
    captured = []
    handle = layer.register_forward_hook(lambda mod, args, out: captured.append(args[0].detach()))
    try:
        yield captured
    finally:
        handle.remove()


@torch.no_grad()
def layer_inputs(model, tokenizer, layer: torch.nn.Linear, tokens: int) -> torch.Tensor:
    """The first ``tokens`` real (non-padding) input rows the layer sees on corpus sentences."""
    rows, texts = [], corpus.sentences()
    with inputs_of(layer) as captured:
        for i in range(0, len(texts), 16):
            captured.clear()
            batch = tokenizer(texts[i : i + 16], padding=True, truncation=True, max_length=256,
                              return_tensors="pt")
            model(**batch)
            rows.append(captured[0][batch["attention_mask"].bool()])
            if sum(r.shape[0] for r in rows) >= tokens:
                break
    x = torch.cat(rows)
    if x.shape[0] < tokens:
        raise FineQError(f"only {x.shape[0]} tokens of text are available, asked for {tokens}")
    return x[:tokens]


@torch.no_grad()
def causal_layer_inputs(model, tokenizer, layer: torch.nn.Linear, tokens: int) -> torch.Tensor:
    """The layer's inputs at the first ``tokens`` positions of the Python manual's prose (one
    window from the start of the text, as the perplexity loop feeds it)."""
    from .perplexity import max_positions, pydoc_text, read_text, tokenize

    ids = tokenize(tokenizer, read_text(pydoc_text()))
    limit = min(ids.shape[1], max_positions(model) or ids.shape[1])
    if tokens > limit:
        raise FineQError(f"asked for {tokens} tokens; one window of this model holds {limit}")
    with inputs_of(layer) as captured:
        getattr(model, "base_model", model)(input_ids=ids[:, :tokens])
    return captured[0].reshape(-1, captured[0].shape[-1])[:tokens]


WEIGHT_METHODS = ("fineq", "fineq-emin", "fineq-v2-emin-g96", "fineq-v2-emin-g192")
ACT_MODES = ("per-tensor", "per-token")


def quantize_slice(w: torch.Tensor, method: str, threshold: float, name: str):
    from .checkpoint import method_registry

    if method not in WEIGHT_METHODS:
        raise FineQError(f"vectors support the weight-only methods {', '.join(WEIGHT_METHODS)}, got {method!r}")
    if method == "fineq":
        return quantize_fineq(w, threshold, name=name)
    return method_registry(threshold)[method](w, name)


def load_for_vectors(model_spec):
    """(model, tokenizer, name, causal) for any --model value; causal LMs load with their head."""
    if model_spec is None:
        model, tokenizer, name = load_model(None)
        return model, tokenizer, name, False
    from .models import model_folder_of
    from .perplexity import is_causal_folder, load_causal_lm

    folder, name = model_folder_of(model_spec)
    if is_causal_folder(folder):
        model, tokenizer = load_causal_lm(folder)
        return model, tokenizer, name, True
    model, tokenizer, _ = load_model(folder)
    return model, tokenizer, name, False


def make_vectors(model_dir=None, *, layer: str = DEFAULT_LAYER, rows: int | None = None,
                 k: int | None = None, tokens: int = 8, threshold: float = DEFAULT_THRESHOLD,
                 act_mode: str = "per-tensor", method: str = "fineq") -> dict:
    if act_mode not in ACT_MODES:
        raise FineQError(f"activation mode must be one of {', '.join(ACT_MODES)}, got {act_mode!r}")
    model, tokenizer, name, causal = load_for_vectors(model_dir)
    layers = linear_layers(model)
    if layer not in layers:
        raise FineQError(f"layer {layer!r} is not a linear layer of {name}; choose one of: "
                         f"{', '.join(list(layers)[:6])}, ... ({len(layers)} in all)")
    lin = layers[layer]
    n_full, k_full = lin.weight.shape
    rows = n_full if rows is None else rows
    k = k_full if k is None else k
    if not (1 <= rows <= n_full and 1 <= k <= k_full and tokens >= 1):
        raise FineQError(f"slice rows={rows}, k={k}, tokens={tokens} does not fit layer [{n_full}, {k_full}]")
    qlayer = quantize_slice(lin.weight[:rows, :k], method, threshold, layer)
    x = (causal_layer_inputs if causal else layer_inputs)(model, tokenizer, lin, tokens)[:, :k].numpy()
    bias = None if lin.bias is None else lin.bias[:rows].detach().numpy()
    out = expected_outputs(qlayer, x, bias, act_mode)
    text = ("pydoc_data.topics prose, the first tokens of one window" if causal else
            "pydoc_data.topics prose sentences (quant.study.corpus), first tokens of the batch")
    meta = {"format": FORMAT_V2 if ("sub" in out or act_mode == "per-token") else FORMAT, "model": name,
            "layer": layer, "layer_shape": [n_full, k_full], "rows": rows, "k": k, "tokens": tokens,
            "threshold": threshold, "method": method, "act_mode": act_mode,
            "weight_format": "fineq-v2" if "sub" in out else "fineq-v1", "text": text}
    if "group" in out:
        meta["group"] = int(out.pop("group"))
    return {**out, "meta": np.array(json.dumps(meta))}


def expected_outputs(qlayer, x: np.ndarray, bias, act_mode: str) -> dict:
    """Inputs and golden outputs of one slice (docs/golden-vectors.md)."""
    q = qlayer.codes()
    w_scales = qlayer.scales.astype(np.float64)
    grouped = hasattr(qlayer, "sub")
    out = {"clusters": qlayer.clusters, "scales": qlayer.scales, "q": q}
    if grouped:
        out.update(sub=qlayer.sub, group=np.int32(qlayer.group))
    if act_mode == "per-token":
        x_q, act_scale = golden.quantize_activations_per_token(x)
    else:
        x_q, act_scale = golden.quantize_activations(x)
    acc = golden.int_gemm_grouped(x_q, q, qlayer.sub, qlayer.group) if grouped else golden.int_gemm(x_q, q)
    if act_mode == "per-token":
        sigma = np.float32(max(np.abs(acc * w_scales).max(), 1e-8) / 127)
        rq = golden.make_requant_per_token(w_scales, float(sigma))
        out_scale = sigma
        bias_host = np.zeros(q.shape[0], np.float32) if bias is None else np.asarray(bias, np.float32)
        out["bias_host"] = bias_host
    else:
        y_float = act_scale * acc * w_scales + (0.0 if bias is None else bias)
        out_scale = np.float32(max(np.abs(y_float).max(), 1e-8) / 127)
        rq = golden.make_requant(act_scale, w_scales, float(out_scale), bias)
    out.update(x_q=x_q, act_scale=np.asarray(act_scale, np.float32), bias=rq.bias, mult=rq.mult, shift=rq.shift,
               out_scale=np.float32(out_scale), acc=acc, y=golden.requantize(acc, rq))
    return out
