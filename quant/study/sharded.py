"""Checkpoints larger than memory: quantize a (sharded) safetensors checkpoint one tensor at a
time and stream the fineq-v1 file to disk, so peak memory is tied to the largest tensor, not
to the checkpoint.

* Input: a folder with ``model.safetensors.index.json`` (the Hugging Face sharded layout: a
  ``weight_map`` from tensor name to shard file), or with a single ``model.safetensors``, or a
  ``.safetensors`` file. Shapes and dtypes come from the shard headers; each tensor is read with
  ``safe_open`` on its own and the shard is closed again before the next one, so the memory
  map never holds more than the tensor being read.
* Selection: 2-D floating-point tensors named ``*.weight``, except embeddings, norms and the
  output head (``DEFAULT_EXCLUDE``), or whatever ``include`` / ``exclude`` regular expressions
  say. The layer name is the tensor name without ``.weight``, as ``checkpoint.linear_layers``
  names it, so the file loads into the model with ``checkpoint.apply_layers``.
* Output: the same fineq-v1 safetensors file as ``checkpoint.save_packed`` (readable with
  ``checkpoint.load_packed``), written by streaming: every output tensor's size follows from
  its input shape, so the header (offsets) is known before any tensor is quantized. A fixed
  amount of header space is reserved, the tensor bytes are appended as they are produced, and
  the header, now with per-layer outlier fractions, is written last (padded with spaces, which
  the safetensors format allows). The file appears under its name only when complete.
"""

from __future__ import annotations

import json
import os
import re
import struct
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..core.errors import FineQError
from ..core.format import num_clusters
from ..core.paths import atomic
from ..methods.fineq import DEFAULT_THRESHOLD, FineQLayer, check_threshold, quantize_fineq
from .checkpoint import FORMAT
from .memory import PeakMemory

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
DEFAULT_EXCLUDE = r"(^|\.)(embeddings?|embed_tokens|wte|wpe|lm_head|shared)(\.|$)|norm"
FLOAT_DTYPES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
HEADER_RESERVE = 64  # bytes of slack per layer for the metadata written at the end


def shard_files(source: str | os.PathLike) -> tuple[list[Path], Path]:
    """(shard files in order, checkpoint folder) of a sharded folder, a single-file folder or a file."""
    source = Path(source)
    if source.is_file():
        return [source], source.parent
    if not source.is_dir():
        raise FineQError(f"checkpoint {source} does not exist")
    index = source / INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (ValueError, KeyError, TypeError) as e:
            raise FineQError(f"{index} is not a valid safetensors index (no weight_map): {e}") from None
        files = list(dict.fromkeys(weight_map.values()))
        missing = [f for f in files if not (source / f).is_file()]
        if missing:
            raise FineQError(f"{index} names shard(s) that do not exist: {', '.join(missing)}")
        return [source / f for f in files], source
    if (source / SINGLE).is_file():
        return [source / SINGLE], source
    raise FineQError(f"{source} has neither {INDEX} nor {SINGLE}: not a safetensors checkpoint")


def read_header(path: Path) -> dict:
    """{tensor name: {"dtype", "shape"}} of a safetensors file in file order, from its header alone
    (safetensors.safe_open maps the file; no tensor is read)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: {"dtype": f.get_slice(k).get_dtype(), "shape": f.get_slice(k).get_shape()}
                    for k in f.offset_keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise FineQError(f"{path} is not a readable safetensors file (corrupt or truncated?): {e}") from None


def select_tensors(shards: list[Path], include: str | None = None, exclude: str | None = DEFAULT_EXCLUDE):
    """[(shard, tensor name, layer name, [N, K], dtype)] of the weights to quantize, in file order."""
    inc = re.compile(include) if include else None
    exc = re.compile(exclude) if exclude else None
    out = []
    for shard in shards:
        header = read_header(shard)
        for name, info in header.items():
            shape, dtype = info["shape"], info["dtype"]
            if len(shape) != 2 or dtype not in FLOAT_DTYPES or not name.endswith(".weight"):
                continue
            if inc is not None and not inc.search(name):
                continue
            if inc is None and exc is not None and exc.search(name):
                continue
            out.append((shard, name, name[: -len(".weight")], tuple(shape), dtype))
    if not out:
        raise FineQError("no 2-D floating-point *.weight tensors to quantize in the checkpoint "
                         "(check --include / the checkpoint's tensor names)")
    return out


def _header_bytes(entries, meta: dict) -> bytes:
    header, offset = {}, 0
    for layer, n, k in entries:
        for part, dtype, shape, nbytes in (("clusters", "U8", [n, num_clusters(k)], n * num_clusters(k)),
                                           ("scales", "F16", [n], 2 * n)):
            header[f"{layer}.{part}"] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
    header["__metadata__"] = meta
    return json.dumps(header, separators=(",", ":")).encode()


def quantize_sharded(source, out, *, threshold: float = DEFAULT_THRESHOLD, quantize=None,
                     include: str | None = None, exclude: str | None = DEFAULT_EXCLUDE,
                     source_model: str | None = None, progress: bool = True) -> dict:
    """Quantize tensor by tensor to a fineq-v1 file at ``out``; returns figures of the run.

    ``quantize(w, name) -> FineQLayer`` defaults to the reference FineQ at ``threshold``.
    """
    from safetensors import SafetensorError, safe_open

    threshold = check_threshold(threshold)
    quantize = quantize or (lambda w, name: quantize_fineq(w, threshold, name=name))
    shards, folder = shard_files(source)
    tensors = select_tensors(shards, include, exclude)
    entries = [(layer, shape[0], shape[1]) for _, _, layer, shape, _ in tensors]
    if len({e[0] for e in entries}) != len(entries):
        raise FineQError("the checkpoint holds the same tensor name in two shards")
    source_model = source_model or folder.name
    placeholder = {name: {"shape": [n, k], "bpw": 0.0, "outlier_fraction": 0.0} for name, n, k in entries}
    meta = {"format": FORMAT, "threshold": repr(threshold), "source_model": source_model,
            "layers": json.dumps(placeholder)}
    reserved = len(_header_bytes(entries, meta)) + HEADER_RESERVE * len(entries) + 64
    reserved += -reserved % 8
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    info, largest, total_in, n_weights, stored = {}, 0, 0, 0, 0
    start = time.perf_counter()
    with atomic(out) as tmp:
        with PeakMemory() as pm, open(tmp, "wb") as f:
            f.write(b"\0" * (8 + reserved))
            for shard, name, layer, (n, k), _dtype in tqdm(tensors, desc="quantize shards", unit="tensor",
                                                          disable=not progress):
                try:
                    with safe_open(str(shard), framework="pt") as sf:  # one tensor per open: bounded map
                        w = sf.get_tensor(name)
                except (SafetensorError, OSError, ValueError) as e:
                    raise FineQError(f"{shard.name}: cannot read {name} (corrupt or truncated?): {e}") from None
                nbytes = w.numel() * w.element_size()
                largest, total_in, n_weights = max(largest, nbytes), total_in + nbytes, n_weights + w.numel()
                q = quantize(w, layer)
                del w
                if not isinstance(q, FineQLayer) or q.shape != (n, k):
                    raise FineQError(f"{layer}: the quantizer did not return a FineQLayer of shape {[n, k]}")
                f.write(np.ascontiguousarray(q.clusters, dtype=np.uint8).tobytes())
                f.write(np.ascontiguousarray(q.scales, dtype=np.float16).tobytes())
                stored += q.clusters.nbytes + q.scales.nbytes
                info[layer] = {"shape": [n, k], "bpw": q.bpw, "outlier_fraction": q.outlier_fraction}
                del q
            meta["layers"] = json.dumps(info)
            header = _header_bytes(entries, meta)
            if len(header) > reserved:  # pragma: no cover - the reserve is generous
                raise FineQError("internal: header larger than the space reserved for it")
            f.seek(0)
            f.write(struct.pack("<Q", reserved) + header + b" " * (reserved - len(header)))
    return {"source": str(source), "out": str(out), "shards": len(shards), "layers": len(entries),
            "weights": n_weights, "checkpoint_bytes": sum(s.stat().st_size for s in shards),
            "quantized_input_bytes": total_in, "largest_tensor_bytes": largest,
            "bpw": 8.0 * stored / n_weights, "seconds": time.perf_counter() - start,
            "peak_bytes": pm.peak_bytes, "peak_memory_method": pm.method}
