"""Memory image builder: a layer's weights, INT8 activations and requantization parameters ->
the bytes the accelerator's DMA reads, and the register values that point at them.

Layout (little-endian; ``B`` = the build's bus width in bytes, CAPS.BUS_BYTES; R x C array;
docs/accelerator.md has the picture):

    W  weight image     tile-major: for every block b of C channels, for every K tile t of R
                        inputs, one tile line of C columns; column c holds channel n = b*C + c:
                        its R/3 cluster bytes t*R/3 .. (t+1)*R/3 - 1 (FineQ, INT8 x 3-bit), or
                        its R INT8 weights w[n, t*R .. (t+1)*R - 1] (INT8 x INT8); padding
                        (channels >= N, inputs >= K) is zero. The host re-tiles a layer once,
                        when it loads the model. fineq-v2 (group factors e[N, ceil(K/G)]):
                        every group of G/R tiles of a block is preceded by a factor line of
                        ceil(C/B)*B bytes, byte c = e[b*C + c, g] (0 for padding channels).
    X  activations      M rows of ceil(K/B)*B bytes: x[m, k] in byte k of row m
    P  requantization   per block b, at b * ceil(8C/B)*B: per channel c of the block, the words
                        bias[n] (INT32) and mult[n] | shift[n] << 16 (absent in bypass mode)
    Y  results          M rows of ceil(N*e/B)*B bytes, e = 1 (INT8) or 4 (INT32 bypass);
                        padding bytes are never written

Regions start on ``align``-byte boundaries after ``base`` (a multiple of B), in the order
W, X, P, Y.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdl.datapath.config import ArrayKind
from hdl.soc.accel_config import AcceleratorConfig
from quant.core import golden
from quant.core.errors import FineQError
from quant.core.format import num_clusters, unpack_clusters

__all__ = ["MemoryImage", "build_image", "from_packed_file", "weight_image", "group_register",
           "round_up"]


def round_up(nbytes: int, unit: int) -> int:
    return -(-nbytes // unit) * unit


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
    y_stride: int
    expected: np.ndarray | None = field(default=None, repr=False)  # golden outputs, if known
    group: int = 0  # the GROUP register (0: fineq-v1)

    def registers(self) -> dict[str, int]:
        """Register name -> value for hdl.soc.regmap (everything but CTRL)."""
        return {"MODE": int(self.bypass), "M": self.m, "K": self.k, "N": self.n,
                "W_ADDR": self.w_addr, "X_ADDR": self.x_addr, "P_ADDR": self.p_addr,
                "Y_ADDR": self.y_addr, "GROUP": self.group}

    @property
    def y_bytes(self) -> int:
        return self.m * self.y_stride

    def decode_results(self, raw: bytes) -> np.ndarray:
        """The Y region as read back from memory -> int32 [M, N] or int8 [M, N]."""
        if len(raw) != self.y_bytes:
            raise FineQError(f"result region is {self.y_bytes} bytes, got {len(raw)}")
        if self.bypass:
            rows = np.frombuffer(raw, dtype="<i4").reshape(self.m, self.y_stride // 4)
        else:
            rows = np.frombuffer(raw, dtype=np.int8).reshape(self.m, self.y_stride)
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


def group_register(group: int, cfg: AcceleratorConfig) -> int:
    """GROUP register value for fineq-v2 groups of ``group`` inputs (0: fineq-v1)."""
    if not group:
        return 0
    tiles = group // cfg.rows
    if not cfg.group_scales:
        raise FineQError("this build takes INT8 weights: it has no fineq-v2 group factors")
    if group % cfg.rows or tiles & (tiles - 1) or tiles > 1 << 15:
        raise FineQError(f"group size {group} must be {cfg.rows} (the array's rows) times a power "
                         "of two for this build")
    return 0x10 | (tiles.bit_length() - 1)


def weight_image(weights: np.ndarray, k: int, cfg: AcceleratorConfig,
                 factors: np.ndarray | None = None, group: int = 0) -> bytes:
    """Tile-major weight image of a layer: cluster bytes uint8 [N, ceil(K/3)] (FineQ and INT8 x
    3-bit builds) or INT8 weights int8 [N, K] (INT8 x INT8 builds); with fineq-v2 group
    factors uint8 [N, ceil(K/group)], a factor line before every group of every block."""
    rows, cols = cfg.rows, cfg.cols
    per_col = cfg.weight_bytes_per_column
    n = weights.shape[0]
    nb, kt = -(-n // cols), -(-k // rows)
    pad = np.zeros((nb * cols, kt * per_col), dtype=np.uint8)
    pad[:n, :weights.shape[1]] = weights.view(np.uint8)
    tiles = pad.reshape(nb, cols, kt, per_col).transpose(0, 2, 1, 3)  # [b, t, c, byte]
    tiles = np.ascontiguousarray(tiles).reshape(nb, kt, -1)
    if factors is None:
        return tiles.tobytes()
    gt = group // rows
    groups = -(-kt // gt)
    lines = np.zeros((nb * cols, groups), dtype=np.uint8)
    lines[:n] = factors
    lines = lines.reshape(nb, cols, groups).transpose(0, 2, 1)  # [b, g, c]
    scale_line = cfg.scale_beats * cfg.bus_bytes
    out = bytearray()
    for b in range(nb):
        for g in range(groups):
            out += lines[b, g].tobytes().ljust(scale_line, b"\0")
            out += tiles[b, g * gt:(g + 1) * gt].tobytes()
    return bytes(out)


def _check_weights(weights, k: int, cfg: AcceleratorConfig) -> np.ndarray:
    """Decoded integer weights [N, K] of the build's weight format (shape and padding checked)."""
    weights = np.asarray(weights)
    if cfg.kind is ArrayKind.MAC8X8:
        if weights.dtype != np.int8 or weights.ndim != 2 or weights.shape[1] != k:
            raise FineQError(f"an INT8 x INT8 build takes int8 weights [N, {k}], "
                             f"got {weights.dtype} {weights.shape}")
        return weights.astype(np.int64)
    if weights.dtype != np.uint8 or weights.ndim != 2:
        raise FineQError(f"cluster bytes must be uint8 [N, C], got {weights.dtype} {weights.shape}")
    return unpack_clusters(weights, k)  # checks the shape and the padding


def _params(rq: golden.Requant, n: int, cfg: AcceleratorConfig) -> bytes:
    _check_requant(rq, n)
    nb = -(-n // cfg.cols)
    p = np.zeros((nb * cfg.cols, 2), dtype="<u4")
    p[:n, 0] = np.asarray(rq.bias, dtype=np.int64) & 0xFFFFFFFF
    p[:n, 1] = np.asarray(rq.mult, np.int64) | (np.asarray(rq.shift, np.int64) << 16)
    blocks = np.zeros((nb, cfg.param_stride), dtype=np.uint8)
    blocks[:, :8 * cfg.cols] = p.reshape(nb, -1).view(np.uint8)
    return blocks.tobytes()


def build_image(weights: np.ndarray, k: int, x_q: np.ndarray, rq: golden.Requant | None,
                cfg: AcceleratorConfig, *, factors: np.ndarray | None = None, group: int = 0,
                base: int = 0x1000, align: int = 64) -> MemoryImage:
    """The image of one job for build ``cfg``; ``rq=None`` selects the INT32 bypass; ``factors``
    (uint8 [N, ceil(K/group)]) and ``group`` select fineq-v2.

    The weights are checked (shape, cluster padding decodes to zero), and so are the
    activations (int8 [M, K]) and requantization parameters; the golden outputs are attached.
    """
    if not isinstance(cfg, AcceleratorConfig):
        raise FineQError(f"cfg must be an AcceleratorConfig, not {cfg!r}")
    q = _check_weights(weights, k, cfg)
    group_reg = group_register(group if factors is not None else 0, cfg)
    if factors is not None:
        factors = np.asarray(factors)
        if factors.dtype != np.uint8 or factors.shape != (q.shape[0], -(-k // group)):
            raise FineQError(f"group factors must be uint8 [{q.shape[0]}, {-(-k // group)}], "
                             f"got {factors.dtype} {factors.shape}")
    x_q = np.asarray(x_q)
    if x_q.dtype != np.int8 or x_q.ndim != 2 or x_q.shape[1] != k:
        raise FineQError(f"activations must be int8 [M, {k}], got {x_q.dtype} {x_q.shape}")
    m, n = x_q.shape[0], q.shape[0]
    if m == 0 or n == 0:
        raise FineQError("M and N must be at least 1")
    bus = cfg.bus_bytes
    if base % bus or align % bus:
        raise FineQError(f"base and align must be multiples of the bus width ({bus} bytes)")

    x_bytes = np.zeros((m, round_up(k, bus)), dtype=np.int8)
    x_bytes[:, :k] = x_q
    parts = [weight_image(np.asarray(weights), k, cfg, factors, group), x_bytes.tobytes(),
             b"" if rq is None else _params(rq, n, cfg)]
    y_stride = round_up(n * (4 if rq is None else 1), bus)

    addrs, blob, addr = [], bytearray(), base
    for part in parts:
        addr = round_up(addr, align)
        blob.extend(b"\0" * (addr - base - len(blob)))
        addrs.append(addr)
        blob.extend(part)
        addr += len(part)
    acc = golden.int_gemm(x_q, q) if factors is None else golden.int_gemm_grouped(x_q, q, factors, group)
    expected = acc if rq is None else golden.requantize(acc, rq)
    return MemoryImage(base=base, data=bytes(blob), m=m, k=k, n=n, bypass=rq is None,
                       w_addr=addrs[0], x_addr=addrs[1], p_addr=addrs[2] if rq is not None else 0,
                       y_addr=round_up(addr, align), y_stride=y_stride, expected=expected,
                       group=group_reg)


def from_packed_file(path, layer: str, x_q: np.ndarray, rq: golden.Requant | None,
                     cfg: AcceleratorConfig, **kw) -> MemoryImage:
    """build_image for layer ``layer`` of a fineq-v1 packed file (quant.study.checkpoint.save_packed)."""
    from quant.study.checkpoint import load_packed

    layers, _ = load_packed(path)
    if layer not in layers:
        raise FineQError(f"{path} has no layer {layer!r}; it holds {', '.join(list(layers)[:5])}, ...")
    fl = layers[layer]
    if num_clusters(fl.k) != fl.clusters.shape[1]:
        raise FineQError(f"{path}: layer {layer!r} is corrupt (cluster count)")
    return build_image(fl.clusters, fl.k, x_q, rq, cfg, **kw)
