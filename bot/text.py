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
    """Stemmed words that carry meaning (no stopwords), in order."""
    ws = [w for w in words(text) if w not in STOPWORDS]
    return _stemmer().stemWords(ws) if ws else []


def has_words(text: str) -> bool:
    return bool(re.search(r"[^\W_]", text))
