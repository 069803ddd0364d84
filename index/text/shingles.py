"""Word shingles of an article: what tells a wire copy (the same story from another outlet).

Made by the build for every article and kept in the generation's files (`index.store.files`),
so an answer compares the candidate articles' shingles without reading their passages. The
hash is stable across processes (Python's `hash` of a string is not): each word's CRC-32, then
a polynomial over the shingle's words, in numpy.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

SHINGLE_WORDS = 5
_WORD = re.compile(r"\w+")
# "LONDON (Reuters) - ", "PARIS, Nov 20 (AFP) — ", "WASHINGTON: ": capitals, then a dash or colon
_DATELINE = re.compile(
    r"^\s*[A-Z][A-Z .'’/-]{1,40}(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?"
    r"\s*(?:\([^)\n]{1,40}\))?\s*[-—–:]{1,2}\s+"
)
_BYLINE = re.compile(r"^\s*By\s+[^\n.]{1,80}(?:\n|\.\s|$)")
_MIX = np.uint64(0x100000001B3)  # an odd multiplier: the shingle's words in order


def normalised_words(text: str) -> list[str]:
    """The words of an article's opening text, lower case, without dateline nor byline."""
    for pattern in (_BYLINE, _DATELINE, _BYLINE):
        text = pattern.sub("", text, count=1)
    return _WORD.findall(text.casefold())


@lru_cache(maxsize=1 << 18)
def _word_id(word: str) -> int:
    return zlib.crc32(word.encode("utf-8")) + 1  # never 0: the empty shingle is 0


def article_shingles(texts: Sequence[str]) -> np.ndarray:
    """Sorted distinct hashed word 5-shingles of an article's passages (in order; the first one
    normalised); shingles do not span passages. An article without words has the one shingle 0.
    """
    parts = []
    for i, text in enumerate(texts):
        words = normalised_words(text) if i == 0 else _WORD.findall(text.casefold())
        if not words:
            parts.append(np.zeros(1, dtype=np.uint64))
            continue
        ids = np.fromiter(map(_word_id, words), dtype=np.uint64, count=len(words))
        n = min(SHINGLE_WORDS, len(ids))
        grams = np.zeros(len(ids) - n + 1, dtype=np.uint64)
        for k in range(n):  # wraps modulo 2**64, as a hash may
            grams = grams * _MIX + ids[k : len(ids) - n + 1 + k]
        parts.append(grams)
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return np.unique(np.concatenate(parts))
