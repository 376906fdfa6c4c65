"""A whole model with every quantized linear layer computed as the accelerator computes it.

``HardwareLinear`` replaces an ``nn.Linear`` by the golden model's arithmetic (``quant.core.golden``,
docs/numbers.md) in torch, fast enough for a full perplexity run:

1. activations: symmetric INT8 per token (``s_x[m] = max_k |x[m, k]| / 127``, round half to even,
   clip to +-127) or per tensor;
2. the exact integer GEMM: ``acc = x_q @ q^T`` in float32, exact because every partial sum of
   integers stays below 2**24 (``|x_q q| <= 508``, so for K <= 33,025); for fineq-v2 the per-group
   factors make the terms up to 129,540, so float64 is used (exact below 2**53);
3. the vector unit: ``mode="int8"``: the per-channel requantizer (``mult[n] / 2**shift[n] ~
   s_w[n] / sigma``, round half up, saturate) in int64, the INT8 result read back as
   ``y_q * sigma * s_x[m]``; ``mode="int32"``: the bypass, the host applies ``s_x[m] s_w[n]`` in
   float. ``mode="calibrate"`` is the bypass and records ``|acc * s_w|`` to choose ``sigma``;
4. a bias (none in Gemma) is added by the host in float.

Everything else (norms, attention, the output head) stays in float. The tests hold every step to
``quant.core.golden`` on exact integers.
"""

from __future__ import annotations

import numpy as np
import torch

from . import golden
from .errors import FineQError

MODES = ("int8", "int32", "calibrate")
F32_EXACT_K = (2**24) // (golden.ACT_MAX * golden.WEIGHT_MAX_ABS)  # 33,025
SIGMA_RULES = ("max", "p99.99", "p99.9", "ch-max", "ch-p99.9")  # ch-: one sigma per output channel
SAMPLE = 1 << 20


class HardwareLinear(torch.nn.Module):
    def __init__(self, layer, bias: torch.Tensor | None, *, per_token: bool = True, mode: str = "int32"):
        super().__init__()
        q = layer.codes().astype(np.int32)
        if hasattr(layer, "sub"):  # fineq-v2: e[n, g] folded into the integer weights
            q = q * layer.factors()
            self.exact_dtype = torch.float64
        else:
            if layer.k > F32_EXACT_K:
                raise FineQError(f"K={layer.k} is beyond float32's exact range for the integer GEMM")
            self.exact_dtype = torch.float32
        self.q = torch.from_numpy(q).to(self.exact_dtype)
        self.s_w = torch.from_numpy(layer.scales.astype(np.float64))
        self.bias = None if bias is None else bias.detach().clone().float()
        self.per_token, self.mode = per_token, mode
        self.sigma, self.mult, self.shift = None, None, None
        self.stats = []

    def set_sigma(self, sigma) -> None:
        """One static output scale for the layer, or one per output channel (a tensor [N])."""
        rq = golden.make_requant_per_token(self.s_w.numpy(), np.asarray(sigma, np.float64))
        self.sigma = torch.as_tensor(np.asarray(sigma, np.float64))
        self.mult = torch.from_numpy(rq.mult.astype(np.int64))
        self.shift = torch.from_numpy(rq.shift.astype(np.int64))

    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        absmax = x.abs().amax(dim=1) if self.per_token else x.abs().amax().expand(x.shape[0])
        s_x = torch.where(absmax > 0, absmax / golden.ACT_MAX, torch.ones_like(absmax))
        return torch.round(x / s_x[:, None]).clamp_(-golden.ACT_MAX, golden.ACT_MAX), s_x

    def requantize(self, acc: torch.Tensor) -> torch.Tensor:
        t = acc.to(torch.int64)
        p = t * self.mult
        y = (p + (torch.ones_like(self.shift) << (self.shift - 1))) >> self.shift
        return y.clamp_(-128, 127)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).float()
        x_q, s_x = self.quantize(x2)
        acc = x_q.to(self.exact_dtype) @ self.q.T
        if self.mode == "int8":
            if self.mult is None:
                raise FineQError("the output scale sigma is not calibrated (set_sigma)")
            y = self.requantize(acc).double() * self.sigma * s_x.double()[:, None]  # sigma: [] or [N]
        else:
            y = acc.double() * self.s_w[None, :] * s_x.double()[:, None]
            if self.mode == "calibrate":
                self.record(acc)
        y = y.float()
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], -1)

    def record(self, acc: torch.Tensor) -> None:
        v = (acc.double() * self.s_w[None, :]).abs().flatten().float()
        sample = v if v.numel() <= SAMPLE else v[torch.randperm(v.numel(), generator=torch.Generator().manual_seed(0))[:SAMPLE]]
        qs = torch.quantile(sample, torch.tensor([0.999, 0.9999]))
        per_channel = (acc.double() * self.s_w[None, :]).abs().float()  # [M, N]
        ch_max = per_channel.amax(dim=0)
        ch_p = torch.quantile(per_channel, 0.999, dim=0) if per_channel.shape[0] <= SAMPLE else ch_max
        self.stats.append((float(v.max()), float(qs[1]), float(qs[0]), ch_max, ch_p))

    def sigma_for(self, rule: str):
        """The output scale by ``rule``: the maximum over the calibration batches, or the mean of the
        batches' percentiles; ``ch-`` rules give one per output channel."""
        if not self.stats:
            raise FineQError("no calibration statistics: run the model in mode 'calibrate' first")
        if rule not in SIGMA_RULES:
            raise FineQError(f"sigma rule must be one of {', '.join(SIGMA_RULES)}, got {rule!r}")
        col = SIGMA_RULES.index(rule)
        vals = [s[col] for s in self.stats]
        if rule.startswith("ch-"):
            v = torch.stack(vals).amax(0) if rule == "ch-max" else torch.stack(vals).mean(0)
            return (v.double().clamp_min(1e-12) / golden.ACT_MAX).numpy()
        v = max(vals) if rule == "max" else sum(vals) / len(vals)
        return max(v, 1e-12) / golden.ACT_MAX


def install(model, quantized: dict, *, per_token: bool = True, mode: str = "int32") -> dict:
    """Replace the named linear layers by HardwareLinear modules; returns {name: (parent, attr, old)}."""
    if mode not in MODES:
        raise FineQError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    modules = dict(model.named_modules())
    undo = {}
    for name, layer in quantized.items():
        if not hasattr(layer, "clusters"):
            raise FineQError(f"layer {name!r} is not a FineQ layer: the accelerator runs fineq-v1/v2 only")
        old = modules[name]
        parent_name, _, attr = name.rpartition(".")
        parent = modules[parent_name] if parent_name else model
        setattr(parent, attr, HardwareLinear(layer, old.bias, per_token=per_token, mode=mode))
        undo[name] = (parent, attr, old)
    return undo


def uninstall(undo: dict) -> None:
    for parent, attr, old in undo.values():
        setattr(parent, attr, old)


def hardware_layers(model) -> dict[str, HardwareLinear]:
    return {n: m for n, m in model.named_modules() if isinstance(m, HardwareLinear)}


def set_mode(model, mode: str, sigma_rule: str | None = None) -> None:
    for m in hardware_layers(model).values():
        m.mode = mode
        if mode == "calibrate":
            m.stats = []
        if mode == "int8" and sigma_rule is not None:
            m.set_sigma(m.sigma_for(sigma_rule))
