"""Perplexity of what the hardware computes (issue #9, item 4), next to the weight-only figure.

Every quantized linear layer runs through ``quant.core.hw_model.HardwareLinear`` (INT8 activations,
exact integer GEMM, the vector unit), the rest of the model in float. Variants measured:

* ``int32-per-token``: per-token INT8 activations, the INT32 bypass, the host applies
  ``s_x[m] s_w[n]`` in float;
* ``int8-per-token-<rule>``: the vector unit's INT8 requantization with a static output scale
  ``sigma`` chosen on calibration text by ``rule`` (``max`` or a high percentile of ``|acc * s_w|``,
  divided by 127), one per layer, or with ``ch-`` one per output channel (free: the multiplier is
  per channel anyway); the INT8 output is read back as ``y_q * sigma[n] * s_x[m]``;
* ``int32-per-tensor``: per-tensor INT8 activations (the contract before issue #9), bypass.

``sigma`` is calibrated on the hardware model itself (earlier layers already quantized), in
bypass mode, on the first calibration sequences.
"""

from __future__ import annotations

import time

import torch
from tqdm import tqdm

from ..core.hw_model import hardware_layers, install, set_mode, uninstall

SIGMA_SEQUENCES = 8
DEFAULT_RULES = ("max", "p99.99", "ch-max")


@torch.no_grad()
def calibrate_sigma(model, ids: torch.Tensor, *, batch: int = 4, progress: bool = True) -> None:
    set_mode(model, "calibrate")
    body = getattr(model, "base_model", model)
    for i in tqdm(range(0, ids.shape[0], batch), desc="sigma calibration", unit="batch", disable=not progress,
                  leave=False):
        body(input_ids=ids[i : i + batch])


def hardware_perplexity(model, quantized: dict, texts, calib_ids: torch.Tensor, *, rules=None,
                        per_tensor: bool = True, progress: bool = True) -> dict:
    """{variant: {"ppl": {text: ppl}, ...}} with the model's quantized layers on the golden arithmetic."""
    rules = DEFAULT_RULES if rules is None else rules
    start = time.perf_counter()
    undo = install(model, quantized, per_token=True, mode="calibrate")
    out = {}
    try:
        calibrate_sigma(model, calib_ids[:SIGMA_SEQUENCES], progress=progress)
        set_mode(model, "int32")
        out["int32-per-token"] = {"ppl": texts.score(model, "hw int32/token", progress)}
        for rule in rules:
            set_mode(model, "int8", rule)
            sig = torch.cat([m.sigma.flatten() for m in hardware_layers(model).values()])
            out[f"int8-per-token-{rule}"] = {"ppl": texts.score(model, f"hw int8/{rule}", progress),
                                             "sigma_median": float(sig.median())}
        if per_tensor:
            set_mode(model, "int32")
            for m in hardware_layers(model).values():
                m.per_token = False
            out["int32-per-tensor"] = {"ppl": texts.score(model, "hw int32/tensor", progress)}
    finally:
        uninstall(undo)
    out["seconds"] = time.perf_counter() - start
    out["calibration_sequences"] = int(min(SIGMA_SEQUENCES, calib_ids.shape[0]))
    return out
