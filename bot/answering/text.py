"""Word-level helpers shared by keyword search, sentence scoring and citation checks."""

from __future__ import annotations

import re
from functools import lru_cache

from index.text.terms import STOPWORDS, stemmed_terms, words

__all__ = [
    "STOPWORDS",
    "content_terms",
    "has_words",
    "split_hyphenated",
    "stemmed_terms",
    "words",
]

# texts whose terms are kept (passages, their sentences, claims): a few answers' worth, ~20 MB
TERMS_CACHE = 8192


def content_terms(text: str) -> list[str]:
    """Stemmed words that carry meaning (no stopwords), in order.

    One answer reads the same passages and sentences several times over (gate, sentence
    scoring, citation check, quotes), and questions on one story share them: the analysis is
    kept per text. Keyed by the text itself, so a rebuild's changed passage is a new key and
    never meets a stale analysis.
    """
    return list(_cached_terms(text))


@lru_cache(maxsize=TERMS_CACHE)
def _cached_terms(text: str) -> tuple[str, ...]:
    return tuple(stemmed_terms(text))


_HYPHENATED = re.compile(r"(?<=[A-Za-z])-(?=[A-Za-z])")


def split_hyphenated(text: str) -> str:
    """Hyphenated words apart: "Russia-China" → "Russia China", as articles also write it."""
    return _HYPHENATED.sub(" ", text)


def has_words(text: str) -> bool:
    """Whether the text holds a letter or a digit."""
    return bool(re.search(r"[^\W_]", text))
