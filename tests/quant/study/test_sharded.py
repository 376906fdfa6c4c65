"""Checkpoints larger than memory: a sharded safetensors checkpoint the test writes, quantized
one tensor at a time, with the same result as quantizing in memory and bounded peak memory."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from quant.core.errors import FineQError
from quant.core.format import num_clusters
from quant.methods.fineq import FineQLayer
from quant.study import checkpoint
from quant.study.memory import PeakMemory
from quant.study.sharded import quantize_sharded


@pytest.fixture(scope="module")
def sharded_bert(tmp_path_factory, tiny_bert_dir):
    """The small test BERT saved again by transformers itself, in several shards with an index."""
    folder = tmp_path_factory.mktemp("sharded-bert")
    model, _, _ = checkpoint.load_model(tiny_bert_dir)
    model.save_pretrained(folder, max_shard_size="40KB")
    return folder, model


def test_sharded_result_equals_quantizing_in_memory(sharded_bert, tmp_path):
    folder, model = sharded_bert
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) >= 3  # really several shards
    out = tmp_path / "q.safetensors"
    figures = quantize_sharded(folder, out, progress=False)
    layers, meta = checkpoint.load_packed(out)
    in_memory = checkpoint.quantize_model(model, "fineq", progress=False)
    assert set(layers) == set(in_memory) and figures["layers"] == len(in_memory)
    for name, q in in_memory.items():
        assert np.array_equal(layers[name].clusters, q.clusters) and np.array_equal(layers[name].scales, q.scales)
        assert meta["layers"][name]["outlier_fraction"] == pytest.approx(q.outlier_fraction)
    assert meta["source_model"] == folder.name and figures["shards"] >= 3
    assert not (tmp_path / "q.safetensors.partial").exists()


def write_big_checkpoint(folder, tensors=8, shape=(256, 768), per_shard=2):
    folder.mkdir()
    g = torch.Generator().manual_seed(1)
    weight_map, state = {}, {}
    for s in range(tensors // per_shard):
        part = {}
        for t in range(per_shard):
            name = f"layers.{s * per_shard + t}.proj.weight"
            part[name] = torch.randn(*shape, generator=g) * 0.02
            part[f"layers.{s * per_shard + t}.norm.weight"] = torch.ones(shape[1])  # skipped: 1-D
            weight_map.update(dict.fromkeys(part, f"model-{s:05d}.safetensors"))
        save_file(part, str(folder / f"model-{s:05d}.safetensors"))
        state.update(part)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return state


def light_quantizer(w, name):
    """A FineQLayer made with one pass over the tensor (scales from the row maxima, all codes 0):
    the memory test is about streaming, and this keeps it fast on a checkpoint of many MiB."""
    n, k = w.shape
    scales = (w.float().abs().amax(dim=1) / 3).clamp_min(2**-14).to(torch.float16).numpy()
    return FineQLayer(clusters=np.zeros((n, num_clusters(k)), dtype=np.uint8), scales=scales, k=k)


MEASURE = """
import json, sys
sys.path[:0] = [sys.argv[3], sys.argv[4]]
from test_sharded import light_quantizer
from quant.study.sharded import quantize_sharded
print(json.dumps(quantize_sharded(sys.argv[1], sys.argv[2], quantize=light_quantizer, progress=False)))
"""


def test_peak_memory_is_tied_to_the_largest_tensor_not_the_checkpoint(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    write_big_checkpoint(tmp_path / "ckpt", tensors=16, shape=(1024, 1024), per_shard=4)
    out = tmp_path / "q.safetensors"
    # measured in a fresh process whose C allocator hands large blocks back to the system when
    # they are freed: the figure is then the memory the work holds, not what a long test
    # session's fragmented heap happens to keep
    here = Path(__file__).parent
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(256 * 1024)}
    run = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / "ckpt"), str(out), str(here),
                          str(here.parents[2])], capture_output=True, text=True, env=env, check=True)
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    largest, total = figures["largest_tensor_bytes"], figures["checkpoint_bytes"]
    assert largest == 1024 * 1024 * 4 and total > 16 * largest
    print(f"peak {figures['peak_bytes'] / 2**20:.1f} MiB ({figures['peak_memory_method']}), largest tensor "
          f"{largest / 2**20:.1f} MiB, checkpoint {total / 2**20:.1f} MiB")
    # the tensor read, the shard pages it was read from (mapped while it is read), the
    # quantizer's temporary copy, and slack for the allocator: nothing that grows with the checkpoint
    assert figures["peak_bytes"] < 4 * largest + 4 * 2**20 < total / 3
    # the measurement does see memory that is held: loading every tensor at once
    from safetensors.torch import load_file

    with PeakMemory() as pm:
        everything = [{k: v.clone() for k, v in load_file(str(f)).items()}
                      for f in sorted((tmp_path / "ckpt").glob("*.safetensors"))]
    assert pm.peak_bytes > 0.9 * total
    layers, _ = checkpoint.load_packed(out)
    assert len(layers) == 16 and len(everything) == 4


def test_bad_checkpoints_are_refused(tmp_path):
    with pytest.raises(FineQError, match="does not exist"):
        quantize_sharded(tmp_path / "nope", tmp_path / "q.safetensors", progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FineQError, match="neither"):
        quantize_sharded(empty, tmp_path / "q.safetensors", progress=False)
    folder = tmp_path / "ckpt"
    write_big_checkpoint(folder, tensors=2, shape=(6, 9), per_shard=1)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    index["weight_map"]["extra.weight"] = "model-00009.safetensors"
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(FineQError, match="do not exist"):
        quantize_sharded(folder, tmp_path / "q.safetensors", progress=False)
    del index["weight_map"]["extra.weight"]
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    shard = folder / "model-00001.safetensors"
    shard.write_bytes(shard.read_bytes()[:-20])  # truncated
    with pytest.raises(FineQError, match="corrupt or truncated"):
        quantize_sharded(folder, tmp_path / "q.safetensors", progress=False)
    assert not (tmp_path / "q.safetensors").exists()
    with pytest.raises(FineQError, match="no 2-D floating-point"):
        quantize_sharded(folder / "model-00000.safetensors", tmp_path / "q.safetensors", include="nothing",
                         progress=False)
