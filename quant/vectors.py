"""Golden vectors for the hardware tests: a real layer of a real checkpoint, real activations.

The file is a numpy ``.npz`` (format ``fineq-golden-v1``, documented in
docs/golden-vectors.md) with, for a slice of one linear layer (``rows`` output channels,
the first ``k`` input features) and ``tokens`` activation rows:

    clusters  uint8   [N, ceil(K/3)]  fineq-v1 cluster bytes of the slice
    scales    float16 [N]             weight scales
    q         int8    [N, K]          decoded weights (convenience, = decode(clusters))
    x_q       int8    [M, K]          INT8 activations (symmetric per tensor)
    act_scale float32 []              activation scale s_x
    bias      int32   [N]             bias in units of s_x * s_w[n]
    mult      int32   [N]             requantization multiplier, 2**14 <= mult < 2**15
    shift     int32   [N]             requantization shift
    out_scale float32 []              output scale s_y
    acc       int32   [M, N]          expected INT32 sums (bypass output)
    y         int8    [M, N]          expected INT8 outputs
    meta      str     []              JSON: layer, model, tokens, threshold, text, format
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from . import corpus, golden
from .checkpoint import linear_layers, load_model
from .errors import FineQError
from .fineq import DEFAULT_THRESHOLD, quantize_fineq

FORMAT = "fineq-golden-v1"
DEFAULT_LAYER = "encoder.layer.0.attention.self.query"
FIELDS = ("clusters", "scales", "q", "x_q", "act_scale", "bias", "mult", "shift", "out_scale", "acc", "y")


@torch.no_grad()
def layer_inputs(model, tokenizer, layer: torch.nn.Linear, tokens: int) -> torch.Tensor:
    """The first ``tokens`` real (non-padding) input rows the layer sees on corpus sentences."""
    captured = []
    handle = layer.register_forward_hook(lambda mod, args, out: captured.append(args[0].detach()))
    try:
        rows, texts = [], corpus.sentences()
        for i in range(0, len(texts), 16):
            captured.clear()
            batch = tokenizer(texts[i : i + 16], padding=True, truncation=True, max_length=256,
                              return_tensors="pt")
            model(**batch)
            mask = batch["attention_mask"].bool()
            rows.append(captured[0][mask])
            if sum(r.shape[0] for r in rows) >= tokens:
                break
    finally:
        handle.remove()
    x = torch.cat(rows)
    if x.shape[0] < tokens:
        raise FineQError(f"only {x.shape[0]} tokens of text are available, asked for {tokens}")
    return x[:tokens]


def make_vectors(model_dir=None, *, layer: str = DEFAULT_LAYER, rows: int | None = None,
                 k: int | None = None, tokens: int = 8, threshold: float = DEFAULT_THRESHOLD) -> dict:
    model, tokenizer, name = load_model(model_dir)
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
    x = layer_inputs(model, tokenizer, lin, tokens)[:, :k].numpy()
    qlayer = quantize_fineq(lin.weight[:rows, :k], threshold, name=layer)
    q = qlayer.codes()
    x_q, act_scale = golden.quantize_activations(x)
    acc = golden.int_gemm(x_q, q)
    bias = None if lin.bias is None else lin.bias[:rows].detach().numpy()
    w_scales = qlayer.scales.astype(np.float64)
    y_float = act_scale * acc * w_scales + (0.0 if bias is None else bias)
    out_scale = np.float32(max(np.abs(y_float).max(), 1e-8) / 127)
    rq = golden.make_requant(act_scale, w_scales, float(out_scale), bias)
    meta = {"format": FORMAT, "model": name, "layer": layer, "layer_shape": [n_full, k_full],
            "rows": rows, "k": k, "tokens": tokens, "threshold": threshold,
            "text": "pydoc_data.topics prose sentences (quant.corpus), first tokens of the batch"}
    return {"clusters": qlayer.clusters, "scales": qlayer.scales, "q": q, "x_q": x_q,
            "act_scale": np.float32(act_scale), "bias": rq.bias, "mult": rq.mult, "shift": rq.shift,
            "out_scale": out_scale, "acc": acc, "y": golden.requantize(acc, rq),
            "meta": np.array(json.dumps(meta))}


def save_vectors(vectors: dict, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **vectors)
    return path


def load_vectors(path) -> dict:
    """Read and check a golden-vector file (the expected outputs must follow from the inputs)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            v = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise FineQError(f"{path} is not a readable golden-vector file: {e}") from None
    missing = [f for f in (*FIELDS, "meta") if f not in v]
    if missing:
        raise FineQError(f"{path}: missing fields {missing}")
    meta = json.loads(str(v["meta"]))
    if meta.get("format") != FORMAT:
        raise FineQError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    v["meta"] = meta
    from .format import unpack_clusters

    if not np.array_equal(unpack_clusters(v["clusters"], v["q"].shape[1]), v["q"]):
        raise FineQError(f"{path}: decoded weights q do not match the cluster bytes (corrupt file)")
    rq = golden.Requant(bias=v["bias"], mult=v["mult"], shift=v["shift"])
    if not np.array_equal(golden.int_gemm(v["x_q"], v["q"]), v["acc"]) or not np.array_equal(
        golden.requantize(v["acc"], rq), v["y"]
    ):
        raise FineQError(f"{path}: expected outputs do not follow from its inputs (corrupt file)")
    return v
