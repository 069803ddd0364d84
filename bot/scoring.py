"""Scores shared by the relevance gate, the extractive answerer and the citation check."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from bot.text import content_terms

Idf = Callable[[str], float]

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(
    rf"\b(?:{_MONTHS})\b|\b(?:1[89]|20)\d\d\b|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b", re.I
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|"
    r"trillion|dozen|percent)\b",
    re.I,
)
_CAPWORD = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z'’-]+")


def coverage(query_terms: Iterable[str], text_terms: Iterable[str], idf: Idf) -> float:
    """IDF-weighted share of the query's distinct terms that the text contains (0..1)."""
    q = set(query_terms)
    if not q:
        return 0.0
    t = set(text_terms)
    total = sum(idf(w) for w in q)
    return sum(idf(w) for w in q & t) / total if total else 0.0


def answer_type_bonus(question: str, sentence: str) -> float:
    """1 when the sentence holds the kind of thing asked for (a name, a date, a number)."""
    q = question.lower().strip()
    qwords = {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    new_caps = [w for w in _CAPWORD.findall(sentence) if w.lower() not in qwords]
    if re.match(r"(how (much|many|big|large|old|long|far)|what (percentage|share|number))", q):
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if q.startswith("when") or "what year" in q or "what date" in q or "what day" in q:
        return 1.0 if _DATE.search(sentence) else 0.0
    if q.startswith(("who", "whom", "whose")):
        return 1.0 if new_caps else 0.0
    if q.startswith(("which", "what", "where")):
        return 0.5 if new_caps else 0.0
    return 0.0


def support(claim: str, passage: str, cosine: float, idf: Idf) -> float:
    """How well a passage supports a claim: word overlap and embedding similarity, 0..1."""
    claim_terms = content_terms(re.sub(r"\[\d+\]", "", claim))
    if not claim_terms:
        return 0.0
    overlap = coverage(claim_terms, content_terms(passage), idf)
    return 0.6 * overlap + 0.4 * max(0.0, cosine)
