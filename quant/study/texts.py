"""Texts for a causal LM's perplexity and calibration, all of them already on the machine.

* ``pydoc``: the prose paragraphs of the Python manual (``pydoc_data.topics``, standard library),
  as ``quant.study.perplexity.pydoc_text`` writes them.
* ``licenses``: the licence texts Debian ships in ``/usr/share/common-licenses`` (package
  ``base-files``, on every Debian system): GPL, LGPL, GFDL, MPL, Apache, Artistic, CC0, BSD. Real
  English prose (legal), from a source disjoint from the Python manual and from the calibration
  text. Each file is read once (the unversioned names are symbolic links), in sorted order.
* Calibration text: sequences the float model itself generates, sampled from its own
  distribution from the start-of-text token with a fixed seed (``generate_calibration``). This is
  the causal model's own domain, it shares no source with either evaluation text, and it needs no
  data set; the token ids are cached under ``build/text/`` (keyed by the model file, the seed and the
  sizes), since sampling takes a minute or two and is deterministic only on the same machine and
  library versions.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from tqdm import tqdm

from ..core.errors import FineQError
from ..core.paths import build_dir, fingerprint

LICENSES_DIR = Path("/usr/share/common-licenses")
TEXT_SOURCES = {
    "pydoc": "Python manual prose (pydoc_data.topics, standard library)",
    "licenses": "Debian's licence texts (/usr/share/common-licenses, package base-files)",
}


def license_text(path: str | os.PathLike | None = None, source: Path = LICENSES_DIR) -> Path:
    """Write the distinct licence texts of ``source`` to ``path`` (blank-line separated)."""
    if not source.is_dir():
        raise FineQError(f"{source} does not exist (Debian's base-files ships it); pass a text file instead")
    seen, parts = set(), []
    for f in sorted(source.iterdir()):
        real = f.resolve()
        if real in seen or not real.is_file():
            continue
        seen.add(real)
        parts.append(real.read_text(encoding="utf-8", errors="replace").strip())
    if not parts:
        raise FineQError(f"{source} holds no licence texts")
    path = Path(path) if path is not None else build_dir("text", "licenses.txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


def text_file(name: str) -> Path:
    """The file of a named evaluation text (written on first use), or a path given by the user."""
    if name == "pydoc":
        from .perplexity import pydoc_text

        return pydoc_text()
    if name == "licenses":
        return license_text()
    path = Path(name)
    if not path.is_file():
        raise FineQError(f"text {name!r} is neither one of {', '.join(TEXT_SOURCES)} nor an existing file")
    return path


def calibration_key(model_name: str, folder: Path, seed: int, sequences: int, length: int) -> str:
    weights = folder / "model.safetensors"
    stamp = folder / "fineq-cache.json"
    ident = stamp.read_text() if stamp.is_file() else (
        f"{weights.stat().st_size}:{weights.stat().st_mtime_ns}" if weights.is_file() else str(folder))
    return fingerprint([model_name, ident, seed, sequences, length, torch.__version__])


@torch.no_grad()
def generate_calibration(model, tokenizer, *, sequences: int, length: int, seed: int = 0, batch: int = 16,
                         progress: bool = True) -> torch.Tensor:
    """``sequences`` x ``length`` token ids sampled from the model (temperature 1, no top-k/p)."""
    bos = tokenizer.bos_token_id
    if bos is None:
        raise FineQError("the tokenizer has no start-of-text token to generate calibration text from")
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in tqdm(range(0, sequences, batch), desc="generate calibration", unit="batch", disable=not progress):
        b = min(batch, sequences - i)
        ids = torch.full((b, 1), bos, dtype=torch.long)
        past = None
        step_in = ids
        for _ in range(length - 1):
            res = model(input_ids=step_in, past_key_values=past, use_cache=True)
            past = res.past_key_values
            probs = torch.softmax(res.logits[:, -1].float(), dim=-1)
            step_in = torch.multinomial(probs, 1, generator=gen)
            ids = torch.cat([ids, step_in], dim=1)
        out.append(ids)
    return torch.cat(out)


def calibration_ids(model, tokenizer, model_name: str, folder: Path, *, sequences: int, length: int,
                    seed: int = 0, progress: bool = True) -> tuple[torch.Tensor, Path]:
    """Generated calibration token ids [sequences, length], from the cache when it has them."""
    key = calibration_key(model_name, folder, seed, sequences, length)
    path = build_dir("text") / f"calibration-{model_name}-{key}.pt"
    if path.is_file():
        ids = torch.load(path)
        if tuple(ids.shape) == (sequences, length):
            return ids, path
    ids = generate_calibration(model, tokenizer, sequences=sequences, length=length, seed=seed,
                               progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ids, path)
    path.with_suffix(".txt").write_text("\n\n=====\n\n".join(tokenizer.batch_decode(ids, skip_special_tokens=True)))
    return ids, path
