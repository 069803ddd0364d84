"""Word-level helpers shared by keyword search, sentence scoring and citation checks."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’$%.,-]*[A-Za-z0-9%]|[A-Za-z0-9]")

_STOPWORDS_TEXT = """
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers herself him himself his how i if in into
is it its itself just last let me more most my myself no nor not now of off on once only or
other our ours ourselves out over own per said same says she should so some such than that
the their theirs them themselves then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your yours
yourself yourselves year years week weeks recently recent new according tell told know
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
# texts whose terms are kept (passages, their sentences, claims): a few answers' worth, ~20 MB
TERMS_CACHE = 8192


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens; numbers keep their inner punctuation ("$240", "2,000")."""
    out = []
    for w in _WORD.findall(text.replace("’", "'")):
        w = w.lower().strip(".,'")
        if w.endswith("'s"):
            w = w[:-2]
        if w:
            out.append(w.lstrip("$"))
    return [w for w in out if w]


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


def stemmed_terms(text: str) -> list[str]:
    """`content_terms` without the cache: for one pass over a whole library (the BM25 build),
    which would only push out the texts that answers keep coming back to."""
    ws = [w for w in words(text) if w not in STOPWORDS]
    return _stemmer().stemWords(ws) if ws else []


_HYPHENATED = re.compile(r"(?<=[A-Za-z])-(?=[A-Za-z])")


def split_hyphenated(text: str) -> str:
    """Hyphenated words apart: "Russia-China" → "Russia China", as articles also write it."""
    return _HYPHENATED.sub(" ", text)


def has_words(text: str) -> bool:
    return bool(re.search(r"[^\W_]", text))
