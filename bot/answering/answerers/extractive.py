"""The offline answerer: quotes the sentences of the passages that best answer the question."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.answering.answerers import AnswererContext, Draft
from bot.answering.citations import best_quote
from bot.answering.followup import split_carried
from bot.answering.passages import NumberedPassage
from bot.answering.scoring import Idf, answer_type_bonus, coverage_by
from bot.answering.text import content_terms
from index.build.embeddings import Embedder
from index.text.sentences import sentence_spans

MIN_WORDS = 4
MAX_CANDIDATES = 60
# share of the keyword score that a follow-up's carried words get (its own words get the rest)
CARRIED_WEIGHT = 0.25
# "title + sentence" vectors kept (1.5 kB each): questions on one story score the same sentences
SENTENCE_VECTORS = 4096

Span = tuple[int, int]
# chunk ids -> for each chunk the build kept them for, its sentences' L2-normalised vectors
# (float16 or float32) by (start, end) in its text (late chunking,
# `index.build.late_chunking`): what the answerer then needn't embed
SentenceLookup = Callable[[Sequence[str]], Mapping[str, Mapping[Span, np.ndarray]]]


@dataclass(frozen=True)
class Pick:
    """A sentence picked for the answer: its passage's number, its text and its score."""

    number: int
    text: str
    score: float
    # how well the sentence holds the kind of thing asked for (see `answer_type_bonus`)
    kind: float = 0.0


class ExtractiveAnswerer:
    """Scores every sentence of the passages and answers with the best one to three.

    The score mixes keyword overlap with the question (rare words weigh more), embedding
    similarity of the sentence to the question, a bonus when the sentence holds the kind of
    thing asked for, and the rank of its passage. Quotes are verbatim.

    A sentence's vector is the one the build kept for it (`stored`: late chunking, pooled from
    its chunk's "title + text" pass) or else "title + sentence" embedded now. On the dev set
    the kept ones answer as well (every question's answer and claim hit the same, but one
    answer hit more) and save the six model runs that were over half of an answer's time.

    Weights (cosine, keywords, type, rank) were tuned on the dev set with `citebot eval`; the
    rank term only began to pay once retrieval put the right week's article first (answer hit
    .714 with rank weight 0, .755 with 0.25).
    """

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        idf: Idf,
        max_sentences: int = 3,
        weights: tuple[float, float, float, float] = (0.2, 0.6, 0.25, 0.25),
        keep_ratio: float = 0.6,
        embed_top: int = 6,
        stored: SentenceLookup | None = None,
    ) -> None:
        self.embedder = embedder
        self.stored = stored
        self.idf = idf
        self.max_sentences = max_sentences
        self.weights = weights
        self.keep_ratio = keep_ratio
        self.embed_top = embed_top
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()

    def candidates(
        self, passages: list[NumberedPassage]
    ) -> list[tuple[NumberedPassage, str, Span]]:
        """The sentences that may answer: each with its passage and its span in the passage."""
        out = []
        for p in passages:
            for s, e in sentence_spans(p.text):
                sent = p.text[s:e]
                # a sentence that asks (often the question itself, in a news quiz) answers nothing
                if len(sent.split()) >= MIN_WORDS and not _asks(sent):
                    out.append((p, sent, (s, e)))
        return out[:MAX_CANDIDATES]

    def rank(self, question: str, passages: list[NumberedPassage], qvec: np.ndarray) -> list[Pick]:
        """The passages' sentences that answer best, best first."""
        cands = self.candidates(passages)
        if not cands:
            return []
        own, carried = split_carried(question)
        own_terms, carried_terms = content_terms(own), content_terms(carried)
        w_cos, w_kw, w_type, w_rank = self.weights
        n = max(1, len(passages))
        cover_own, cover_carried = (
            coverage_by(own_terms, self.idf),
            coverage_by(carried_terms, self.idf),
        )

        def keywords(sent: str) -> float:
            # a follow-up's own words decide; the words carried from the turn before only
            # keep it on the same story ("and what did Putin say about it?")
            terms = content_terms(sent)
            mine = cover_own(terms)
            if not carried_terms:
                return mine
            return (1 - CARRIED_WEIGHT) * mine + CARRIED_WEIGHT * cover_carried(terms)

        cheap = [
            w_kw * keywords(sent)
            + w_type * answer_type_bonus(own, sent)
            + w_rank * (1 - (p.number - 1) / n)
            for p, sent, _ in cands
        ]
        # only the most promising sentences pay for an embedding (the latency budget) or, kept,
        # for the lookup; the weights were tuned on these six
        order = sorted(range(len(cands)), key=lambda i: cheap[i], reverse=True)
        top = order[: self.embed_top]
        vecs = self.candidate_vectors([cands[i] for i in top])
        picks = [
            Pick(
                cands[i][0].number,
                cands[i][1],
                cheap[i] + w_cos * float(v @ qvec),
                answer_type_bonus(own, cands[i][1]),
            )
            for i, v in zip(top, vecs, strict=True)
        ]
        picks.sort(key=lambda x: x.score, reverse=True)
        return picks

    def candidate_vectors(
        self, cands: Sequence[tuple[NumberedPassage, str, Span]]
    ) -> list[np.ndarray]:
        """Each sentence's vector: the build's (`stored`) where it kept one, else embedded."""
        found = (
            self.stored(list(dict.fromkeys(p.chunk_id for p, _, _ in cands))) if self.stored else {}
        )
        out: list[np.ndarray | None] = [found.get(p.chunk_id, {}).get(span) for p, _, span in cands]
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            fresh = self.sentence_vectors([f"{cands[i][0].title}\n{cands[i][1]}" for i in missing])
            for i, v in zip(missing, fresh, strict=True):
                out[i] = v
        return [v for v in out if v is not None]

    def sentence_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The embedding of each text, each embedded on its own and kept by its text.

        On its own, because int8 inference quantises a batch's activations together: a text's
        vector would shift a little with its batch-mates, and a kept one would then differ from
        a fresh one. Alone it is one function of the text (and cheaper: no padding). The key is
        the text itself, so a rebuild's changed sentence or title is a new key.
        """
        out: list[np.ndarray] = []
        for text in texts:
            with self._vectors_lock:
                vec = self._vectors.get(text)
                if vec is not None:
                    self._vectors.move_to_end(text)
            if vec is None:
                vec = self.embedder.embed([text])[0]
                with self._vectors_lock:
                    self._vectors[text] = vec
                    if len(self._vectors) > SENTENCE_VECTORS:
                        self._vectors.popitem(last=False)
            out.append(vec)
        return out

    def answer(self, question: str, passages: list[NumberedPassage], qvec: np.ndarray) -> Draft:
        """The best sentences quoted, each with its `[n]` marker."""
        ranked = self.rank(question, passages, qvec)
        if not ranked:
            return Draft("", refused=True)
        chosen: list[Pick] = []
        quoted: list[str] = []  # what the citations of the chosen sentences will quote
        text_of = {p.number: p.text for p in passages}
        # When the question asks for a number, a date or a name, the claim itself must hold
        # it: a neighbour that only shares the topic words is no answer.
        best_kind = max(p.kind for p in ranked)
        if best_kind > 0:
            ranked = [p for p in ranked if p.kind >= best_kind]
        best = ranked[0].score
        for pick in ranked:
            if len(chosen) >= self.max_sentences or pick.score < self.keep_ratio * best:
                break
            if any(_similar(pick.text, c.text) for c in chosen) or any(
                pick.text in q for q in quoted
            ):
                continue  # the reader already sees this sentence
            chosen.append(pick)
            quoted.append(best_quote(pick.text, text_of[pick.number], self.idf))
        return Draft(" ".join(f"{c.text} [{c.number}]" for c in chosen))


def _asks(sentence: str) -> bool:
    return sentence.rstrip(' "”’)]').endswith("?")


def _similar(a: str, b: str) -> bool:
    ta, tb = set(content_terms(a)), set(content_terms(b))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > 0.6


def from_context(context: AnswererContext, model: str = "") -> ExtractiveAnswerer:
    """The registry's maker (see `bot.answering.answerers`); this answerer has no model."""
    return ExtractiveAnswerer(context.embedder, context.idf, stored=context.sentence_vectors)
