"""Hybrid retrieval as a LangChain retriever: dense (Chroma) + keyword (BM25), fused by rank."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.answering.questions import asks_for_latest
from bot.answering.text import content_terms
from bot.answering.wire import WIRE_JACCARD, is_copy, outlet
from index.build.embeddings import Embedder
from index.errors import CitebotError
from index.ingest.provenance import iso_day
from index.store import GenerationReader, IndexReader, Passage
from index.store.files import GenerationFiles

log = logging.getLogger(__name__)

RRF_K = 60
# how far apart two articles' relevance (0-1, see HybridRetriever) may be for recency to order
# them
RECENCY_MARGIN = 0.35  # RECENCY_MARGIN in the settings
# a question that asks for the latest news doubles the recency bonus (dev set, 63 of 98
# questions say "this week" or "recently": with the bonus doubled R@5 .959 -> .980 dated,
# .929 -> .949 undated; ordering them by date alone lost undated R@5 .929 -> .837)
LATEST_FACTOR = 2.0  # RECENCY_LATEST_FACTOR in the settings
# articles whose shingles are kept per index generation (wire copies): the candidates of many
# questions, never the whole library
SHINGLE_CACHE = 4096
# idf values kept per index generation: the terms of questions and the passages they read
IDF_CACHE = 65536


def parse_date(text: str) -> date | None:
    """A date from the article metadata ("2022/06/16", "2022-06-16T10:00:00Z"), or None."""
    day = iso_day(text)  # the day as ingest parses it
    return date.fromisoformat(day) if day else None


class KeywordIndex:
    """BM25 and the passage table of one index generation, read from its files (see
    `index.store.files`): nothing is tokenised or held whole by the answering process."""

    def __init__(self, files: GenerationFiles) -> None:
        self.files = files
        self._shingles: dict[str, frozenset[int]] = {}
        self._shingles_lock = threading.Lock()
        self._n = max(1, len(files))
        # one answer asks the idf of each sentence's words many times over; the files are fixed
        # for this generation, so the values never go stale (a rebuild makes a new KeywordIndex)
        self._idf: dict[str, float] = {}
        # The library's "now": its newest article; a mistyped future date doesn't count.
        days = np.asarray(files.article_days)
        dated = days[(days > 0) & (days <= date.today().toordinal())]
        self.newest = date.fromordinal(int(dated.max())) if dated.size else None

    @classmethod
    def of(cls, passages: list[Passage]) -> KeywordIndex:
        """An index of passages in memory (tools and tests)."""
        return cls(GenerationFiles.of((p.id, p.text, p.metadata) for p in passages))

    @property
    def passages(self) -> list[Passage]:
        """Every stored chunk (read in full: for /sources and the eval, not for answering)."""
        return [self.passage(row) for row in range(len(self.files))]

    def articles(self) -> Iterator[tuple[Passage, int]]:
        """Each article's first passage and how many passages it has (for /sources)."""
        for number in range(len(self.files.article_ids)):
            rows = self.files.rows_of_article(number)
            yield self.passage(rows.start), len(rows)

    def passage(self, row: int) -> Passage:
        """The passage of a row of the generation's files."""
        files = self.files
        return Passage(files.ids[row], files.text(row), files.metadata(row))

    def by_id(self, chunk_id: str) -> Passage | None:
        """The passage of a chunk id; None when the generation has no such chunk."""
        row = self.files.row_of.get(chunk_id)
        return None if row is None else self.passage(row)

    def day(self, article_id: str) -> date | None:
        """The day an article was published; None when undated."""
        number = self.files.article_number.get(article_id)
        ordinal = int(self.files.article_days[number]) if number is not None else 0
        return date.fromordinal(ordinal) if ordinal else None

    def freshness(self, article_id: str, as_of: date | None, days: float) -> float:
        """1 for an article of the day `as_of` (default: the newest), decaying e-fold per `days`.

        Undated articles and articles from after `as_of` get 0.
        """
        d, ref = self.day(article_id), as_of or self.newest
        if d is None or ref is None or d > ref:
            return 0.0
        return math.exp(-(ref - d).days / days)

    def shingles(self, article_id: str) -> frozenset[int]:
        """The article's word shingles (see `bot.answering.wire`), computed once per article."""
        with self._shingles_lock:
            found = self._shingles.get(article_id)
        if found is None:
            number = self.files.article_number.get(article_id)
            kept = [] if number is None else self.files.article_shingles(number).tolist()
            found = frozenset(kept)
            with self._shingles_lock:
                if len(self._shingles) >= SHINGLE_CACHE:
                    self._shingles.clear()
                self._shingles[article_id] = found
        return found

    def sentence_vectors(
        self, chunk_ids: Sequence[str]
    ) -> dict[str, dict[tuple[int, int], np.ndarray]]:
        """The sentence vectors the build kept for some chunks, by (start, end) in the text."""
        out = {}
        for cid in chunk_ids:
            row = self.files.row_of.get(cid)
            if row is not None and (found := self.files.sentence_vectors(row)):
                out[cid] = found
        return out

    def published_after(self, article_id: str, as_of: date) -> bool:
        """Whether the article is dated after `as_of`."""
        d = self.day(article_id)
        return d is not None and d > as_of

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term (unknown terms count as rare)."""
        found = self._idf.get(term)
        if found is None:
            df = self.files.document_frequency(term)
            found = math.log(1 + (self._n - df + 0.5) / (df + 0.5))
            if len(self._idf) >= IDF_CACHE:
                self._idf.clear()
            self._idf[term] = found
        return found

    def search(self, query: str, k: int) -> list[tuple[Passage, float]]:
        """The k best passages for a query by BM25, with their scores."""
        terms = content_terms(query)
        if not terms:
            return []
        return [(self.passage(row), score) for row, score in self.files.search(terms, k)]


@dataclass(frozen=True)
class Snapshot:
    """One generation as the answering side reads it: its vectors and its keyword index.

    Never changed once made; a newer generation gets a new snapshot, so a question that took
    this one reads one consistent index to the end, whatever a rebuild does meanwhile.
    """

    reader: GenerationReader
    keyword: KeywordIndex

    @classmethod
    def of(cls, reader: GenerationReader) -> Snapshot:
        """Map a generation's files (written from the store first when this machine has none)."""
        return cls(reader, KeywordIndex(reader.files()))

    @property
    def generation(self) -> str:
        """The generation this snapshot reads."""
        return self.reader.generation

    @property
    def client(self) -> Any:
        """The Chroma client holding the generation (for stock LangChain code, the baseline)."""
        return self.reader.client

    def passages(self) -> list[Passage]:
        """Every stored chunk of the generation."""
        return list(self.keyword.passages)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term in this generation."""
        return self.keyword.idf(term)

    def stored_vectors(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of some chunks, by id."""
        return self.reader.embeddings(chunk_ids)


class SearchIndex:
    """The live index as the answering side needs it; follows the pointer after a rebuild.

    The current `Snapshot` is one reference: a rebuild's snapshot is made aside, then swapped in.
    """

    def __init__(self, reader: IndexReader) -> None:
        self._reader = reader
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._snapshot = Snapshot.of(reader.live)

    def snapshot(self) -> Snapshot:
        """The generation answered from now; hold it for the whole of one question."""
        return self._snapshot

    def warm(self, vector: np.ndarray) -> None:
        """Load the vector index now (Chroma loads it at its first query: on a large library,
        seconds that the first question would otherwise wait)."""
        self._snapshot.reader.nearest_ids(vector, 1)

    def refresh(self) -> bool:
        """Switch to a newly built generation (if any); True when it switched."""
        with self._lock:
            return self._switch()

    def _switch(self) -> bool:
        """Follow the pointer and, when it moved, swap in a new snapshot; hold `_lock`."""
        current = self._snapshot
        live = self._reader.open_live(current.reader)
        if live is current.reader:
            return False
        self._snapshot = Snapshot.of(live)
        log.info("now answering from %s", live.generation)
        return True

    def refresh_every(self, seconds: float) -> None:
        """Follow builds made elsewhere (`citebot-index build`) at most every `seconds`.

        A build keeps only the live and the previous generation, so a reader that never looked
        again would lose its collection after two builds.
        """
        now = time.monotonic()
        if now - self._checked < seconds or not self._lock.acquire(blocking=False):
            return  # checked lately, or another thread is switching right now
        try:
            self._checked = now
            self._switch()
        except CitebotError as exc:  # the store being away is no reason to stop answering
            log.warning("could not check for a newer index: %s", exc)
        finally:
            self._lock.release()


def _may_copy(a: frozenset[int], b: frozenset[int]) -> bool:
    """False when the sizes alone rule out `is_copy` (Jaccard ≤ smaller / larger size): most
    candidate pairs, each of which would otherwise build a union of thousands of shingles."""
    small, large = sorted((len(a), len(b)))
    return small >= WIRE_JACCARD * large * (1 - 1e-9)


def _article(p: Passage) -> str:
    return str(p.metadata.get("article_id", p.id))


def _relevance(rankings: dict[str, list[tuple[Passage, float]]]) -> dict[str, float]:
    """Each article's relevance, 0-1: in each ranking, its best chunk's score as a share of the
    ranking's best, averaged over the rankings. A ranking that didn't reach the article counts
    its last candidate's share: the most the article could have had there."""
    shares: list[tuple[dict[str, float], float]] = []
    for hits in rankings.values():
        if not hits:
            continue  # no keyword terms, say: the other ranking decides alone
        top = max(hits[0][1], 1e-9)
        best: dict[str, float] = {}
        for p, score in hits:
            aid = _article(p)
            best[aid] = max(best.get(aid, 0.0), max(score, 0.0) / top)  # cosines may be < 0
        shares.append((best, max(hits[-1][1], 0.0) / top))
    articles = {a for best, _ in shares for a in best}
    return {a: sum(b.get(a, floor) for b, floor in shares) / len(shares) for a in articles}


def _document(p: Passage, **scores: Any) -> Document:
    return Document(
        page_content=p.text, id=p.id, metadata={**p.metadata, "chunk_id": p.id, **scores}
    )


class HybridRetriever(BaseRetriever):
    """Top-k passages by reciprocal-rank fusion of dense and BM25 rankings; recency breaks ties.

    Articles are ranked by fusing the rank of their best chunk in each list (on the dev set this
    found more gold articles than fusing chunks: R@5 .888 vs .857); each article then gives its
    best `per_article` chunks, so one long article can't crowd out the rest. Each document
    carries `dense` (cosine to the question), `bm25` and `rrf` scores.

    Recency is a tie-breaker, never a filter. A news question usually means the latest events,
    so a newer article gets a bonus of up to `recency_weight` of a first place, decaying e-fold
    every `recency_days` before `as_of` (default: the library's newest article); but the bonus
    may only lift an article past one of *similar relevance*, whose relevance (each ranking's
    best-chunk score as a share of that ranking's best, averaged over the two) is at most
    `recency_margin` above its own. Ranks alone can't tell a near-tie from a clear winner
    (first and fifth place fuse to scores 7 % apart, whatever the scores behind them); the
    scores can, so a sentence asked verbatim stays first among months of newer on-topic
    articles, while two reports of one story go newest first. A question that asks for the
    latest ("latest", "this week", "now": `asks_for_latest`) multiplies the bonus by
    `latest_factor` (2), within the same margin. Either way the most relevant article keeps a
    place in the top `k`: recency never pushes the only passage that answers out of the
    context. A deep candidate list lets a recent, on-topic article that neither ranking puts
    near the top still surface. Asked `as_of` a date, the library is taken as it stood then:
    later articles are left out.

    Wire copies (`bot.answering.wire`: the same story from several outlets) take one article's
    place: the best ranked copy is kept, and its documents carry `also_in`, the other outlets.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: SearchIndex
    embedder: Any
    k: int = 6
    per_article: int = 2
    candidates: int = 80
    recency_weight: float = 0.7
    recency_days: float = 120.0
    recency_margin: float = RECENCY_MARGIN
    latest_factor: float = LATEST_FACTOR

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun | None = None,
        qvec: np.ndarray | None = None,
        as_of: date | None = None,
    ) -> list[Document]:
        return self.search(query, qvec, as_of)

    def snapshot(self) -> Snapshot:
        """The generation answered from now (its passages, client, name), as one whole."""
        return self.index.snapshot()

    @property
    def generation(self) -> str:
        """The name of the generation answered from now."""
        return self.index.snapshot().generation

    def passages(self) -> list[Passage]:
        """Every stored chunk of the live index (for the eval)."""
        return self.index.snapshot().passages()

    def articles(self) -> list[tuple[Passage, int]]:
        """Each article of the live index: its first passage and its number of passages."""
        return list(self.index.snapshot().keyword.articles())

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term in the live index."""
        return self.index.snapshot().idf(term)

    def stored_vectors(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        """The vectors the build stored for some chunks, by id (no model run)."""
        return self.index.snapshot().stored_vectors(chunk_ids)

    def sentence_vectors(
        self, chunk_ids: Sequence[str]
    ) -> dict[str, dict[tuple[int, int], np.ndarray]]:
        """The vectors the build kept for the sentences of some chunks (late chunking); chunk
        ids are content-addressed, so any generation's are right for the same id."""
        return self.index.snapshot().keyword.sentence_vectors(chunk_ids)

    def search(
        self, query: str, qvec: np.ndarray | None = None, as_of: date | None = None
    ) -> list[Document]:
        """The top `k` passages for a question, read from one snapshot of the index."""
        emb: Embedder = self.embedder
        snap = self.index.snapshot()
        qvec = emb.embed([query])[0] if qvec is None else qvec
        chunks, order = self._fuse(
            snap, self._rankings(snap, query, qvec, as_of), as_of, asks_for_latest(query)
        )
        by_article: dict[str, list[dict[str, Any]]] = {}
        for e in sorted(chunks.values(), key=lambda e: e["rrf"], reverse=True):
            by_article.setdefault(_article(e["p"]), []).append(e)
        out: list[dict[str, Any]] = []
        kept: dict[str, frozenset[int]] = {}  # article id -> its shingles
        also: dict[str, list[str]] = {}
        copies: dict[str, list[str]] = {}  # article id -> the ids of its wire copies
        full_at: int | None = None
        for i, aid in enumerate(order):
            if full_at is not None and i >= full_at + 2 * self.k:
                break  # the slots are full; the next few were only looked at for "also in"
            sig = snap.keyword.shingles(aid)
            twin = next((k for k, s in kept.items() if _may_copy(sig, s) and is_copy(sig, s)), None)
            if twin is not None:
                copies.setdefault(twin, []).append(aid)
                name, own = outlet(by_article[aid][0]["p"]), outlet(by_article[twin][0]["p"])
                if name and name != own and name not in also[twin]:
                    also[twin].append(name)
                continue
            if full_at is not None:
                continue
            kept[aid], also[aid] = sig, []
            out.extend(by_article[aid][: self.per_article])
            if len(out) >= self.k:
                full_at = i
        out = out[: self.k]
        missing = [e for e in out if e["dense"] is None]
        if missing:  # keyword-only hits: the relevance gate needs their cosine too
            stored = snap.stored_vectors([e["p"].id for e in missing])
            for e in missing:
                v = stored.get(e["p"].id)
                e["dense"] = float(np.dot(v, qvec)) if v is not None else 0.0
        return [
            _document(
                e["p"],
                dense=e["dense"],
                bm25=e["bm25"],
                rrf=e["rrf"],
                also_in=tuple(also.get(_article(e["p"]), ())),
                copies=tuple(copies.get(_article(e["p"]), ())),
            )
            for e in out
        ]

    def _rankings(
        self, snap: Snapshot, query: str, qvec: np.ndarray, as_of: date | None
    ) -> dict[str, list[tuple[Passage, float]]]:
        """The dense and the BM25 candidates, best first, without articles from after `as_of`."""
        keyword = snap.keyword
        # the passages are in the generation's files; Chroma only ranks them
        dense = [
            (p, score)
            for i, score in snap.reader.nearest_ids(qvec, self.candidates)
            if (p := keyword.by_id(i)) is not None
        ]
        rankings = {"dense": dense, "bm25": keyword.search(query, self.candidates)}
        if as_of is None:
            return rankings
        return {
            name: [h for h in hits if not keyword.published_after(_article(h[0]), as_of)]
            for name, hits in rankings.items()
        }

    def _fuse(
        self,
        snap: Snapshot,
        rankings: dict[str, list[tuple[Passage, float]]],
        as_of: date | None,
        latest: bool = False,
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Chunks with their RRF and raw scores; article ids best first (see `_order`)."""
        chunks: dict[str, dict[str, Any]] = {}
        fused: defaultdict[str, float] = defaultdict(float)
        for name, hits in rankings.items():
            seen: set[str] = set()
            for rank, (p, score) in enumerate(hits):
                e = chunks.setdefault(p.id, {"p": p, "rrf": 0.0, "dense": None, "bm25": 0.0})
                e["rrf"] += 1 / (RRF_K + rank + 1)
                e[name] = score
                aid = _article(p)
                if aid not in seen:  # articles are fused on the rank of their best chunk
                    seen.add(aid)
                    fused[aid] += 1 / (RRF_K + len(seen))
        return chunks, self._order(snap, fused, _relevance(rankings), as_of, latest)

    def _order(
        self,
        snap: Snapshot,
        fused: dict[str, float],
        relevance: dict[str, float],
        as_of: date | None,
        latest: bool,
    ) -> list[str]:
        """Article ids by fused rank, each moved up past the articles it beats with its recency
        bonus, as long as their relevance is at most the margin above its own."""
        bonus = (self.latest_factor if latest else 1.0) * self.recency_weight / (RRF_K + 1)
        margin = self.recency_margin
        # ties keep the order the articles were met in, as Counter.most_common did
        by_rank = sorted(fused, key=fused.__getitem__, reverse=True)
        if bonus <= 0:
            return by_rank
        keyword = snap.keyword
        score = {
            a: fused[a] + bonus * keyword.freshness(a, as_of, self.recency_days) for a in fused
        }
        order: list[str] = []
        for aid in by_rank:
            at = len(order)
            while at and score[order[at - 1]] < score[aid]:
                if relevance[order[at - 1]] - relevance[aid] > margin:
                    break  # clearly more relevant: recency doesn't pass it
                at -= 1
            order.insert(at, aid)
        # the most relevant article keeps a place that surely fits in the top k, however many
        # newer near-equals passed it
        slots = max(1, self.k // max(1, self.per_article))
        if by_rank and order.index(by_rank[0]) >= slots:
            order.remove(by_rank[0])
            order.insert(slots - 1, by_rank[0])
        return order


class LCEmbeddings(Embeddings):
    """Our embedder as a LangChain `Embeddings` (for stock LangChain vector-store code)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """The texts' vectors, as LangChain's `Embeddings` gives them."""
        return self.embedder.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """One query's vector, as LangChain's `Embeddings` gives it."""
        return self.embedder.embed([text])[0].tolist()
