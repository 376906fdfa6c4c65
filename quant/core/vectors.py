"""The golden-vector file: the one reader (with its checks) and writer, for quant, verif and the tests.

quant.study.vectors makes the arrays from a real layer of a real checkpoint and real activations.

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
import zipfile
from pathlib import Path

import numpy as np

from . import golden
from .errors import FineQError
from .format import unpack_clusters
from .paths import atomic

__all__ = ["FORMAT", "FORMAT_V2", "FIELDS", "save_vectors", "load_vectors"]

FORMAT = "fineq-golden-v1"  # per-tensor activations, fineq-v1 weights (unchanged since issue #5)
FORMAT_V2 = "fineq-golden-v2"  # adds per-token activation scales and fineq-v2 group factors
FIELDS = ("clusters", "scales", "q", "x_q", "act_scale", "bias", "mult", "shift", "out_scale", "acc", "y")


def save_vectors(vectors: dict, path) -> Path:
    """Write a golden-vector file (the arrays of :func:`make_vectors <quant.study.vectors.make_vectors>`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **vectors)
    return path


def load_vectors(path) -> dict:
    """Read and check a golden-vector file (the expected outputs must follow from the inputs)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            v = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise FineQError(f"{path} is not a readable golden-vector file: {e}") from None
    missing = [f for f in (*FIELDS, "meta") if f not in v]
    if missing:
        raise FineQError(f"{path}: missing fields {missing}")
    meta = json.loads(str(v["meta"]))
    if meta.get("format") not in (FORMAT, FORMAT_V2):
        raise FineQError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r} or {FORMAT_V2!r}")
    v["meta"] = meta
    m = v["x_q"].shape[0]
    per_token = meta.get("act_mode", "per-tensor") == "per-token"
    if v["act_scale"].shape != ((m,) if per_token else ()):
        raise FineQError(f"{path}: act_scale has shape {v['act_scale'].shape}, expected {(m,) if per_token else ()} "
                         f"for {meta.get('act_mode', 'per-tensor')} activations")
    grouped = meta.get("weight_format", "fineq-v1") == "fineq-v2"
    if grouped and ("sub" not in v or "group" not in meta):
        raise FineQError(f"{path}: fineq-v2 vectors need the group factors 'sub' and meta 'group'")
    if not np.array_equal(unpack_clusters(v["clusters"], v["q"].shape[1]), v["q"]):
        raise FineQError(f"{path}: decoded weights q do not match the cluster bytes (corrupt file)")
    rq = golden.Requant(bias=v["bias"], mult=v["mult"], shift=v["shift"])
    try:
        acc = (golden.int_gemm_grouped(v["x_q"], v["q"], v["sub"], int(meta["group"])) if grouped
               else golden.int_gemm(v["x_q"], v["q"]))
    except FineQError as e:
        raise FineQError(f"{path}: {e}") from None
    if not np.array_equal(acc, v["acc"]) or not np.array_equal(
        golden.requantize(v["acc"], rq), v["y"]
    ):
        raise FineQError(f"{path}: expected outputs do not follow from its inputs (corrupt file)")
    return v
