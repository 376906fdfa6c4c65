"""Real English text the machine already has: the Python reference manual's topic pages
(``pydoc_data.topics``, part of the standard library). Nothing is downloaded.

* ``sentences()``: prose sentences (no code lines), in a fixed order.
* ``retrieval_pairs()``: (query, document) pairs from paragraphs of at least two
  sentences: the query is the paragraph's first sentence and the document the rest of it,
  so a model must match a sentence to the paragraph it was taken from (about 300 pairs,
  many on related topics, so recall@1 is well below 1 even for the float model).
"""

from __future__ import annotations

import re
from functools import lru_cache

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_CODE_HINT = re.compile(r"[{}\[\]=<>|_]|\.\.\.|>>>|::|\(\)")


def _prose_sentences(paragraph: str) -> list[str]:
    text = " ".join(paragraph.split())
    out = []
    for s in _SENTENCE_END.split(text):
        words = s.split()
        if 6 <= len(words) <= 45 and not _CODE_HINT.search(s) and s[-1] in ".!?":
            alpha = sum(c.isalpha() or c.isspace() for c in s) / len(s)
            if alpha > 0.9:
                out.append(s)
    return out


@lru_cache(maxsize=1)
def _paragraphs() -> tuple[tuple[str, ...], ...]:
    from pydoc_data.topics import topics

    paragraphs = []
    for name in sorted(topics):
        for block in re.split(r"\n\s*\n", topics[name]):
            # indented blocks are code examples or grammar; keep prose only
            if block.strip() and not block.startswith("   "):
                sentences = _prose_sentences(block)
                if sentences:
                    paragraphs.append(tuple(sentences))
    return tuple(paragraphs)


def sentences(limit: int | None = None) -> list[str]:
    """Distinct prose sentences in a fixed order (at least several hundred are available)."""
    seen, out = set(), []
    for para in _paragraphs():
        for s in para:
            if s not in seen:
                seen.add(s)
                out.append(s)
    return out[:limit] if limit else out


def retrieval_pairs(limit: int | None = None) -> list[tuple[str, str]]:
    """(query sentence, rest of its paragraph) for paragraphs of at least two sentences."""
    pairs, seen = [], set()
    for para in _paragraphs():
        if len(para) >= 2 and para[0] not in seen:
            seen.add(para[0])
            pairs.append((para[0], " ".join(para[1:])))
    return pairs[:limit] if limit else pairs
