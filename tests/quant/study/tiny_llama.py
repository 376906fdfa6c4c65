"""Helper of the causal-LM tests (imported by them; not a test module): a tiny Llama with random weights and the MiniLM tokenizer."""

import shutil

import torch


def make_tiny_llama(folder, *, bos: str | None = None):
    """Write a 2-layer Llama (hidden 48) and the MiniLM tokenizer to ``folder``; ``bos`` sets the
    tokenizer's start-of-text token."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from quant.study.checkpoint import default_model_dir

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=30522, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    LlamaForCausalLM(config).save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(default_model_dir() / name, folder / name)
    if bos is not None:
        tok = AutoTokenizer.from_pretrained(folder)
        tok.bos_token = bos
        tok.save_pretrained(folder)
    return folder
