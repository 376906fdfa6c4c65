"""Shared fixtures for the fast tests, and the quick tier: tests marked ``slow`` run only with
FINEQ_SLOW=1 (`make bench` runs them), so that `make test` stays short."""

import os
import shutil

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("FINEQ_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: set FINEQ_SLOW=1 (make bench runs it)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    """A small BERT (random weights, the default checkpoint's tokenizer) saved as a local
    Hugging Face folder: any checkpoint in a folder must work like the default one."""
    from transformers import BertConfig, BertModel

    from quant.study.checkpoint import default_model_dir

    folder = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=100,
                        max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(default_model_dir() / name, folder / name)
    return folder
