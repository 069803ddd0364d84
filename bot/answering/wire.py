"""Wire copies: one story published by several outlets, kept once among an answer's passages.

Agencies' stories run word for word (or nearly: a dateline, a byline, a trimmed last line) in
many papers. Left alone they fill the passage slots with one fact said five times. Two articles
are copies when their word 5-shingles overlap by at least `WIRE_JACCARD` (Jaccard), after a
leading dateline ("LONDON (Reuters) -") and byline ("By Jane Doe") are removed, so the same
normalised text always counts. Only the candidate articles of one answer are compared, with
their shingles cached per index generation: cheap, and general to any source.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from index.text.shingles import SHINGLE_WORDS, article_shingles, normalised_words

__all__ = [
    "SHINGLE_WORDS",
    "WIRE_JACCARD",
    "is_copy",
    "jaccard",
    "normalised_words",
    "outlet",
    "shingles",
]

if TYPE_CHECKING:
    from index.store import Passage

WIRE_JACCARD = 0.9


def shingles(passages: Iterable[Passage]) -> frozenset[int]:
    """Hashed word 5-shingles of an article's stored passages (`index.text.shingles`)."""
    ordered = sorted(passages, key=lambda p: int(p.metadata.get("chunk_index", 0)))
    return frozenset(article_shingles([p.text for p in ordered]).tolist())


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    """The Jaccard similarity of two shingle sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def outlet(p: Passage) -> str:
    """Who published an article, for "also in …": its publisher, else its file or URL host."""
    meta = p.metadata
    return str(meta.get("publisher") or meta.get("source") or meta.get("url") or "")


def is_copy(a: frozenset[int], b: frozenset[int], threshold: float = WIRE_JACCARD) -> bool:
    """Whether two articles' shingles say they are one wire story."""
    return a == b or jaccard(a, b) >= threshold
