"""Jobs for the accelerator top level: slices of a real layer (golden vectors) and random jobs.

A job is what one START computes: cluster bytes [N, ceil(K/3)], INT8 activations [M, K], and
requantization parameters (or none: INT32 bypass). Jobs go to the simulator process as one
``.npz`` (``jobs_to_npz`` / ``jobs_from_npz``); the testbench builds the memory image with
hdl.sw.image and checks the outputs against quant.core.golden.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quant.core import golden
from quant.core.format import encode_bytes, num_clusters, unpack_clusters
from verif.vectors import ensure_vectors, write_npz

__all__ = ["Job", "layer_job", "random_job", "jobs_to_npz", "jobs_from_npz", "ensure_layer_vectors",
           "FULL_LAYER_VECTORS"]

# The whole attention query projection of MiniLM layer 0 (384 x 384) with 8 real tokens.
FULL_LAYER_VECTORS = "minilm-layer0-query-full-m8.npz"  # under build/vectors/
FULL_LAYER_ARGS = ["--tokens", "8"]


@dataclass
class Job:
    name: str
    clusters: np.ndarray  # uint8 [N, ceil(K/3)]
    k: int
    x: np.ndarray  # int8 [M, K]
    rq: golden.Requant | None  # None: INT32 bypass
    w8: np.ndarray | None = None  # int8 [N, K]: weights for INT8 x INT8 builds (else decoded q)
    factors: np.ndarray | None = None  # uint8 [N, ceil(K/group)]: fineq-v2 group factors
    group: int = 0

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.x.shape[0], self.k, self.clusters.shape[0]

    def expected(self) -> np.ndarray:
        q = unpack_clusters(self.clusters, self.k)
        if self.factors is None:
            return golden.linear_int8(self.x, q, self.rq)
        acc = golden.int_gemm_grouped(self.x, q, self.factors, self.group)
        return acc if self.rq is None else golden.requantize(acc, self.rq)


def layer_job(v: dict, *, n: int | None = None, k: int | None = None, m: int | None = None,
              bypass: bool = False, name: str | None = None) -> Job:
    """The first n rows, k inputs and m tokens of a golden-vector file, with requantization
    parameters made for that slice (output scale from its own float range, the file's biases)."""
    q_all = v["q"]
    n = q_all.shape[0] if n is None else n
    k = q_all.shape[1] if k is None else k
    m = v["x_q"].shape[0] if m is None else m
    q = q_all[:n, :k]
    c = num_clusters(k)
    # Re-encode the slice's weights (a cut through a cluster leaves positions >= k at zero).
    q3 = np.zeros((n, 3 * c), dtype=np.int8)
    q3[:, :k] = q
    q3 = q3.reshape(n, c, 3)
    clusters = v["clusters"][:n, :c].copy()
    if k % 3:
        fmt = clusters[:, -1] >> 6
        # Pruned positions stay pruned; normal clusters stay normal (codes only shrink to 0).
        clusters[:, -1] = encode_bytes(q3[:, -1], fmt)
    assert np.array_equal(unpack_clusters(clusters, k), q), "slice re-encoding broke the weights"
    x = v["x_q"][:m, :k].astype(np.int8)
    meta = v.get("meta", {}) if isinstance(v.get("meta"), dict) else {}
    factors, group = None, 0
    if "sub" in v:  # fineq-v2: the slice keeps the factors of its groups
        group = int(meta["group"])
        factors = np.ascontiguousarray(v["sub"][:n, :-(-k // group)]).astype(np.uint8)
    rq = None
    if not bypass:
        rq = _slice_requant(v, x, q, factors, group, n)
    label = meta.get("layer", "layer")
    return Job(name or f"{label}[:{n}, :{k}] x {m} tokens{' (INT32)' if bypass else ''}",
               clusters, k, x, rq, factors=factors, group=group)


def _slice_requant(v, x, q, factors, group, n) -> golden.Requant:
    """Requantization for a slice: per tensor, the output scale of its own float range and the
    file's biases; per token (an act_scale per row), one output scale per channel
    (sigma[n] = max_m |acc * s_w[n]| / 127, quant.core.golden.make_requant_per_token)."""
    acc = (golden.int_gemm(x, q) if factors is None
           else golden.int_gemm_grouped(x, q, factors, group)).astype(np.float64)
    w_scales = np.asarray(v["scales"][:n], dtype=np.float64)
    if np.ndim(v["act_scale"]):
        sigma = np.maximum(np.abs(acc).max(axis=0) * w_scales, 1e-12) / 127
        return golden.make_requant_per_token(w_scales, sigma)
    act = float(v["act_scale"])
    bias_q = np.asarray(v["bias"][:n], dtype=np.int64)
    y_float = act * w_scales * (acc + bias_q)
    out_scale = max(float(np.abs(y_float).max()), 1e-8) / 127
    return golden.make_requant(act, w_scales, out_scale, bias_q * act * w_scales)


def random_job(rng: np.random.Generator, m: int, k: int, n: int, *, bypass: bool = False,
               name: str = "random", group: int = 0) -> Job:
    """Random cluster bytes (all 256 values legal; padding fixed to zero) and activations over the
    whole INT8 range, including -128, which the golden quantizer never makes but the bus can."""
    c = num_clusters(k)
    clusters = rng.integers(0, 256, size=(n, c), dtype=np.uint8)
    if k % 3:
        q = unpack_clusters(clusters, 3 * c, check_padding=False)
        q3 = q.reshape(n, c, 3).copy()
        q3[:, -1, k % 3:] = 0
        clusters[:, -1] = encode_bytes(q3[:, -1], clusters[:, -1] >> 6)
    x = rng.integers(-128, 128, size=(m, k)).astype(np.int8)
    rq = None
    if not bypass:
        mult = rng.integers(2**14, 2**15, size=n).astype(np.int32)
        shift = rng.integers(8, 16, size=n).astype(np.int32)
        bias = rng.integers(-5000, 5000, size=n).astype(np.int32)
        rq = golden.Requant(bias=bias, mult=mult, shift=shift)
    w8 = rng.integers(-128, 128, size=(n, k)).astype(np.int8)  # for INT8 x INT8 builds
    factors = None
    if group:
        factors = rng.integers(1, 256, size=(n, -(-k // group))).astype(np.uint8)
        if rq is not None:  # keep acc + bias inside INT32 with the larger sums
            rq = golden.Requant(bias=rq.bias, mult=rq.mult, shift=rq.shift + 8)
    return Job(name, clusters, k, x, rq, w8, factors, group)


def jobs_to_npz(jobs: list[Job], path) -> Path:
    arrays, meta = {}, []
    for i, j in enumerate(jobs):
        arrays[f"clusters{i}"] = j.clusters
        arrays[f"x{i}"] = j.x
        if j.rq is not None:
            arrays[f"bias{i}"], arrays[f"mult{i}"], arrays[f"shift{i}"] = j.rq.bias, j.rq.mult, j.rq.shift
        if j.w8 is not None:
            arrays[f"w8_{i}"] = j.w8
        if j.factors is not None:
            arrays[f"factors{i}"] = j.factors
        meta.append({"name": j.name, "k": j.k, "bypass": j.rq is None, "w8": j.w8 is not None,
                     "group": j.group if j.factors is not None else 0})
    return write_npz(path, arrays, meta=meta)


def jobs_from_npz(path) -> list[Job]:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        jobs = []
        for i, e in enumerate(meta):
            rq = None if e["bypass"] else golden.Requant(z[f"bias{i}"], z[f"mult{i}"], z[f"shift{i}"])
            w8 = z[f"w8_{i}"] if e.get("w8") else None
            factors = z[f"factors{i}"] if e.get("group") else None
            jobs.append(Job(e["name"], z[f"clusters{i}"], int(e["k"]), z[f"x{i}"], rq, w8,
                            factors, int(e.get("group", 0))))
    return jobs


def ensure_layer_vectors(path: str | Path = FULL_LAYER_VECTORS, args=FULL_LAYER_ARGS) -> Path:
    """Golden vectors of the whole default layer, written once by `python -m quant vectors`."""
    return ensure_vectors(path, args)
