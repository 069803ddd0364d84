"""The citation contract, enforced on every answerer's draft.

Markers that point to no passage are removed; each claim is checked against the passage it
cites (word overlap + embedding similarity); unsupported claims are dropped; every kept claim
gets a verbatim quote from its passage; citations are renumbered in order of appearance. A
draft left with no supported claim becomes the refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.answer import REFUSAL_TEXT, Citation
from bot.passages import NumberedPassage
from bot.scoring import Idf, coverage, support
from bot.text import content_terms
from index.embeddings import Embedder
from index.sentences import sentence_spans

SUPPORT_THRESHOLD = 0.5
# quotes of ≤ 400 characters with the neighbouring sentences put the gold answer in front of
# the reader for .72 of dev questions, against .62 for the claim sentence alone
QUOTE_CHARS = 400
_MARKER_GROUP = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")


@dataclass
class Checked:
    text: str
    citations: list[Citation]
    refused: bool
    dropped: int


def _claims(text: str) -> list[tuple[str, list[int]]]:
    """Split a draft into (claim text without markers, cited numbers) per sentence."""
    text = re.sub(r"\s+", " ", text).strip()
    # "claim. [1] Next" → "claim [1]. Next": a marker belongs to the sentence before it
    text = re.sub(
        r"([.!?][\"”’)]*)((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)", lambda m: m[2] + m[1], text
    )
    out = []
    for s, e in sentence_spans(text):
        sentence = text[s:e]
        nums = [int(n) for g in _MARKER_GROUP.findall(sentence) for n in re.split(r"[,;]", g)]
        claim = _MARKER_GROUP.sub("", sentence).strip()
        claim = re.sub(r"\s+([.,;:!?])", r"\1", claim)
        if re.search(r"\w", claim):
            out.append((claim, nums))
    return out


def best_quote(claim: str, passage: str, idf: Idf, limit: int = QUOTE_CHARS) -> str:
    """The passage sentence that covers most of the claim's words, with its neighbours.

    The neighbouring sentences (kept while the quote stays within `limit` characters) give the
    reader the context of the claim; the quote is always a verbatim slice of the passage.
    """
    terms = content_terms(claim)
    spans = sentence_spans(passage)
    if not spans:
        return passage[:limit]
    scores = [coverage(terms, content_terms(passage[s:e]), idf) for s, e in spans]
    i = max(range(len(spans)), key=lambda k: scores[k])
    lo, hi = spans[i]
    for j in (i - 1, i + 1):
        if 0 <= j < len(spans) and max(hi, spans[j][1]) - min(lo, spans[j][0]) <= limit:
            lo, hi = min(lo, spans[j][0]), max(hi, spans[j][1])
    return passage[lo:hi]


def check(
    draft: str,
    passages: list[NumberedPassage],
    embedder: Embedder,
    idf: Idf,
    threshold: float = SUPPORT_THRESHOLD,
    stored_vectors: Callable[[list[str]], dict[str, np.ndarray]] | None = None,
) -> Checked:
    """Apply the contract to a draft; see the module docstring."""
    by_number = {p.number: p for p in passages}
    claims = _claims(draft)
    pvecs: np.ndarray | None = None
    cvecs: np.ndarray | None = None

    def cosine(ci: int, p: NumberedPassage) -> float:
        nonlocal pvecs, cvecs
        if pvecs is None:  # only claims that words alone don't settle pay for embeddings
            stored = stored_vectors([x.chunk_id for x in passages]) if stored_vectors else {}
            if all(x.chunk_id in stored for x in passages):
                pvecs = np.stack([stored[x.chunk_id] for x in passages])
            else:
                pvecs = embedder.embed([f"{x.title}\n{x.text}" for x in passages])
            cvecs = embedder.embed([c for c, _ in claims])
        return float(cvecs[ci] @ pvecs[passages.index(p)])

    def supported(ci: int, claim: str, p: NumberedPassage) -> float:
        overlap_only = support(claim, p.text, 0.0, idf)
        if overlap_only >= threshold:
            return overlap_only
        return support(claim, p.text, cosine(ci, p), idf)

    kept: list[tuple[str, list[tuple[NumberedPassage, str]]]] = []
    dropped = 0
    for ci, (claim, nums) in enumerate(claims):
        cited = [by_number[n] for n in dict.fromkeys(nums) if n in by_number]
        good = [p for p in cited if supported(ci, claim, p) >= threshold]
        if not good and not cited:
            # an uncited claim may still be backed by a passage: cite the best one, if any
            by_words = max(passages, key=lambda p: support(claim, p.text, 0.0, idf), default=None)
            if by_words is not None and support(claim, by_words.text, 0.0, idf) >= threshold:
                good = [by_words]
            else:
                scored = sorted(
                    ((supported(ci, claim, p), p) for p in passages), key=lambda x: -x[0]
                )
                good = [scored[0][1]] if scored and scored[0][0] >= threshold else []
        if not good:
            dropped += 1
            continue
        kept.append((claim, [(p, best_quote(claim, p.text, idf)) for p in good]))

    if not kept:
        return Checked(REFUSAL_TEXT, [], refused=True, dropped=dropped)
    numbers: dict[tuple[str, str], int] = {}
    citations: list[Citation] = []
    parts = []
    for claim, sources in kept:
        marks = []
        for p, quote in sources:
            key = (p.chunk_id, quote)
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                citations.append(
                    Citation(
                        number=numbers[key],
                        title=p.title,
                        quote=quote,
                        chunk_id=p.chunk_id,
                        score=round(p.relevance, 4),
                        url=p.url,
                        source=p.source,
                        date=p.date,
                        publisher=p.publisher,
                    )
                )
            marks.append(f"[{numbers[key]}]")
        parts.append(f"{claim} {''.join(marks)}")
    return Checked(" ".join(parts), citations, refused=False, dropped=dropped)
