"""The citation contract, enforced on every answerer's draft.

The draft is split into claims (its sentences; a marker `[n]` belongs to the sentence before
it and ends it), and markers that point to no given passage are removed. A claim is kept when

1. **support**: a passage it cites scores at least `SUPPORT_THRESHOLD` (0.5) on 0.6 × the
   IDF-weighted share of the claim's content words found in the passage + 0.4 × the cosine of
   claim and passage embeddings (the embedding only when words alone fall short), and
2. **facts**: the rules of `bot.answering.claimcheck` hold against the passages it cites, read
   as one text: its numbers, amounts, percentages, years, months and weekdays are in them (by
   value); its capitalised names are (a short form of a full name allowed); its quoted text is
   word for word; its negations match the best matching passage sentence; two names around a
   shared verb are not swapped. A claim found verbatim in a passage passes these rules.

With the learned verifier (`bot.answering.verifier`, `CLAIM_VERIFIER=model`; experimental)
a claim that is not verbatim in a passage is judged instead by the rules that are certain
when they fail (a quotation not word for word in the passages, a number or a name found
nowhere in them) and then by the model, which reads each cited passage's best windows and
keeps the claim where its calibrated probability of support reaches the frozen threshold;
a claim it drops is listed with rule "verifier" and that probability. Verbatim claims (every
claim of the extractive answerer) never run the model.

The cited passages that pass (1) become its sources. A claim that cites nothing gets the best
passage that passes both, ranked by word overlap first and then by the full score. A claim
that fails is dropped and listed in `Checked.dropped` with the rule that dropped it
("support", "number", "name", "quote", "negation" or "roles") and what that rule did not find.
Every kept claim gets a verbatim quote from each source (its best matching sentence with
neighbours, ≤ `QUOTE_CHARS`); citations are renumbered in order of appearance. A draft left
with no kept claim becomes the refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from bot.answering.answer import REFUSAL_TEXT, Citation
from bot.answering.claimcheck import hard_violation, verbatim, violation
from bot.answering.passages import NumberedPassage
from bot.answering.scoring import Idf, coverage_by, support
from bot.answering.text import content_terms
from index.build.embeddings import Embedder
from index.text.sentences import sentence_spans

SUPPORT_THRESHOLD = 0.5
# an uncited claim is judged against this many passages at most, by word overlap
UNCITED_JUDGED = 3


class SupportModel(Protocol):
    """What the check needs of a learned verifier (`bot.answering.verifier.ClaimVerifier`)."""

    @property
    def threshold(self) -> float:
        """The probability at and above which a claim counts as supported."""
        ...

    def support_window(self, claim: str, passage: str) -> tuple[float, str]:
        """The probability that the passage supports the claim, and the window of the
        passage (whole sentences) that supports it best."""
        ...


# quotes of ≤ 400 characters with the neighbouring sentences put the gold answer in front of
# the reader for .72 of dev questions, against .62 for the claim sentence alone
QUOTE_CHARS = 400
_MARKER_GROUP = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
# where a claim ends: after its markers and full stop, or after markers before a capital
_MARKER_END = re.compile(r"(\d\][.!?][\"”’)]*)\s+(?!\[\d)|(\d\])\s+(?!\[\d)(?=[\"“‘(]?[A-Z0-9])")


@dataclass(frozen=True)
class DroppedClaim:
    """A claim the check removed, the rule that removed it and what that rule did not find."""

    claim: str
    # "support", "number", "name", "quote", "negation", "roles", "wording" or "verifier"
    rule: str
    detail: str
    passage: int | None  # the passage it was checked against; None when there was none
    score: float | None = None  # the verifier's probability of support, where it judged

    def as_dict(self) -> dict:
        """The citation as JSON-ready data."""
        return asdict(self)


@dataclass
class Checked:
    """An answer after the citation check: its text, the citations kept, the claims dropped."""

    text: str
    citations: list[Citation]
    refused: bool
    dropped: list[DroppedClaim] = field(default_factory=list)


def _claims(text: str) -> list[tuple[str, list[int]]]:
    """Split a draft into (claim text without markers, cited numbers) per sentence."""
    text = re.sub(r"\s+", " ", text).strip()
    # "claim. [1] Next" → "claim [1]. Next": a marker belongs to the sentence before it
    text = re.sub(
        r"([.!?][\"”’)]*)((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)", lambda m: m[2] + m[1], text
    )
    # a marker ends its claim even where no capital follows ("… States [1]. -- Inia …") or no
    # full stop precedes (a headline): merged with the next, a claim is verbatim in neither
    # passage it cites, and its check needs the model
    text = _MARKER_END.sub(lambda m: (m[1] or m[2]) + "\n", text)
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
    cover = coverage_by(terms, idf)
    scores = [cover(content_terms(passage[s:e])) for s, e in spans]
    i = max(range(len(spans)), key=lambda k: scores[k])
    lo, hi = spans[i]
    for j in (i - 1, i + 1):
        if 0 <= j < len(spans) and max(hi, spans[j][1]) - min(lo, spans[j][0]) <= limit:
            lo, hi = min(lo, spans[j][0]), max(hi, spans[j][1])
    return passage[lo:hi]


class _Judge:
    """Tests claims against passages; embeds only when word overlap alone doesn't settle it."""

    def __init__(
        self,
        claims: list[str],
        passages: list[NumberedPassage],
        embedder: Embedder,
        idf: Idf,
        threshold: float,
        stored_vectors: Callable[[list[str]], dict[str, np.ndarray]] | None,
        verifier: SupportModel | None = None,
    ) -> None:
        self.claims, self.passages, self.embedder = claims, passages, embedder
        self.idf, self.threshold, self.stored_vectors = idf, threshold, stored_vectors
        self.verifier = verifier
        self._probs: dict[tuple[int, int], tuple[float, str]] = {}
        self._pvecs: np.ndarray | None = None
        self._cvecs: np.ndarray | None = None

    def _cosine(self, ci: int, p: NumberedPassage) -> float:
        if self._pvecs is None or self._cvecs is None:
            ids = [x.chunk_id for x in self.passages]
            stored = self.stored_vectors(ids) if self.stored_vectors else {}
            if all(i in stored for i in ids):
                self._pvecs = np.stack([stored[i] for i in ids])
            else:
                self._pvecs = self.embedder.embed([f"{x.title}\n{x.text}" for x in self.passages])
            self._cvecs = self.embedder.embed(self.claims)
        return float(self._cvecs[ci] @ self._pvecs[self.passages.index(p)])

    def words_only(self, ci: int, p: NumberedPassage) -> float:
        return support(self.claims[ci], p.text, 0.0, self.idf)

    def score(self, ci: int, p: NumberedPassage) -> float:
        overlap_only = self.words_only(ci, p)
        if overlap_only >= self.threshold:
            return overlap_only
        return support(self.claims[ci], p.text, self._cosine(ci, p), self.idf)

    def _fails(self, ci: int, passages: list[NumberedPassage], score: float) -> DroppedClaim | None:
        """Why the passages (read as one text) don't back the claim, or None."""
        claim = self.claims[ci]
        if score < self.threshold:
            detail = f"support {score:.2f} < {self.threshold:.2f}"
            return DroppedClaim(claim, "support", detail, passages[0].number)
        v = violation(claim, "\n\n".join(p.text for p in passages))
        return DroppedClaim(claim, v.rule, v.detail, passages[0].number) if v else None

    def probability(self, ci: int, p: NumberedPassage) -> tuple[float, str]:
        """The verifier's probability that the passage supports the claim, and the window
        it read that from (once per pair)."""
        assert self.verifier is not None
        key = (ci, p.number)
        if key not in self._probs:
            self._probs[key] = self.verifier.support_window(self.claims[ci], p.text)
        return self._probs[key]

    def judged(self, ci: int, passages: list[NumberedPassage]):
        """With the verifier: the passages that back the claim, or why none does.

        A claim verbatim in a passage is backed by it (no model run). Otherwise the certain
        rules read the passages as one text (a quotation, a number or a name found nowhere
        in them drops the claim), then the verifier reads each passage's best windows; the
        passages it finds supporting at its frozen threshold are the claim's sources.
        """
        assert self.verifier is not None
        claim = self.claims[ci]
        exact = [p for p in passages if verbatim(claim, p.text)]
        if exact:
            return exact, None
        first = passages[0].number if passages else None
        v = hard_violation(claim, "\n\n".join(p.text for p in passages))
        if v is not None:
            return [], DroppedClaim(claim, v.rule, v.detail, first)
        limit = self.verifier.threshold
        judged = [(*self.probability(ci, p), p) for p in passages]
        good = [(prob, window, p) for prob, window, p in judged if prob >= limit]
        # a value or a name must sit in the sentences that support the claim, not only
        # somewhere else in the passage ("fell 30 percent" where 30 percent is what rose)
        for prob, window, p in good:
            v = hard_violation(claim, window)
            if v is not None:
                detail = f"{v.detail} (not in the sentences that support the claim)"
                return [], DroppedClaim(claim, v.rule, detail, p.number, round(prob, 4))
        if good:
            return [p for _, _, p in good], None
        best, _, p = max(judged, key=lambda x: x[0])
        detail = f"verifier {best:.2f} < {limit:.2f}"
        return [], DroppedClaim(claim, "verifier", detail, p.number, round(best, 4))

    def cited(self, ci: int, cited: list[NumberedPassage]):
        """The cited passages that support the claim, if what it cites holds its facts.

        A claim that cites several passages may take a fact from each, so the rules read all
        of them as one text; the support score picks the ones shown as its sources.
        """
        if self.verifier is not None:
            return self.judged(ci, cited)
        scores = [(self.score(ci, p), p) for p in cited]
        good = [p for score, p in scores if score >= self.threshold]
        if not good:
            return [], self._fails(ci, cited[:1], scores[0][0])
        reason = self._fails(ci, good + [p for p in cited if p not in good], self.threshold)
        return ([], reason) if reason else (good, None)

    def uncited(self, ci: int):
        """The best passage that backs an uncited claim, by word overlap first, then in full."""
        if self.verifier is not None:
            return self._uncited_judged(ci)
        reason = None
        for ranking in (self.words_only, self.score):
            scored = sorted(((ranking(ci, p), p) for p in self.passages), key=lambda x: -x[0])
            for score, p in scored:
                r = self._fails(ci, [p], score)
                if r is None:
                    return [p], None
                if reason is None or reason.rule == "support":  # a broken rule tells more
                    reason = r
                if score < self.threshold:
                    break
        return [], reason

    def _uncited_judged(self, ci: int):
        """An uncited claim with the verifier: the passages by word overlap, best first; the
        first few that the verifier finds supporting (each judged as a cited one)."""
        ranked = sorted(self.passages, key=lambda p: -self.words_only(ci, p))
        reason = None
        for p in ranked[:UNCITED_JUDGED]:
            good, why = self.judged(ci, [p])
            if good:
                return good, None
            if reason is None or (why is not None and why.rule != "verifier"):
                reason = why
        return [], reason


def check(
    draft: str,
    passages: list[NumberedPassage],
    embedder: Embedder,
    idf: Idf,
    threshold: float = SUPPORT_THRESHOLD,
    stored_vectors: Callable[[list[str]], dict[str, np.ndarray]] | None = None,
    verifier: SupportModel | None = None,
) -> Checked:
    """Apply the contract to a draft; see the module docstring. With a `verifier`, a claim
    that is not verbatim is judged by the certain rules and the model (`_Judge.judged`)."""
    by_number = {p.number: p for p in passages}
    claims = _claims(draft)
    judge = _Judge(
        [c for c, _ in claims], passages, embedder, idf, threshold, stored_vectors, verifier
    )
    kept: list[tuple[str, list[tuple[NumberedPassage, str]]]] = []
    dropped: list[DroppedClaim] = []
    for ci, (claim, nums) in enumerate(claims):
        cited = [by_number[n] for n in dict.fromkeys(nums) if n in by_number]
        good, reason = judge.cited(ci, cited) if cited else judge.uncited(ci)
        if not good:
            dropped.append(reason or DroppedClaim(claim, "support", "no passage", None))
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
                        provenance=p.provenance,
                        quote=quote,
                        chunk_id=p.chunk_id,
                        score=round(p.relevance, 4),
                        also_in=p.also_in,
                    )
                )
            marks.append(f"[{numbers[key]}]")
        parts.append(f"{claim} {''.join(marks)}")
    return Checked(" ".join(parts), citations, refused=False, dropped=dropped)
