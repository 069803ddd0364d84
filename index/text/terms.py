"""The stemmed terms of a text: what the keyword index is built from and what questions match.

It lives in `index/` because the build writes each generation's keyword index (see
`index.store.files`); the answering side (`bot.answering.text`) uses these same functions, so a
question's terms always meet the terms the build stored.
"""

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


def stemmed_terms(text: str) -> list[str]:
    """Stemmed words that carry meaning (no stopwords), in order; not cached, for one pass over
    a whole library (`bot.answering.text.content_terms` keeps the texts answers come back to)."""
    ws = [w for w in words(text) if w not in STOPWORDS]
    return _stemmer().stemWords(ws) if ws else []


def passage_terms(title: str, text: str) -> list[str]:
    """The terms a passage is found by: its article's title, then its text."""
    return stemmed_terms(f"{title}\n{text}")
