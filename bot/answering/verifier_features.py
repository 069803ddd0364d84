"""What the verifier's head reads beside the cross-encoder: the rules' findings as numbers.

The fine-tuned encoder learns the relation of claim and window slowly on two cores; these
cheap signals (the claim check's rules on the window, and how much of the claim the window
and its best sentence cover) give the head a start that the encoder then corrects: a true
figure on the wrong subject, an antonym, a hedge made a fact. The model learns their
weights; none of them decides alone.
"""

from __future__ import annotations

import re

from bot.answering.claimcheck import rule_findings
from index.text.sentences import split_sentences

# the words of a text, and those too common to tell windows apart (windows and features)
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.-]*")
STOP_WORDS = frozenset({
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "by", "with", "from", "and", "or",
    "but", "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "it", "its",
    "this", "that", "these", "those", "as", "which", "who", "whom", "whose", "what", "when",
    "where", "why", "how", "than", "then", "there", "their", "they", "them", "he", "she", "his",
    "her", "him", "we", "our", "you", "your", "i", "me", "my", "will", "would", "can", "could",
    "may", "might", "shall", "should", "do", "does", "did", "said", "says", "also", "into", "over",
    "after", "before", "about", "more", "most"
})  # fmt: skip
_HEDGES = frozenset({
    "could", "may", "might", "likely", "unlikely", "expected", "expects", "plans", "plan",
    "planned", "proposed", "possible", "possibly", "reportedly", "allegedly", "suspected",
    "considering", "consider", "hopes", "hope", "aims", "seek", "seeks", "would"
})  # fmt: skip
_NEGATIONS = frozenset({
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "n't", "cannot"
})  # fmt: skip
_COMPARE = ("at least", "at most", "more than", "less than", "fewer than", "up to", "nearly",
            "almost", "over", "under", "above", "below")  # fmt: skip

_CLAUSE = re.compile(r",|;|:| while | whereas | but | and | as | after | before | although ")

N_FEATURES = 17


def _words(text: str) -> list[str]:
    text = re.sub(r"n't\b", " n't", text)
    return [m.group(0).lower().strip(".'’-") for m in WORD.finditer(text)]


def _content(words: list[str]) -> set[str]:
    return {w[:6] for w in words if len(w) > 2 and w not in STOP_WORDS}


def _count(words: list[str], vocab: frozenset[str]) -> int:
    return sum(w in vocab for w in words)


def _phrases(text: str) -> set[str]:
    low = f" {text.lower()} "
    return {p for p in _COMPARE if f" {p} " in low}


def features(claim: str, window: str) -> list[float]:
    """N_FEATURES numbers for (claim, window), each about 0–1."""
    cw = _words(claim)
    ww = _words(window)
    c = _content(cw)
    sentences = split_sentences(window) or [window]
    best = max(sentences, key=lambda s: len(c & _content(_words(s))))
    bw = _words(best)
    cover = len(c & _content(ww)) / max(1, len(c))
    cover_best = len(c & _content(bw)) / max(1, len(c))
    findings = rule_findings(claim, window)
    best_findings = rule_findings(claim, best)
    clauses = [x for x in _CLAUSE.split(best) if x.strip()] or [best]
    clause = max(clauses, key=lambda s: len(c & _content(_words(s))))
    clause_findings = rule_findings(claim, clause)
    hedge_claim, hedge_best = _count(cw, _HEDGES), _count(bw, _HEDGES)
    neg_claim, neg_best = _count(cw, _NEGATIONS), _count(bw, _NEGATIONS)
    return [
        cover,
        cover_best,
        1.0 - cover,
        min(1.0, len(c - _content(ww)) / 5),
        float(findings["number"]),
        float(findings["name"]),
        float(findings["quote"]),
        float(findings["negation"] or best_findings["negation"]),
        float(findings["roles"]),
        float(best_findings["number"]),  # the value sits elsewhere in the window, not here
        float(best_findings["name"]),
        float(hedge_best > hedge_claim),  # the passage hedges what the claim states
        float(neg_claim != neg_best),
        float(_phrases(claim) != (_phrases(claim) & _phrases(best))),
        len(c & _content(_words(clause))) / max(1, len(c)),
        float(clause_findings["number"]),  # the value belongs to another clause
        float(clause_findings["name"]),
    ]
