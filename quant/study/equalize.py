"""Activation-aware equalisation (AWQ / SmoothQuant style), folded into the model.

For a group of linear layers that read the same input ``x`` (q/k/v after the attention norm,
gate/up after the MLP norm, and down_proj after up_proj), the input channel ``j`` is scaled:
``x_j -> x_j / s_j`` and every consumer's column ``W[:, j] -> W[:, j] * s_j``, so the float model
computes exactly the same function. The division is folded into what produces ``x``: the RMSNorm's
gain (Gemma's norms multiply by ``1 + weight``, others by ``weight``) or the rows of ``up_proj``
(whose output multiplies ``act(gate)`` elementwise, so scaling its rows scales down_proj's input).
The quantized format (fineq-v1 / v2) and the hardware are unchanged: only the weights and the norm
gains that the host applies in float differ.

``s_j = rms_j ** alpha`` (normalised to geometric mean 1), with ``rms_j`` the channel's RMS on the
calibration text (from the Hessian diagonal, ``H_jj = 2 E[x_j^2]``). ``alpha`` is searched per group
on a grid by the consumers' output error ``trace((W_s - Q) H_s (W_s - Q)^T)`` of a weight-only
quantizer (on a sample of rows); ``alpha = 0`` (no equalisation) is on the grid, so a group is
never made worse by that measure. The Hessians of the consumers are transformed the same way
(``H_s = H / (s s^T)``), so error feedback afterwards needs no new calibration pass.
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from ..core.errors import FineQError

ALPHAS = (0.0, 0.25, 0.5, 0.75)
SEARCH_ROWS = 256


def norm_offset(norm) -> float:
    """1 for norms that multiply by ``1 + weight`` (Gemma's), 0 for those that multiply by ``weight``."""
    return 1.0 if type(norm).__name__.startswith("Gemma") else 0.0


def decoder_groups(model) -> list[dict]:
    """Equalisable groups of a decoder-only model: {"producer", "kind", "consumers" [names]}."""
    names = {m: n for n, m in model.named_modules()}
    groups = []
    for layer in model.modules():
        attn, mlp = getattr(layer, "self_attn", None), getattr(layer, "mlp", None)
        norm1 = getattr(layer, "input_layernorm", None)
        norm2 = getattr(layer, "pre_feedforward_layernorm", None) or getattr(layer, "post_attention_layernorm", None)
        if attn is None or mlp is None or norm1 is None or norm2 is None:
            continue
        try:
            qkv = [attn.q_proj, attn.k_proj, attn.v_proj]
            gate_up, up, down = [mlp.gate_proj, mlp.up_proj], mlp.up_proj, mlp.down_proj
        except AttributeError:
            continue
        groups.append({"producer": norm1, "kind": "norm", "consumers": [names[m] for m in qkv]})
        groups.append({"producer": norm2, "kind": "norm", "consumers": [names[m] for m in gate_up]})
        groups.append({"producer": up, "kind": "rows", "consumers": [names[down]]})
    if not groups:
        raise FineQError("equalisation knows decoder layers with self_attn.{q,k,v}_proj, mlp.{gate,up,down}_proj "
                         "and RMSNorms; this model has none")
    return groups


def channel_scales(h: torch.Tensor, alpha: float) -> torch.Tensor:
    rms = (torch.diag(h).clamp_min(1e-12) / 2).sqrt()
    s = rms**alpha
    return s / torch.exp(torch.log(s).mean())


def _search_error(ws: list[torch.Tensor], h: torch.Tensor, s: torch.Tensor, quantize) -> float:
    hs = h / (s[:, None] * s[None, :])
    total = 0.0
    for w in ws:
        rows = w[torch.linspace(0, w.shape[0] - 1, min(SEARCH_ROWS, w.shape[0])).long()] * s[None, :]
        d = rows - quantize(rows)
        total += float(((d @ hs) * d).sum()) * w.shape[0] / rows.shape[0]
    return total


@torch.no_grad()
def _apply(group: dict, layers: dict, s: torch.Tensor) -> None:
    for name in group["consumers"]:
        layers[name].weight.mul_(s[None, :])
    prod = group["producer"]
    if group["kind"] == "norm":
        off = norm_offset(prod)
        prod.weight.copy_((prod.weight + off) / s - off)
    else:
        prod.weight.div_(s[:, None])
        if prod.bias is not None:
            prod.bias.div_(s)


def equalize(model, hessians: dict, quantize, *, alphas=ALPHAS, progress: bool = True) -> tuple[dict, dict]:
    """Equalise ``model`` in place; returns (transformed Hessians for every layer, {consumers: alpha}).

    ``quantize(w [R, K]) -> dequantized [R, K]`` is the weight-only quantizer the search scores with.
    """
    from .checkpoint import linear_layers

    layers = linear_layers(model)
    hessians = dict(hessians)
    chosen = {}
    for group in tqdm(decoder_groups(model), desc="equalise", unit="group", disable=not progress, leave=False):
        h = hessians[group["consumers"][0]]
        ws = [layers[n].weight.detach().float() for n in group["consumers"]]
        errs = {a: _search_error(ws, h, channel_scales(h, a), quantize) for a in alphas}
        best = min(errs, key=errs.get)
        chosen[",".join(group["consumers"])] = best
        if best == 0.0:
            continue
        s = channel_scales(h, best)
        _apply(group, layers, s)
        for n in group["consumers"]:
            hessians[n] = hessians[n] / (s[:, None] * s[None, :])
    return hessians, chosen
