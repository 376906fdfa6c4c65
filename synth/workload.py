"""The real workload the energy estimate replays on every array: tiles of one linear layer of the
default checkpoint with real activations.

Source of the numbers, in order of preference:

1. ``--vectors FILE.npz`` from ``python -m quant vectors`` (``q`` int8 [N, K] FineQ codes, ``x_q``
   int8 [M, K], ``acc`` int32 [M, N]); the INT8 weights of the W8A8 baseline are then RTN INT8
   codes of the same layer if the file has ``q8``, else they are computed from the checkpoint;
2. otherwise built here from the checkpoint: FineQ codes of the layer (``quant.methods.fineq``), INT8 RTN
   codes (``quant.methods.rtn``, the W8A8 baseline's weights), and the layer's real inputs captured with a
   forward hook on corpus sentences (``quant.study.corpus``), quantized to INT8 by
   ``quant.core.golden.quantize_activations``.

The array stream protocol (hdl/datapath/array.py, docs/hdl.md): ``w`` takes ``cols`` beats per
tile (the generated arrays load one column per beat), beat ``c`` holding ``q[n0 + c, k0 + r]``
in lane ``r`` followed by the tile's row and column masks (all ones: no padding); ``x`` takes
``{data: rows x int8, last}``; ``y`` returns ``{data: cols x int32, last}`` per ``x`` beat. The
payloads are packed little-end first (lane 0 in the low bits), as Amaranth flattens array and
struct layouts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_LAYER = "encoder.layer.0.attention.self.query"


@dataclass
class Workload:
    layer: str
    q: np.ndarray        # FineQ codes int8 [N, K]
    q8: np.ndarray       # INT8 RTN codes int8 [N, K]
    x_q: np.ndarray      # INT8 activations [M, K]
    source: str

    def weights(self, which: str) -> np.ndarray:
        return {"fineq": self.q, "int8": self.q8}[which]


def build(layer: str = DEFAULT_LAYER, tokens: int = 64, vectors: Path | None = None) -> Workload:
    if vectors is not None:
        z = np.load(vectors)
        missing = [k for k in ("q", "x_q") if k not in z]
        if missing:
            raise ValueError(f"{vectors} lacks {missing} (expected the output of `python -m quant vectors`)")
        q, x_q = z["q"].astype(np.int8), z["x_q"].astype(np.int8)
        lname = layer
        if "meta" in z:
            import json
            lname = json.loads(str(z["meta"])).get("layer", layer)
        q8 = z["q8"].astype(np.int8) if "q8" in z else _int8_codes(lname, q.shape)
        if "acc" in z:
            from quant.core.golden import int_gemm
            if not np.array_equal(int_gemm(x_q, q), z["acc"]):
                raise ValueError(f"{vectors}: acc != x_q @ q.T; the file is inconsistent")
        return Workload(lname, q, q8, x_q[:tokens], f"{vectors}")
    import torch

    from quant.core.golden import quantize_activations
    from quant.methods.fineq import quantize_fineq
    from quant.methods.rtn import quantize_rtn
    from quant.study import checkpoint, corpus

    model, tok, name = checkpoint.load_model()
    lin = checkpoint.linear_layers(model)
    if layer not in lin:
        raise ValueError(f"layer {layer!r} not in {name}; e.g. {list(lin)[:3]}")
    mod = lin[layer]
    captured = []
    h = mod.register_forward_hook(lambda m, i, o: captured.append(i[0].detach().reshape(-1, i[0].shape[-1])))
    sents = corpus.sentences(8)
    with torch.no_grad():
        enc = tok(sents, return_tensors="pt", padding=True, truncation=True, max_length=64)
        model(**enc)
    h.remove()
    # keep real tokens only (drop padding)
    mask = enc["attention_mask"].reshape(-1).bool()
    x = captured[0][mask].numpy()
    x_q, _ = quantize_activations(x)
    w = mod.weight.detach()
    q = quantize_fineq(w, name=layer).codes()
    q8 = quantize_rtn(w, 8, name=layer).codes()
    return Workload(layer, q, q8, x_q[:tokens], f"{name}:{layer}, {len(sents)} corpus sentences")


def _int8_codes(layer, shape):
    from quant.methods.rtn import quantize_rtn
    from quant.study import checkpoint
    model, _, _ = checkpoint.load_model()
    w = checkpoint.linear_layers(model)[layer].weight.detach()
    if w.shape[0] < shape[0] or w.shape[1] < shape[1]:
        raise ValueError(f"layer {layer} has shape {tuple(w.shape)}, smaller than the vectors' {shape}")
    # the vectors hold the first N rows and K features of the layer, quantized on their own
    return quantize_rtn(w[: shape[0], : shape[1]], 8, name=layer).codes()


def pack(values, width: int) -> int:
    out = 0
    mask = (1 << width) - 1
    for i, v in enumerate(values):
        out |= (int(v) & mask) << (i * width)
    return out


def unpack_signed(word: int, width: int, n: int) -> list[int]:
    mask = (1 << width) - 1
    out = []
    for i in range(n):
        v = (word >> (i * width)) & mask
        out.append(v - (1 << width) if v >> (width - 1) else v)
    return out


@dataclass
class ArrayRun:
    words: dict
    expect: dict
    macs: int
    tiles: list
    check: object   # callable(outputs) -> (ok, message)


def array_run(wl: Workload, rows: int, cols: int, weight_bits: int, weights: str = "fineq",
              tiles: int = 4, vectors: int = 16, act_width: int = 8, acc_width: int = 32) -> ArrayRun:
    """Words for the array streams: ``tiles`` tiles of ``rows x cols`` weights taken along the
    layer's diagonal-ish so they differ, each multiplied by ``vectors`` activation vectors."""
    q = wl.weights(weights)
    n_all, k_all = q.shape
    m_all = wl.x_q.shape[0]
    if vectors > m_all:
        raise ValueError(f"workload has {m_all} activation vectors, {vectors} asked")
    lim = (1 << (weight_bits - 1))
    if q.min() < -lim or q.max() > lim - 1:
        raise ValueError(f"{weights} weights do not fit {weight_bits}-bit lanes")
    chosen = []
    nt, kt = n_all // cols, k_all // rows
    if nt == 0 or kt == 0:
        raise ValueError(f"layer {q.shape} is smaller than one {rows}x{cols} tile")
    for t in range(tiles):
        chosen.append(((t * 7) % nt * cols, (t * 5) % kt * rows, (t * vectors) % max(1, m_all - vectors + 1)))
    w_words, x_words, expected = [], [], []
    masks = (((1 << cols) - 1) << rows | ((1 << rows) - 1)) << (rows * weight_bits)
    for n0, k0, m0 in chosen:
        wt = q[n0:n0 + cols, k0:k0 + rows]
        xt = wl.x_q[m0:m0 + vectors, k0:k0 + rows]
        for c in range(cols):
            w_words.append(pack(wt[c], weight_bits) | masks)
        for m in range(vectors):
            x_words.append(pack(xt[m], act_width) | (int(m == vectors - 1) << (rows * act_width)))
        ref = xt.astype(np.int64) @ wt.astype(np.int64).T
        expected.extend([list(map(int, r)) for r in ref])

    def check(outputs):
        ys = outputs.get("y", [])
        if len(ys) != len(expected):
            return False, f"{len(ys)} y beats, expected {len(expected)}"
        for i, (word, ref) in enumerate(zip(ys, expected, strict=True)):
            got = unpack_signed(word, acc_width, cols)
            if got != ref:
                return False, f"y beat {i}: {got[:4]}... != {ref[:4]}..."
            last = (word >> (cols * acc_width)) & 1
            if last != int(i % vectors == vectors - 1):
                return False, f"y beat {i}: last={last}"
        return True, f"{len(ys)} y beats bit-exact"

    return ArrayRun({"w": w_words, "x": x_words}, {"y": len(expected)},
                    tiles * vectors * rows * cols, chosen, check)
