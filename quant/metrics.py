"""Accuracy of a quantized sentence encoder against its float32 self, on real text.

* Embedding fidelity: cosine similarity between the float32 and the quantized model's
  sentence embeddings (mean and worst) over a fixed set of sentences.
* Retrieval: recall@1 of query sentences against documents (corpus.retrieval_pairs);
  each model embeds both queries and documents itself. Also the top-1 agreement: how
  often the quantized model retrieves the same document as the float32 model (more
  sensitive than recall@1, whose float32 value is itself only about 0.3 on this task).

Sentence embeddings are those of all-MiniLM-L6-v2 (sentence-transformers): mean of the last
hidden states over real tokens, L2-normalised; inputs truncated to 256 tokens.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from . import corpus

MAX_TOKENS = 256
BATCH = 32


@torch.no_grad()
def embed(model, tokenizer, texts: list[str], *, progress: bool = False, desc: str = "embed") -> torch.Tensor:
    """L2-normalised mean-pooled sentence embeddings [len(texts), hidden]."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths, less padding
    out = []
    for i in tqdm(range(0, len(texts), BATCH), desc=desc, unit="batch", disable=not progress, leave=False):
        batch = tokenizer([texts[j] for j in order[i : i + BATCH]], padding=True, truncation=True,
                          max_length=MAX_TOKENS, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        out.append(torch.nn.functional.normalize(pooled, dim=-1))
    result = torch.empty(len(texts), out[0].shape[1]) if out else torch.empty(0, 0)
    if out:
        result[torch.tensor(order)] = torch.cat(out)
    return result


def top1(queries: torch.Tensor, documents: torch.Tensor) -> torch.Tensor:
    """Index of the most similar document for each query."""
    return (queries @ documents.T).argmax(dim=1)


def recall_at_1(queries: torch.Tensor, documents: torch.Tensor) -> float:
    """Fraction of queries whose most similar document is their own (same index)."""
    return float((top1(queries, documents) == torch.arange(len(queries))).float().mean())


class Evaluation:
    """A fixed text set and the float32 reference embeddings, computed once."""

    def __init__(self, model, tokenizer, *, n_sentences: int = 256, n_pairs: int | None = None,
                 progress: bool = True):
        self.model, self.tokenizer, self.progress = model, tokenizer, progress
        self.sentences = corpus.sentences(n_sentences)
        pairs = corpus.retrieval_pairs(n_pairs)
        self.queries = [q for q, _ in pairs]
        self.documents = [d for _, d in pairs]
        self.reference = self._embed(self.sentences, "fp32 sentences")
        self.reference_top1 = top1(self._embed(self.queries, "fp32 queries"),
                                   self._embed(self.documents, "fp32 documents"))

    def _embed(self, texts, desc):
        return embed(self.model, self.tokenizer, texts, progress=self.progress, desc=desc)

    def score(self, label: str) -> dict:
        """Metrics of the model as it is now (call after loading quantized weights into it)."""
        emb = self._embed(self.sentences, f"{label} sentences")
        cos = (emb * self.reference).sum(-1)
        queries = self._embed(self.queries, f"{label} queries")
        documents = self._embed(self.documents, f"{label} documents")
        agree = float((top1(queries, documents) == self.reference_top1).float().mean())
        return {"cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
                "recall_at_1": recall_at_1(queries, documents), "top1_agreement": agree,
                "n_sentences": len(self.sentences), "n_queries": len(self.queries)}


def summarize_bpw(layers: dict) -> float:
    """Bits per weight of a whole model: all stored bytes over all weights."""
    bits = sum(layer.bpw * np.prod(layer.shape) for layer in layers.values())
    return float(bits / sum(np.prod(layer.shape) for layer in layers.values()))
