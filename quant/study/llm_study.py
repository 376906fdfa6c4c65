"""The perplexity study of a causal LM (issue #9): every method, the float baseline, two texts.

``python -m quant study --model gemma3-270m`` (any causal LM: a GGUF file or a folder) quantizes every
linear layer except the output head with each method, and measures perplexity with GPTQ's loop
(``quant.study.perplexity``) on a fixed number of ``seqlen``-token windows of each evaluation text
(``quant.study.texts``: the Python manual's prose and Debian's licence texts). Calibrated methods (GPTQ,
OWQ, error feedback, equalisation) use the Hessians of text the float model generates itself
(``quant.study.texts.calibration_ids``), disjoint from both evaluation texts. A method name prefixed with
``awq-`` first equalises the model (``quant.study.equalize``) and then quantizes with the named method.

Per method the report has ``bpw`` (audited from stored bytes), ``ppl`` per text, ``seconds``
(quantization, for calibrated methods plus the shared calibration pass), ``peak_mb`` and, for FineQ
formats, the outlier fraction. The JSON, a Markdown table and a plot of perplexity against bits
per weight are written after every method (the last one complete).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..core.errors import FineQError
from ..core.paths import atomic, build_dir, fingerprint
from ..methods.fineq import DEFAULT_THRESHOLD
from .calibration import calibrated_registry, collect_hessians_ids
from .checkpoint import apply_layers, method_registry
from .evaluate import machine
from .memory import PeakMemory
from .metrics import summarize_bpw
from .perplexity import load_causal_lm, max_positions, perplexity, quantizable_layers, read_text, tokenize
from .texts import TEXT_SOURCES, calibration_ids, text_file

LLM_METHODS = (
    "rtn4", "rtn3-g128", "gptq3", "gptq3-g128", "owq2",
    "fineq", "fineq-emin", "fineq-ef", "fineq-ef-emin",
    "fineq-v2-emin-g96", "fineq-v2-ef-emin-g96",
    "awq-fineq-ef-emin", "awq-fineq-v2-ef-emin-g96",
)
DEFAULT_TEXTS = ("pydoc", "licenses")
WINDOWS = 3
SEQLEN = 1024
CALIB_SEQUENCES, CALIB_LENGTH = 32, 512
AWQ = "awq-"


def registries():
    return method_registry(DEFAULT_THRESHOLD), calibrated_registry(DEFAULT_THRESHOLD)


def check_methods(methods) -> None:
    plain, calibrated = registries()
    bad = [m for m in methods if m.removeprefix(AWQ) not in plain and m.removeprefix(AWQ) not in calibrated]
    if bad:
        raise FineQError(f"unknown method(s) {', '.join(bad)}; choose from {', '.join([*plain, *calibrated])} "
                         f"(any of them prefixed with {AWQ!r} for equalisation first)")


def family(method: str) -> str:
    base = method.removeprefix(AWQ)
    for prefix, name in (("rtn", "RTN"), ("gptq", "GPTQ"), ("owq", "OWQ"), ("fineq-v2-ef", "FineQ-v2+EF"),
                         ("fineq-v2", "FineQ-v2"), ("fineq-ef", "FineQ+EF"), ("fineq", "FineQ")):
        if base.startswith(prefix):
            return ("AWQ+" if method.startswith(AWQ) else "") + name
    return "other"


def search_proxy(base: str):
    """The weight-only quantizer that scores equalisation for ``base`` (same format, no calibration)."""
    plain, _ = registries()
    if base.startswith("fineq-v2"):
        proxy = "fineq-v2-emin-g" + base.split("-g")[1].split("-")[0]
    elif base.startswith("fineq"):
        proxy = "fineq-emin"
    else:
        proxy = base.replace("gptq", "rtn").replace("owq2", "rtn2")
    fn = plain[proxy]
    return lambda w: fn(w, "search").dequantize()


class Texts:
    """The evaluation texts, tokenized once: {name: ids [1, T]}, with the number of windows each."""

    def __init__(self, tokenizer, names, seqlen: int, windows: int):
        self.ids, self.info = {}, {}
        for name in names:
            path = text_file(name)
            ids = tokenize(tokenizer, read_text(path))
            if ids.numel() // seqlen < windows:
                raise FineQError(f"text {name} has {ids.numel()} tokens, fewer than {windows} windows of {seqlen}")
            self.ids[name] = ids
            self.info[name] = {"file": str(path), "source": TEXT_SOURCES.get(name, "file"), "tokens": ids.numel(),
                               "windows": windows, "seqlen": seqlen}
        self.seqlen, self.windows = seqlen, windows

    def score(self, model, label: str, progress: bool) -> dict:
        return {name: perplexity(model, ids, self.seqlen, max_windows=self.windows, progress=progress,
                                 desc=f"{label} {name}")["ppl"] for name, ids in self.ids.items()}


def snapshot(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "embed" not in k and "lm_head" not in k}


def restore(model, state: dict) -> None:
    with torch.no_grad():
        own = model.state_dict()
        for k, v in state.items():
            own[k].copy_(v)


def quantize_method(model, method: str, layers: dict, hessians, progress: bool) -> tuple[dict, dict]:
    """Quantized layers of ``method`` (the model equalised in place first for ``awq-``), and extras."""
    plain, calibrated = registries()
    base, extra = method.removeprefix(AWQ), {}
    if method.startswith(AWQ):
        from .equalize import equalize

        hessians, extra["alphas"] = equalize(model, hessians, search_proxy(base), progress=progress)
    if base in calibrated:
        fn = calibrated[base]
        quantize = lambda w, n: fn(w, hessians[n], n)  # noqa: E731
    else:
        quantize = plain[base]
    out = {n: quantize(lin.weight, n)
           for n, lin in tqdm(layers.items(), desc=method, unit="layer", leave=False, disable=not progress)}
    return out, extra


def cached_hessians(model, ids, layers: dict, calib_path, progress: bool) -> dict:
    """(Hessians, seconds it took to collect them), cached beside the calibration ids they come from."""
    from pathlib import Path

    path = Path(calib_path).with_name(Path(calib_path).stem + f"-hessians-{len(layers)}.pt")
    if path.is_file():
        c = torch.load(path)
        h = c["hessians"]
        if set(h) == set(layers) and all(h[n].shape[0] == lin.in_features for n, lin in layers.items()):
            return h, c["seconds"]
    start = time.perf_counter()
    h = collect_hessians_ids(model, ids, layers=layers, progress=progress)
    seconds = time.perf_counter() - start
    with atomic(path) as tmp:
        torch.save({"hessians": h, "seconds": seconds}, tmp)
    return h, seconds


QUANTIZER_SOURCES = ("methods/fineq.py", "methods/fineq_variants.py", "methods/fineq_v2.py", "methods/gptq.py",
                     "methods/owq.py", "methods/rtn.py", "methods/scale_search.py", "core/format.py",
                     "study/equalize.py", "study/calibration.py", "study/checkpoint.py")
EVAL_SOURCES = ("study/perplexity.py", "study/texts.py")


def source_hash(names) -> str:
    """Hash of the code that makes a cached result: any change to it invalidates the cache."""
    return fingerprint(files=[Path(__file__).parent.parent / name for name in names])


def cache_path(kind: str, name: str, *parts) -> Path:
    return build_dir("cache", "llm") / name / f"{kind}-{fingerprint([str(p) for p in parts])}.pt"


def cached_quantization(model, method: str, layers: dict, hessians, calib_path, folder, progress: bool):
    """quantize_method, cached under build/cache/llm (keyed by the method, the model, the calibration
    and the quantizers' source): (layers, extras, quantization seconds, peak MB, cached?)."""
    _, calibrated = registries()
    calib = calib_path if (method.startswith(AWQ) or method in calibrated) else None
    path = cache_path(method, folder.name, method, folder, calib, source_hash(QUANTIZER_SOURCES))
    if path.is_file():
        c = torch.load(path, weights_only=False)
        with torch.no_grad():
            own = model.state_dict()
            for k, v in c["norms"].items():
                own[k].copy_(v)
        return c["layers"], c["extra"], c["seconds"], c["peak_mb"], True
    start = time.perf_counter()
    with PeakMemory() as pm:
        out, extra = quantize_method(model, method, layers, hessians, progress)
    seconds = time.perf_counter() - start
    norms = {k: v.detach().clone() for k, v in model.state_dict().items() if "norm" in k}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic(path) as tmp:
        torch.save({"layers": out, "extra": extra, "seconds": seconds, "peak_mb": pm.peak_mb, "norms": norms}, tmp)
    return out, extra, seconds, pm.peak_mb, False


def needs_calibration(methods) -> bool:
    _, calibrated = registries()
    return any(m.startswith(AWQ) or m in calibrated for m in methods)


def float_entry(model, ev: Texts, folder: Path, progress: bool) -> dict:
    """The float model's perplexities (cached: they depend only on the model, texts and windows)."""
    path = cache_path("fp32", folder.name, folder, ev.info, source_hash(EVAL_SOURCES), torch.__version__)
    if path.is_file():
        return torch.load(path)
    start = time.perf_counter()
    entry = {"bpw": 32.0, "seconds": 0.0, "peak_mb": 0.0, "family": "float", "ppl": ev.score(model, "fp32", progress)}
    entry["eval_seconds"] = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(entry, path)
    return entry


def run_llm_study(model_spec, methods=LLM_METHODS, *, texts=DEFAULT_TEXTS, seqlen: int = SEQLEN,
                  windows: int = WINDOWS, calib_sequences: int = CALIB_SEQUENCES, calib_length: int = CALIB_LENGTH,
                  seed: int = 0, hardware=(), hardware_rules=None, hardware_per_tensor: bool = True,
                  progress: bool = True, on_result=None) -> dict:
    """The study; ``hardware`` names methods whose golden-arithmetic perplexity is measured too."""
    from .models import model_folder_of

    check_methods(methods)
    if set(hardware) - set(methods):
        raise FineQError(f"--hardware method(s) {', '.join(sorted(set(hardware) - set(methods)))} are not in --methods")
    folder, name = model_folder_of(model_spec, progress=progress)
    model, tokenizer = load_causal_lm(folder)
    limit = max_positions(model)
    if limit is not None and seqlen > limit:
        raise FineQError(f"window length {seqlen} exceeds the model's {limit} positions")
    ev = Texts(tokenizer, texts, seqlen, windows)
    layers = quantizable_layers(model)
    report = {"model": name, "model_note": model_note(model_spec), "linear_layers": len(layers),
              "weights": sum(lin.weight.numel() for lin in layers.values()), "machine": machine(),
              "threads": torch.get_num_threads(), "texts": ev.info, "calibration": {}, "complete": False,
              "methods": {}}
    report["methods"]["fp32"] = float_entry(model, ev, folder, progress)
    hessians, calib_seconds, ids = None, 0.0, None
    if needs_calibration(methods) or hardware:
        ids, path = calibration_ids(model, tokenizer, name, folder, sequences=calib_sequences, length=calib_length,
                                    seed=seed, progress=progress)
        if needs_calibration(methods):  # the seconds are those of the pass that made the (cached) Hessians
            hessians, calib_seconds = cached_hessians(model, ids, layers, path, progress)
        report["calibration"] = {"source": "generated by the float model (temperature 1, from the BOS token)",
                                 "sequences": calib_sequences, "length": calib_length, "seed": seed,
                                 "tokens": int(ids.numel()), "file": str(path), "seconds": calib_seconds}
    original = snapshot(model)
    _, calibrated = registries()
    for method in tqdm(methods, desc="study", unit="method", disable=not progress):
        out, extra, seconds, peak_mb, hit = cached_quantization(model, method, layers, hessians,
                                                                report["calibration"].get("file"), folder, progress)
        calibrated_method = method.startswith(AWQ) or method in calibrated
        seconds += calib_seconds if calibrated_method else 0.0
        apply_layers(model, out)
        entry = {"bpw": summarize_bpw(out), "seconds": seconds, "peak_mb": peak_mb, "family": family(method),
                 "calibrated": calibrated_method, **extra, "ppl": ev.score(model, method, progress)}
        if hit:
            entry["quantization_cached"] = True
        fractions = [(lay.outlier_fraction, lay.clusters.size) for lay in out.values() if hasattr(lay, "clusters")]
        if len(fractions) == len(out):
            entry["outlier_fraction"] = sum(f * c for f, c in fractions) / sum(c for _, c in fractions)
        if method in hardware:
            from .hw_eval import hardware_perplexity

            entry["hardware"] = hardware_perplexity(model, out, ev, ids, rules=hardware_rules,
                                                    per_tensor=hardware_per_tensor, progress=progress)
        report["methods"][method] = entry
        restore(model, original)
        report["complete"] = method == methods[-1]
        if on_result is not None:
            on_result(report)
    report["complete"] = True
    return report


def model_note(spec) -> str:
    if str(spec).endswith(".gguf") or str(spec) == "gemma3-270m":
        return ("float weights are the GGUF file's weights dequantized to float32 (for gemma3-270m: the "
                "Q4_K_M file, not Google's original bfloat16 weights)")
    return "float weights as stored in the checkpoint folder"


def finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
