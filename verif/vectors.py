"""Test inputs for the arrays: tiles of a real layer (golden vectors) and random tiles.

Golden vectors are the ``.npz`` files ``python -m quant vectors`` writes (format
``fineq-golden-v1``: ``clusters`` uint8 [N, ceil(K/3)], ``q`` int8 [N, K], ``x_q`` int8 [M, K],
``acc`` int32 [M, N], ...). This module reads them with quant.core.vectors.load_vectors (numpy and the golden model, no torch),
so the simulator processes stay light, and cuts them into array tiles:

    tile (kt, nt):  q[n0:n0+cols, k0:k0+rows]  (weights as the array holds them, [cols, rows])
                    x_q[:M, k0:k0+rows]          (activation vectors, [M, rows])
    expected:       quant.core.golden.int_gemm(x, q)  (the tile's INT32 partial sums, [M, cols])

and the sum of a column block's tiles over all K tiles must equal the file's ``acc``.
Weights are decoded from the cluster bytes with ``quant.core.format.unpack_clusters``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hdl.datapath.config import ArrayConfig, ArrayKind
from quant.core import paths
from quant.core.format import encode_bytes, num_clusters, unpack_clusters
from quant.core.golden import int_gemm
from quant.core.vectors import load_vectors

__all__ = [
    "Tile", "load_golden", "synthetic_golden", "layer_tiles", "random_tiles", "ensure_vectors",
    "DEFAULT_VECTORS", "tiles_to_npz", "tiles_from_npz",
]

ROOT = Path(__file__).resolve().parent.parent
# N = 24 output channels (two default-config column blocks), all K = 384 inputs, 8 tokens.
DEFAULT_VECTORS = "minilm-layer0-query-n24.npz"  # under build/vectors/
DEFAULT_ARGS = ["--rows", "24", "--tokens", "8"]


@dataclass
class Tile:
    """One weight load and the activation vectors streamed through it."""

    name: str
    q: np.ndarray  # [cols, rows] weights: q[c, r] multiplies input r into output column c
    x: np.ndarray  # [M, rows] activations
    origin: tuple = ()  # (k0, n0) inside the layer, for messages

    @property
    def expected(self) -> np.ndarray:
        return int_gemm(self.x, self.q)


def load_golden(path) -> dict:
    """A golden-vector file read and checked by quant.core.vectors.load_vectors (FineQError if it is
    not self-consistent), with its path under ``source``."""
    return {**load_vectors(path), "source": str(path)}


def synthetic_golden(seed: int = 0, n: int = 24, k: int = 96, m: int = 8) -> dict:
    """Random vectors in the same form, for when no real-layer file is available."""
    rng = np.random.default_rng(seed)
    c = num_clusters(k)
    fmt = rng.integers(0, 4, size=(n, c))
    q3 = np.where(fmt[..., None] == 0, rng.integers(-2, 2, size=(n, c, 3)),
                  rng.integers(-4, 4, size=(n, c, 3)))
    q3[np.arange(3) == (fmt[..., None] - 1)] = 0
    clusters = encode_bytes(q3, fmt)
    q = unpack_clusters(clusters, k)
    x_q = rng.integers(-127, 128, size=(m, k)).astype(np.int8)
    v = {"clusters": clusters, "q": q, "x_q": x_q, "acc": int_gemm(x_q, q),
         "meta": {"layer": "synthetic", "model": "random"}, "source": f"synthetic(seed={seed})"}
    return v  # consistent by construction: q decodes the bytes, acc is int_gemm(x_q, q)


def ensure_vectors(path: str | Path = DEFAULT_VECTORS, args=DEFAULT_ARGS) -> Path:
    """Write golden vectors with ``python -m quant vectors ARGS`` unless ``path`` exists (a bare file
    name is taken under build/vectors/)."""
    path = Path(path) if Path(path).parent != Path() else paths.build_dir("vectors", path)
    path = path.absolute()
    with paths.locked(path):    # parallel test workers write it once
        if not path.exists():
            env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
            cmd = [sys.executable, "-m", "quant", "-q", "vectors", *args, "--out", str(path)]
            done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode != 0 or not path.exists():
                raise RuntimeError(
                    f"`{' '.join(cmd[1:])}` failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return path


def _weights_for(kind: ArrayKind, q: np.ndarray) -> np.ndarray:
    # The MAC arrays take the same integers; for the 8x8 one they are INT8 weights that happen to
    # lie in -4..3 (real INT8 weights of the layer are not part of the golden vectors).
    return q.astype(np.int64)


def layer_tiles(v: dict, cfg: ArrayConfig, kind: ArrayKind, *, tokens: int | None = None,
                col_blocks: int = 1, k_tiles: int | None = None) -> list[Tile]:
    """Tiles of the golden layer: every K tile (or the first ``k_tiles``) of the first
    ``col_blocks`` blocks of ``cols`` output channels, zero-padded at the edges."""
    q_all = _weights_for(kind, v["q"])
    x_all = v["x_q"].astype(np.int64)
    n, k = q_all.shape
    m = x_all.shape[0] if tokens is None else min(tokens, x_all.shape[0])
    rows, cols = cfg.rows, cfg.cols
    n_kt = -(-k // rows)
    if k_tiles is not None:
        n_kt = min(n_kt, k_tiles)
    tiles = []
    for nt in range(min(col_blocks, -(-n // cols))):
        for kt in range(n_kt):
            k0, n0 = kt * rows, nt * cols
            q = np.zeros((cols, rows), dtype=np.int64)
            x = np.zeros((m, rows), dtype=np.int64)
            qs = q_all[n0 : n0 + cols, k0 : k0 + rows]
            q[: qs.shape[0], : qs.shape[1]] = qs
            xs = x_all[:m, k0 : k0 + rows]
            x[:, : xs.shape[1]] = xs
            name = f"{v.get('meta', {}).get('layer', 'layer')} k{k0}:{k0 + rows} n{n0}:{n0 + cols}"
            tiles.append(Tile(name, q, x, (k0, n0)))
    return tiles


def random_tiles(rng: np.random.Generator, cfg: ArrayConfig, kind: ArrayKind, count: int,
                 max_tokens: int = 6) -> list[Tile]:
    """Random tiles over the full input ranges, plus the corner cases that reach the bounds."""
    rows, cols = cfg.rows, cfg.cols
    wb = cfg.weight_bits(kind)
    wlo, whi = -(1 << (wb - 1)), (1 << (wb - 1)) - 1
    alo, ahi = -(1 << (cfg.act_width - 1)), (1 << (cfg.act_width - 1)) - 1
    tiles = [
        # Largest |sum| of every column: the most negative weight times the most negative input.
        Tile("extreme", np.full((cols, rows), wlo), np.full((2, rows), alo)),
        Tile("extreme-mixed", np.full((cols, rows), wlo),
             np.stack([np.full(rows, ahi), np.full(rows, alo)])),
        # |q| <= 1 everywhere: the shortest FineQ beat.
        Tile("unit", rng.integers(-1, 2, size=(cols, rows)),
             rng.integers(alo, ahi + 1, size=(3, rows))),
        Tile("zero-weights", np.zeros((cols, rows), dtype=np.int64),
             rng.integers(alo, ahi + 1, size=(2, rows))),
    ]
    for i in range(count):
        m = int(rng.integers(1, max_tokens + 1))
        tiles.append(Tile(f"random{i}", rng.integers(wlo, whi + 1, size=(cols, rows)),
                          rng.integers(alo, ahi + 1, size=(m, rows))))
    return tiles


def write_npz(path, arrays: dict, **json_fields) -> Path:
    """Numbered arrays plus JSON-encoded fields in one .npz (read back with allow_pickle=False)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {**arrays, **{k: np.array(json.dumps(v)) for k, v in json_fields.items()}}
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def tiles_to_npz(tiles: list[Tile], path) -> Path:
    """Hand tiles to a simulator process (cocotb tests read them back with tiles_from_npz)."""
    arrays = {}
    for i, t in enumerate(tiles):
        arrays[f"q{i}"] = t.q
        arrays[f"x{i}"] = t.x
    return write_npz(path, arrays, names=[[t.name, list(t.origin)] for t in tiles])


def tiles_from_npz(path) -> list[Tile]:
    with np.load(path, allow_pickle=False) as z:
        names = json.loads(str(z["names"]))
        return [Tile(name, z[f"q{i}"], z[f"x{i}"], tuple(origin))
                for i, (name, origin) in enumerate(names)]
