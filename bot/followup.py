"""Follow-up questions ("and the year before?") made standalone from the conversation."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.text import STOPWORDS, content_terms, words

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


def carry_terms(question: str, history: History, max_terms: int = 8) -> str:
    """The extractive path's rewrite: the question plus the previous question's key words."""
    if not history or not looks_like_followup(question):
        return question
    have = set(content_terms(question))
    carried: list[str] = []
    for w in words(history[-1][0]):
        if w in STOPWORDS or (w.isdigit() and len(w) < 4):
            continue
        stem = content_terms(w)
        if stem and stem[0] not in have and w not in carried:
            carried.append(w)
    if not carried:
        return question
    return f"{question.rstrip()} ({' '.join(carried[:max_terms])})"
