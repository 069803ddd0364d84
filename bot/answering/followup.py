"""Follow-up questions ("and the year before?") made standalone from the conversation."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.answering.text import STOPWORDS, content_terms, split_hyphenated, words

History = Sequence[tuple[str, str]]  # (question, answer text), oldest first

_FOLLOWUP_START = re.compile(
    r"^(and|but|also|what about|how about|and what|then|so|why|what else|same for)\b", re.I
)
_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|that|this|those|these|he|she|him|her|there)\b", re.I
)


def looks_like_followup(question: str) -> bool:
    """Short, pronoun-led or "and …" questions lean on the previous turn."""
    return bool(
        _FOLLOWUP_START.search(question.strip())
        or _PRONOUN.search(question)
        or len(content_terms(question)) <= 2
    )


# question words that say what kind of answer is wanted, not what it is about
_ASKING = frozenset(
    {"how", "much", "many", "what", "which", "who", "whom", "when", "where", "why"}
    # the dimension asked about: "how big was trade?" is about trade
    | {"big", "large", "long", "old", "far", "often", "soon"}
)
_CARRIED = re.compile(r"^(?P<own>.*?)\s*\((?P<carried>[^()]*)\)\s*$", re.S)


def carry_terms(question: str, history: History, max_terms: int = 8) -> str:
    """The extractive path's rewrite: the question plus the previous question's key words.

    The carried words follow in parentheses, "and what did Putin say? (trade russia china)":
    retrieval reads them all, while `split_carried` lets the answerer weigh the question's own
    words above them, so the follow-up is answered rather than the question before it.
    """
    if not history or not looks_like_followup(question):
        return question
    have = set(content_terms(question))
    carried: list[str] = []
    # hyphenated words apart, as the question itself is asked: "Russia-China" → Russia, China
    for w in words(split_hyphenated(history[-1][0])):
        if w in STOPWORDS or w in _ASKING or (w.isdigit() and len(w) < 4):
            continue
        stem = content_terms(w)
        if stem and stem[0] not in have and w not in carried:
            carried.append(w)
    if not carried:
        return question
    return f"{question.rstrip()} ({' '.join(carried[:max_terms])})"


def split_carried(standalone: str) -> tuple[str, str]:
    """A standalone question as (its own words, the words `carry_terms` carried over)."""
    m = _CARRIED.match(standalone)
    return (m["own"], m["carried"]) if m else (standalone, "")
