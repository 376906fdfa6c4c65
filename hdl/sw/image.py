"""Memory image builder: a fineq-v1 layer, INT8 activations and requantization parameters ->
the bytes the accelerator's DMA reads, and the register values that point at them.

Layout (all little-endian 32-bit words; docs/accelerator.md has the picture):

    W  packed weights   N rows of ceil(ceil(K/3)/4) words (quant.format.pack_words: cluster 4w+b
                        in byte b of word w, a row padded with 0x00 bytes)
    X  activations      M rows of ceil(K/4) words (INT8 x[m, k] in byte k, padded with 0x00)
    P  requantization   N pairs of words: bias[n] (INT32), then mult[n] | shift[n] << 16
                        (absent in bypass mode)
    Y  results          INT8: M rows of ceil(N/4) words (y[m, n] in byte n, padding bytes are
                        never written); INT32 (bypass): M rows of N words

Regions start on ``align``-byte boundaries after ``base``, in the order W, X, P, Y.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quant import golden
from quant.errors import FineQError
from quant.format import num_clusters, pack_words, unpack_clusters

__all__ = ["MemoryImage", "build_image", "from_packed_file", "words_per_row"]


def words_per_row(nbytes: int) -> int:
    return -(-nbytes // 4)


def _align(addr: int, align: int) -> int:
    return -(-addr // align) * align


@dataclass
class MemoryImage:
    """Bytes to place at ``base`` and the register values of the job."""

    base: int
    data: bytes
    m: int
    k: int
    n: int
    bypass: bool
    w_addr: int
    x_addr: int
    p_addr: int
    y_addr: int
    y_bytes: int
    expected: np.ndarray | None = field(default=None, repr=False)  # golden outputs, if known

    def registers(self) -> dict[str, int]:
        """Register name -> value for hdl.soc.regmap (everything but CTRL)."""
        return {"MODE": int(self.bypass), "M": self.m, "K": self.k, "N": self.n,
                "W_ADDR": self.w_addr, "X_ADDR": self.x_addr, "P_ADDR": self.p_addr,
                "Y_ADDR": self.y_addr}

    @property
    def y_row_bytes(self) -> int:
        return 4 * self.n if self.bypass else 4 * words_per_row(self.n)

    def decode_results(self, raw: bytes) -> np.ndarray:
        """The Y region as read back from memory -> int32 [M, N] or int8 [M, N]."""
        if len(raw) != self.y_bytes:
            raise FineQError(f"result region is {self.y_bytes} bytes, got {len(raw)}")
        if self.bypass:
            return np.frombuffer(raw, dtype="<i4").reshape(self.m, self.n).copy()
        rows = np.frombuffer(raw, dtype=np.int8).reshape(self.m, self.y_row_bytes)
        return rows[:, : self.n].copy()


def _check_requant(rq: golden.Requant, n: int) -> None:
    for name in ("bias", "mult", "shift"):
        if np.asarray(getattr(rq, name)).shape != (n,):
            raise FineQError(f"requantization {name} must have shape [{n}], "
                             f"got {np.asarray(getattr(rq, name)).shape}")
    mult, shift = np.asarray(rq.mult, np.int64), np.asarray(rq.shift, np.int64)
    if mult.min() < 0 or mult.max() >= 2**golden.MULT_BITS:
        raise FineQError(f"requantization multipliers must be in 0..{2**golden.MULT_BITS - 1}")
    if shift.min() < golden.SHIFT_MIN or shift.max() > golden.SHIFT_MAX:
        raise FineQError(f"requantization shifts must be in {golden.SHIFT_MIN}..{golden.SHIFT_MAX}")


def build_image(clusters: np.ndarray, k: int, x_q: np.ndarray, rq: golden.Requant | None, *,
                base: int = 0x1000, align: int = 64) -> MemoryImage:
    """The image of one job; ``rq=None`` selects the INT32 bypass.

    The cluster bytes are checked (shape, padding columns decode to zero) and so are the
    activations (int8 [M, K]) and requantization parameters; the golden outputs are attached.
    """
    clusters = np.asarray(clusters)
    if clusters.dtype != np.uint8 or clusters.ndim != 2:
        raise FineQError(f"cluster bytes must be uint8 [N, C], got {clusters.dtype} {clusters.shape}")
    q = unpack_clusters(clusters, k)  # checks the shape and the padding
    x_q = np.asarray(x_q)
    if x_q.dtype != np.int8 or x_q.ndim != 2 or x_q.shape[1] != k:
        raise FineQError(f"activations must be int8 [M, {k}], got {x_q.dtype} {x_q.shape}")
    m, n = x_q.shape[0], clusters.shape[0]
    if m == 0 or n == 0:
        raise FineQError("M and N must be at least 1")
    if base % 4 or align % 4:
        raise FineQError("base and align must be multiples of 4")

    w_words = pack_words(clusters)  # [N, wpr]
    x_bytes = np.zeros((m, 4 * words_per_row(k)), dtype=np.int8)
    x_bytes[:, :k] = x_q
    parts = [w_words.astype("<u4").tobytes(), x_bytes.tobytes()]
    if rq is not None:
        _check_requant(rq, n)
        p = np.empty((n, 2), dtype="<u4")
        p[:, 0] = np.asarray(rq.bias, dtype=np.int64) & 0xFFFFFFFF
        p[:, 1] = np.asarray(rq.mult, np.int64) | (np.asarray(rq.shift, np.int64) << 16)
        parts.append(p.tobytes())
    else:
        parts.append(b"")
    y_bytes = m * (4 * n if rq is None else 4 * words_per_row(n))

    addrs, blob, addr = [], bytearray(), base
    for part in parts:
        addr = _align(addr, align)
        blob.extend(b"\0" * (addr - base - len(blob)))
        addrs.append(addr)
        blob.extend(part)
        addr += len(part)
    y_addr = _align(addr, align)
    acc = golden.int_gemm(x_q, q)
    expected = acc if rq is None else golden.requantize(acc, rq)
    return MemoryImage(base=base, data=bytes(blob), m=m, k=k, n=n, bypass=rq is None,
                       w_addr=addrs[0], x_addr=addrs[1], p_addr=addrs[2] if rq is not None else 0,
                       y_addr=y_addr, y_bytes=y_bytes, expected=expected)


def from_packed_file(path, layer: str, x_q: np.ndarray, rq: golden.Requant | None, **kw) -> MemoryImage:
    """build_image for layer ``layer`` of a fineq-v1 packed file (quant.checkpoint.save_packed)."""
    from quant.checkpoint import load_packed

    layers, _ = load_packed(path)
    if layer not in layers:
        raise FineQError(f"{path} has no layer {layer!r}; it holds {', '.join(list(layers)[:5])}, ...")
    fl = layers[layer]
    if num_clusters(fl.k) != fl.clusters.shape[1]:
        raise FineQError(f"{path}: layer {layer!r} is corrupt (cluster count)")
    return build_image(fl.clusters, fl.k, x_q, rq, **kw)
