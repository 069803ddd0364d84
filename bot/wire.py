"""Wire copies: one story published by several outlets, kept once among an answer's passages.

Agencies' stories run word for word (or nearly: a dateline, a byline, a trimmed last line) in
many papers. Left alone they fill the passage slots with one fact said five times. Two articles
are copies when their word 5-shingles overlap by at least `WIRE_JACCARD` (Jaccard), after a
leading dateline ("LONDON (Reuters) -") and byline ("By Jane Doe") are removed, so the same
normalised text always counts. Only the candidate articles of one answer are compared, with
their shingles cached per index generation: cheap, and general to any source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.store import Passage

SHINGLE_WORDS = 5
WIRE_JACCARD = 0.9
_WORD = re.compile(r"\w+")
# "LONDON (Reuters) - ", "PARIS, Nov 20 (AFP) — ", "WASHINGTON: ": capitals, then a dash or colon
_DATELINE = re.compile(
    r"^\s*[A-Z][A-Z .'’/-]{1,40}(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?"
    r"\s*(?:\([^)\n]{1,40}\))?\s*[-—–:]{1,2}\s+"
)
_BYLINE = re.compile(r"^\s*By\s+[^\n.]{1,80}(?:\n|\.\s|$)")


def normalised_words(text: str) -> list[str]:
    """The words of an article's opening text, lower case, without dateline nor byline."""
    for pattern in (_BYLINE, _DATELINE, _BYLINE):
        text = pattern.sub("", text, count=1)
    return _WORD.findall(text.casefold())


def shingles(passages: Iterable[Passage]) -> frozenset[int]:
    """Hashed word 5-shingles of an article's stored passages, first passage normalised."""
    ordered = sorted(passages, key=lambda p: int(p.metadata.get("chunk_index", 0)))
    out: set[int] = set()
    for i, p in enumerate(ordered):
        words = normalised_words(p.text) if i == 0 else _WORD.findall(p.text.casefold())
        n = min(SHINGLE_WORDS, len(words))
        # zip of shifted lists: the tuples of slicing at each word, made in C ("" has one: ())
        grams = zip(*(words[k:] for k in range(n)), strict=False) if n else [()]
        out.update(map(hash, grams))
    return frozenset(out)


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def outlet(p: Passage) -> str:
    """Who published an article, for "also in …": its publisher, else its file or URL host."""
    meta = p.metadata
    return str(meta.get("publisher") or meta.get("source") or meta.get("url") or "")


def is_copy(a: frozenset[int], b: frozenset[int], threshold: float = WIRE_JACCARD) -> bool:
    return a == b or jaccard(a, b) >= threshold
