"""The relevance gate: is anything retrieved about what the question asks? Refuse when not.

A question is first stripped of how it was addressed (mentions, greetings, "please"), so that
words that no article could hold don't count against it. Each passage then scores
0.5 × cosine + 0.5 × rare-word coverage of the question. The best score is lowered when the
question names a specific number or name that no retrieved passage holds: "report number 5"
must not be answered from report 105, nor "what did Macron say" from an article on Putin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.answering.passages import NumberedPassage
from bot.answering.scoring import Cover, Idf, coverage_by
from bot.answering.text import STOPWORDS, content_terms, split_hyphenated, words
from index.text.sentences import sentence_spans

# A missing number is the near-miss that misleads most ("report 105" for "report 5"): it
# halves the score. Missing names lower it by up to half, by their share of the question's
# rare words: names have spellings and short forms.
MISSING_NUMBER_FACTOR = 0.5
MISSING_NAME_WEIGHT = 0.5

_DOTTED = re.compile(r"\b(?:[A-Za-z]\.){2,}")  # "U.S.", "U.K."
_MENTION = re.compile(r"<(?:@[!&]?|#)\d+>|@(?:everyone|here)\b")
_GREETING = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|yo|dear|good (?:morning|afternoon|evening))\b"
    r"(?:\s+(?:there|all|everyone|folks|bot|citebot|@?\w+bot))?\s*[,:;!.-]*\s*)+",
    re.I,
)
_POLITE = re.compile(
    r"^(?:(?:please|pls|plz|kindly|quick question|question)\b\s*[,:;!-]*\s*"
    r"|(?:(?:could|can|would|will) you(?: please)?(?: tell me| let me know| explain)?"
    r"|(?:do|does) (?:you|anyone|anybody) know"
    r"|i(?:'d| would) (?:like|love) to know"
    r"|i (?:want|need|wonder|am wondering)(?: to know)?"
    r"|tell me)\b\s*[,:;-]*\s*)+",
    re.I,
)
_TRAILING = re.compile(
    r"[\s,;:!-]*\b(?:please|pls|plz|thanks|thank you|thx|ty)\b[\s.!]*(?=[?.!]*$)", re.I
)
_NUMBER_WORDS_TEXT = """zero one two three four five six seven eight nine ten eleven twelve
thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty"""
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(_NUMBER_WORDS_TEXT.split())}
_CAPWORD = re.compile(r"\b[A-Z][A-Za-z'’]*(?:[A-Z0-9][A-Za-z0-9'’]*)?\b")


def normalise_question(question: str) -> str:
    """The question without mentions, greetings and politeness, its hyphenated words apart;
    the question itself if that's all there is.

    "hey bot, please tell me how big Russia-China trade was? thanks" → "how big Russia China
    trade was?": articles write "Russia–China", "Russia-China" and "Russia and China", and a
    question's compound must not count as one word that no article holds.
    """
    q = " ".join(_MENTION.sub(" ", split_hyphenated(question)).split())
    previous = None
    while previous != q:  # "Hi! Please, could you tell me …": each layer peels off in turn
        previous = q
        q = _GREETING.sub("", q)
        q = _POLITE.sub("", q)
        q = _TRAILING.sub("", q).strip()
    return q if re.search(r"\w", q) else " ".join(question.split())


@dataclass(frozen=True)
class GateResult:
    """The passages with their relevance, the best score, and what no passage holds."""

    passages: list[NumberedPassage]
    best: float
    missing: tuple[str, ...] = ()


def relevance(
    question: str | list[str], passage: NumberedPassage, idf: Idf, cover: Cover | None = None
) -> float:
    """How well a passage fits the question: cosine and rare-word coverage, equally weighted.

    `question` may be given as its content terms already, to stem it once for many passages,
    and `cover` as `coverage_by` of them, to weigh them once.
    """
    terms = content_terms(question) if isinstance(question, str) else question
    cover = cover or coverage_by(terms, idf)
    held = [t for piece in _pieces(passage.title, passage.text) for t in content_terms(piece)]
    return 0.5 * passage.dense + 0.5 * cover(held)


def _number(token: str) -> str | None:
    """A number token in one spelling ("2,000" → "2000", "six" → "6"), or None."""
    token = token.rstrip("%")
    if token in _NUMBER_WORDS:
        return _NUMBER_WORDS[token]
    plain = token.replace(",", "")
    return plain if plain.replace(".", "", 1).isdigit() else None


def specifics(question: str) -> tuple[set[str], set[str]]:
    """The numbers and the names (stemmed) that a question is specifically about."""
    # only figures written in digits: a question's "one of several lawsuits" names no number
    numbers = {n for w in words(question) if w[:1].isdigit() and (n := _number(w)) is not None}
    names: set[str] = set()
    for i, m in enumerate(_CAPWORD.finditer(question)):
        word = m[0]
        # the first word is capitalised anyway; "I" and question words are not names
        if i == 0 and m.start() == len(question) - len(question.lstrip()):
            continue
        stem = content_terms(word)
        if stem and word.lower() not in STOPWORDS and word.lower() not in _NUMBER_WORDS:
            names.add(stem[0])
    return numbers, names


def missing_specifics(question: str, passages: Sequence[NumberedPassage]) -> tuple[set, set]:
    """The question's numbers and names that not one of the passages holds."""
    numbers, names = specifics(question)
    if not numbers and not names:
        return set(), set()
    held_numbers: set[str] = set()
    held_terms: set[str] = set()
    for p in passages:
        held = _held(p.title, p.text)
        held_numbers.update(held[0])
        held_terms.update(held[1])
    return numbers - held_numbers, names - held_terms


@lru_cache(maxsize=1024)
def _pieces(title: str, text: str) -> tuple[str, ...]:
    """A passage as its title and its sentences. Words never cross white space, so their terms
    together are the passage's; and the extractive answerer and the quotes read the same
    sentences again, their terms kept per text: a passage is stemmed once, not once whole and
    again by sentence."""
    return (title, *(text[s:e] for s, e in sentence_spans(text)))


@lru_cache(maxsize=1024)
def _held(title: str, text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The numbers and the terms a passage holds; kept per text, as passages recur across
    questions (a rebuild's changed text is a new key)."""
    # a number starts with a digit or is a number word: the test spares `_number` most words
    numbers = frozenset(
        n
        for w in words(f"{title}\n{text}")
        if (w[:1].isdigit() or w in _NUMBER_WORDS) and (n := _number(w)) is not None
    )
    terms: set[str] = set()
    for piece in _pieces(title, text):
        terms.update(content_terms(piece))
        # "U.S." holds "US", "Russia-China" holds "Russia"
        plain = split_hyphenated(_DOTTED.sub(lambda m: m[0].replace(".", ""), piece))
        if plain != piece:
            terms.update(content_terms(plain))
    return numbers, frozenset(terms)


def gate(question: str, passages: Sequence[NumberedPassage], idf: Idf) -> GateResult:
    """Score each passage; the best score is lowered for specifics that no passage holds."""
    terms = content_terms(question)
    cover = coverage_by(terms, idf)
    scored = [replace(p, relevance=relevance(terms, p, idf, cover)) for p in passages]
    best = max((p.relevance for p in scored), default=0.0)
    numbers, names = missing_specifics(question, scored)
    if numbers:
        best *= MISSING_NUMBER_FACTOR
    if names:
        # weighed by rarity: a missing "Macron" says the passages are about someone else, a
        # missing "US" (in half the library) says little
        total = sum(idf(t) for t in set(terms)) or 1.0
        best *= 1 - MISSING_NAME_WEIGHT * min(1.0, sum(idf(t) for t in names) / total)
    return GateResult(scored, best, tuple(sorted(numbers | names)))
