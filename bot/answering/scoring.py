"""Scores shared by the relevance gate, the extractive answerer and the citation check."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from bot.answering.text import content_terms

Idf = Callable[[str], float]
# one query's `coverage` of a text's terms (`coverage_by`)
Cover = Callable[[Iterable[str]], float]

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
    return coverage_by(query_terms, idf)(text_terms)


def coverage_by(query_terms: Iterable[str], idf: Idf) -> Cover:
    """`coverage` of one query, for many texts: the query's idf weights are looked up once
    (scoring one question's sentences asked the idf a thousand times)."""
    q = set(query_terms)
    weight = {w: idf(w) for w in q}  # each term's idf asked once (the sums keep their order)
    total = sum(weight[w] for w in q)

    def cover(text_terms: Iterable[str]) -> float:
        return sum(weight[w] for w in q & set(text_terms)) / total if total else 0.0

    return cover


# "how many new homes will …" → "new homes": the thing counted, up to the verb or the end
_COUNTED = re.compile(
    r"\bhow many\s+([a-z' -]+?)"
    r"(?=\s+(?:will|would|did|do|does|are|were|is|was|have|has|had|can|could)\b|[?,.]|$)"
)
_SPEECH_Q = re.compile(
    r"\bwhat (?:did|does|do|has|have|had|will|would)\b.*\b(?:say|said|tell|told|claim|announce|"
    r"declare|state|warn|write|tweet|post)\b"
)
_SPEECH = re.compile(
    r"[\"“”]|\b(?:said|says|told|stated|declared|announced|added|warned|claimed|wrote|insisted|"
    r"argued|noted|thanked|called|urged|promised|vowed|denied)\b",
    re.I,
)
# a date's digits are no figure: "February 24, 2022", "24 February", "in 2022", "2022/06/16"
_DATES_OUT = re.compile(
    rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+(?:1[89]|20)\d\d)?"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\b(?:\s+(?:1[89]|20)\d\d)?"
    r"|\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b(?:1[89]|20)\d\d\b",
    re.I,
)
_FIGURE = re.compile(r"\d")
_NUM_TOKEN = re.compile(
    r"[$€£]?\d[\d,.]*%?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|dozens?|hundreds?|thousands?|millions?|billions?)\b",
    re.I,
)


def _counts(sentence: str, noun: str) -> bool:
    """The sentence puts a number right before the counted thing: "12,000 homes"."""
    head = content_terms(noun)[-1:]
    if not head:
        return False
    tokens = sentence.split()
    for i, tok in enumerate(tokens):
        if content_terms(tok)[:1] == head:
            window = " ".join(tokens[max(0, i - 4) : i])
            if _NUM_TOKEN.search(window):
                return True
    return False


def answer_type_bonus(question: str, sentence: str) -> float:
    """1 when the sentence holds the kind of thing asked for (a name, a date, a number).

    "How many homes" asks for a number of homes: a sentence that only gives megawatts holds a
    number but not the answer, and gets half.
    """
    q = question.lower().strip()
    qwords = {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    new_caps = [w for w in _CAPWORD.findall(sentence) if w.lower() not in qwords]
    counted = _COUNTED.search(q)
    if counted and content_terms(counted[1]):
        if _counts(sentence, counted[1]):
            return 1.0
        return 0.5 if _NUMBER.search(sentence) else 0.0
    if re.match(r"(how (much|many|big|large|old|long|far)|what (percentage|share|number))", q):
        # figures are written in digits; "the two heads of state", or only a date ("on
        # February 24, 2022"), count a little
        if _FIGURE.search(_DATES_OUT.sub(" ", sentence)):
            return 1.0
        return 0.5 if _NUMBER.search(sentence) else 0.0
    if _SPEECH_Q.search(q):
        return 1.0 if _SPEECH.search(sentence) else 0.0
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
