"""The fineq-v1 weight format (docs/format.md), bit-exact and vectorised.

A cluster is three consecutive weights of a row. It is stored as one byte,
``(index << 6) | payload``:

    index 00: normal, q0 = bits[1:0], q1 = bits[3:2], q2 = bits[5:4]  (2-bit, -2..1)
    index 01: q0 pruned, q1 = bits[2:0], q2 = bits[5:3]               (3-bit, -4..3)
    index 10: q1 pruned, q0 = bits[2:0], q2 = bits[5:3]
    index 11: q2 pruned, q0 = bits[2:0], q1 = bits[5:3]

Every byte value is legal, so decoding is a 256-entry table lookup. Encoding checks
that the codes fit the chosen format; it never silently wraps.
"""

from __future__ import annotations

import numpy as np

from .errors import FineQError

CLUSTER = 3
NORMAL = 0  # index value of a normal cluster; index p+1 means position p is pruned
Q2_MIN, Q2_MAX = -2, 1
Q3_MIN, Q3_MAX = -4, 3
WORD_BYTES = 4


def _sign_extend(value: np.ndarray, bits: int) -> np.ndarray:
    value = value.astype(np.int16)
    return np.where(value >= 1 << (bits - 1), value - (1 << bits), value).astype(np.int8)


def _build_decode_table() -> np.ndarray:
    byte = np.arange(256, dtype=np.uint16)
    index = byte >> 6
    two = np.stack([_sign_extend((byte >> s) & 3, 2) for s in (0, 2, 4)], axis=-1)
    lo3, hi3 = _sign_extend(byte & 7, 3), _sign_extend((byte >> 3) & 7, 3)
    zero = np.zeros_like(lo3)
    pruned = {
        1: np.stack([zero, lo3, hi3], axis=-1),
        2: np.stack([lo3, zero, hi3], axis=-1),
        3: np.stack([lo3, hi3, zero], axis=-1),
    }
    table = two.copy()
    for idx, triple in pruned.items():
        table[index == idx] = triple[index == idx]
    table.flags.writeable = False
    return table


DECODE_TABLE = _build_decode_table()  # int8 [256, 3]


def decode_bytes(clusters: np.ndarray) -> np.ndarray:
    """Cluster bytes (uint8, any shape S) -> signed codes int8 of shape S + (3,)."""
    clusters = np.asarray(clusters)
    if clusters.dtype != np.uint8:
        raise FineQError(f"cluster bytes must be uint8, got {clusters.dtype}")
    return DECODE_TABLE[clusters]


def cluster_format(clusters: np.ndarray) -> np.ndarray:
    """The 2-bit index of each cluster byte: 0 normal, p+1 when position p is pruned."""
    return np.asarray(clusters, dtype=np.uint8) >> 6


def encode_bytes(q: np.ndarray, fmt: np.ndarray) -> np.ndarray:
    """Signed codes [..., 3] and per-cluster index [...] -> cluster bytes uint8 [...].

    ``fmt`` is 0 for a normal cluster (codes in -2..1) or p+1 when position p is pruned
    (that code must be 0, the other two in -4..3). Codes that do not fit raise FineQError.
    """
    q = np.asarray(q)
    if q.shape[-1:] != (CLUSTER,):
        raise FineQError(f"codes must have a last axis of 3, got shape {q.shape}")
    return encode_planes(q[..., 0], q[..., 1], q[..., 2], fmt)


def encode_planes(q0: np.ndarray, q1: np.ndarray, q2: np.ndarray, fmt: np.ndarray, *,
                  check: bool = True) -> np.ndarray:
    """encode_bytes with the three positions given as separate arrays (the fast path).

    ``check=False`` skips the range check, for callers whose codes were clamped to the
    format's bounds already (the quantizer); the tests hold both paths to the same bytes.
    """
    fmt = np.asarray(fmt)
    planes = [np.asarray(p) for p in (q0, q1, q2)]
    if any(p.shape != fmt.shape for p in planes):
        raise FineQError(f"codes of shapes {[p.shape for p in planes]} do not match formats {fmt.shape}")
    if fmt.size and (fmt.min() < 0 or fmt.max() > 3):
        raise FineQError("cluster index must be 0..3")
    fmt = fmt.astype(np.uint8)
    normal = fmt == NORMAL
    for pos, p in enumerate(planes if check else ()):
        bad = np.where(normal, (p < Q2_MIN) | (p > Q2_MAX),
                       np.where(fmt == pos + 1, p != 0, (p < Q3_MIN) | (p > Q3_MAX)))
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise FineQError(
                f"code {int(p[at])} at cluster {at}, position {pos} does not fit cluster format {int(fmt[at])}"
            )
    u0, u1, u2 = (p.astype(np.uint8) & 7 for p in planes)  # two's complement bit patterns
    two_bit = (u0 & 3) | ((u1 & 3) << 2) | ((u2 & 3) << 4)
    # kept positions of a pruned cluster, in order: fmt 1 -> (1, 2), 2 -> (0, 2), 3 -> (0, 1)
    first = np.where(fmt == 1, u1, u0)
    second = np.where(fmt == 3, u1, u2)
    three_bit = first | (second << 3)
    return (fmt << 6) | np.where(normal, two_bit, three_bit)


def num_clusters(k: int) -> int:
    return -(-k // CLUSTER)


def unpack_clusters(clusters: np.ndarray, k: int, *, check_padding: bool = True) -> np.ndarray:
    """Packed rows uint8 [N, ceil(K/3)] -> integer weights int8 [N, K].

    Padding columns (>= K) must decode to 0; a file where they do not is corrupt.
    """
    clusters = np.asarray(clusters)
    if clusters.ndim != 2 or clusters.shape[1] != num_clusters(k):
        raise FineQError(
            f"packed clusters of shape {clusters.shape} cannot hold rows of K={k} "
            f"(expected [N, {num_clusters(k)}])"
        )
    q = decode_bytes(clusters).reshape(clusters.shape[0], -1)
    if check_padding and q[:, k:].any():
        row = int(np.argwhere(q[:, k:].any(axis=1))[0, 0])
        raise FineQError(f"row {row}: padding columns beyond K={k} decode to non-zero codes")
    return q[:, :k]


def pack_words(clusters: np.ndarray) -> np.ndarray:
    """Rows of cluster bytes [N, C] -> 32-bit memory words uint32 [N, ceil(C/4)].

    Byte b of a word holds cluster 4w+b (little-endian); a row is padded with 0x00 bytes.
    """
    clusters = np.asarray(clusters, dtype=np.uint8)
    n, c = clusters.shape
    words = -(-c // WORD_BYTES)
    padded = np.zeros((n, words * WORD_BYTES), dtype=np.uint8)
    padded[:, :c] = clusters
    return padded.reshape(n, words, WORD_BYTES).astype(np.uint32) @ (
        np.uint32(1) << (8 * np.arange(WORD_BYTES, dtype=np.uint32))
    )


def unpack_words(words: np.ndarray, c: int) -> np.ndarray:
    """Inverse of pack_words: uint32 [N, W] -> cluster bytes uint8 [N, c]."""
    words = np.asarray(words, dtype=np.uint32)
    shifts = 8 * np.arange(WORD_BYTES, dtype=np.uint32)
    b = ((words[..., None] >> shifts) & 0xFF).astype(np.uint8)
    return b.reshape(words.shape[0], -1)[:, :c]


def bits_per_weight(stored: dict[str, np.ndarray] | list[np.ndarray], n: int, k: int) -> float:
    """Bits per weight audited from the arrays actually stored for an [N, K] weight."""
    arrays = stored.values() if isinstance(stored, dict) else stored
    total_bytes = sum(np.asarray(a).nbytes for a in arrays)
    return 8.0 * total_bytes / (n * k)
