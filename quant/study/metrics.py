"""Accuracy of a quantized sentence encoder against its float32 self, on real text.

* Embedding fidelity: cosine similarity between the float32 and the quantized model's
  sentence embeddings (mean and worst) over a fixed set of sentences.
* Retrieval: recall@1 of query sentences against documents (corpus.retrieval_pairs);
  each model embeds both queries and documents itself. Also the top-1 agreement: how
  often the quantized model retrieves the same document as the float32 model (more
  sensitive than recall@1, whose float32 value is itself only about 0.3 on this task).
* Similarity structure: the Spearman rank correlation between the float32 and the quantized
  model's cosine similarities of every pair of sentences (does the quantized model order
  pairs by similarity the same way?).

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
    # a model with fewer positions than MAX_TOKENS (a small local checkpoint) truncates earlier
    limit = min(MAX_TOKENS, getattr(getattr(model, "config", None), "max_position_embeddings", None) or MAX_TOKENS)
    out = []
    for i in tqdm(range(0, len(texts), BATCH), desc=desc, unit="batch", disable=not progress, leave=False):
        batch = tokenizer([texts[j] for j in order[i : i + BATCH]], padding=True, truncation=True,
                          max_length=limit, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        out.append(torch.nn.functional.normalize(pooled, dim=-1))
    result = torch.empty(len(texts), out[0].shape[1]) if out else torch.empty(0, 0)
    if out:
        result[torch.tensor(order)] = torch.cat(out)
    return result


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two equally long 1-D samples (scipy.stats.spearmanr: Pearson of
    ranks, ties sharing their average rank); NaN when a sample is constant."""
    from scipy.stats import spearmanr

    a, b = (x.detach().to(torch.float64).flatten().numpy() for x in (a, b))
    if a.size != b.size or a.size < 2:
        raise ValueError("spearman needs two samples of the same length >= 2")
    if a.min() == a.max() or b.min() == b.max():
        return float("nan")
    return float(spearmanr(a, b).statistic)


def pair_similarities(embeddings: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every unordered pair of (normalised) embeddings, upper triangle."""
    n = embeddings.shape[0]
    i, j = torch.triu_indices(n, n, offset=1)
    return (embeddings @ embeddings.T)[i, j]


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
        self.reference = self._embed_all("fp32")
        self.reference_pairs = pair_similarities(self.reference[0])
        self.reference_top1 = top1(*self.reference[1:])

    def _embed(self, texts, desc):
        return embed(self.model, self.tokenizer, texts, progress=self.progress, desc=desc)

    def _embed_all(self, label: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (self._embed(self.sentences, f"{label} sentences"),
                self._embed(self.queries, f"{label} queries"),
                self._embed(self.documents, f"{label} documents"))

    def _metrics(self, emb: torch.Tensor, queries: torch.Tensor, documents: torch.Tensor) -> dict:
        cos = (emb * self.reference[0]).sum(-1)
        agree = float((top1(queries, documents) == self.reference_top1).float().mean())
        return {"cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
                "recall_at_1": recall_at_1(queries, documents), "top1_agreement": agree,
                "spearman": spearman(pair_similarities(emb), self.reference_pairs),
                "n_sentences": len(self.sentences), "n_queries": len(self.queries)}

    def score(self, label: str) -> dict:
        """Metrics of the model as it is now (call after loading quantized weights into it)."""
        return self._metrics(*self._embed_all(label))

    def reference_score(self) -> dict:
        """Metrics of the float32 model itself, from the embeddings made at construction."""
        return self._metrics(*self.reference)


def summarize_bpw(layers: dict) -> float:
    """Bits per weight of a whole model: all stored bytes over all weights."""
    bits = sum(layer.bpw * np.prod(layer.shape) for layer in layers.values())
    return float(bits / sum(np.prod(layer.shape) for layer in layers.values()))
