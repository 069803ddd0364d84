"""The question-answering pipeline that the terminal and the Discord bot share."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.answering.answer import Answer
from bot.answering.answerers import AnswererContext, make_answerer
from bot.answering.chain import build_chain
from bot.answering.questions import clean_question
from bot.answering.retrieval import HybridRetriever, SearchIndex
from bot.answering.verifier import shipped_verifier
from index.build.embeddings import Embedder, embedder_from_settings
from index.settings import AnsweringSettings, IndexSettings
from index.store import open_index

if TYPE_CHECKING:
    from index.build.builder import BuildReport

log = logging.getLogger(__name__)

# how often a question first checks whether a build elsewhere switched the live index
POINTER_CHECK_SECONDS = 15.0


@dataclass(frozen=True)
class ArticleInfo:
    """One indexed article as `/sources` lists it."""

    title: str
    url: str
    source: str
    chunks: int
    date: str = ""  # the day published (YYYY-MM-DD); /sources lists the newest first


class Pipeline:
    """Owns the model, the live index and the chain; every method is blocking (use a thread)."""

    def __init__(
        self,
        settings: AnsweringSettings,
        index_settings: IndexSettings,
        embedder: Embedder,
        index: SearchIndex,
        chat_model: Any = None,
    ) -> None:
        """`index_settings` say what `reindex` builds; `chat_model` injects a LangChain chat
        model as the LLM (LLM_PROVIDER=openai)."""
        self.settings = settings
        self.index_settings = index_settings
        self.embedder = embedder
        self.index = index
        self.retriever = HybridRetriever(
            index=index,
            embedder=embedder,
            k=settings.retrieval_k,
            per_article=settings.max_chunks_per_article,
            candidates=settings.retrieval_candidates,
            recency_weight=settings.recency_weight,
            recency_days=settings.recency_days,
            recency_margin=settings.recency_margin,
            latest_factor=settings.recency_latest_factor,
        )
        context = AnswererContext(
            embedder=embedder,
            idf=self.retriever.idf,
            settings=settings,
            chat_model=chat_model,
            sentence_vectors=self.retriever.sentence_vectors,
        )
        extractive = make_answerer("extractive", context)
        self.answerer = make_answerer(settings.llm_provider, context)
        verifier = shipped_verifier() if settings.claim_verifier == "model" else None
        self.chain = build_chain(
            self.retriever, self.answerer, extractive, settings.relevance_threshold, verifier
        )
        self._reindex_lock = threading.Lock()
        self.pointer_check_seconds = POINTER_CHECK_SECONDS

    def ask(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        as_of: date | None = None,
    ) -> Answer:
        """Answer with citations, or refuse; `BadQuestionError` for unusable input.

        `as_of` asks the library as it stood on that day (later articles left out, recency
        counted from then); by default it is asked as of its newest article.
        """
        return self.answer(clean_question(question), history, as_of)

    def answer(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        as_of: date | None = None,
    ) -> Answer:
        """`ask` for a question already admitted by `clean_question` (the conversation core's
        path); the history is taken as given."""
        q = question
        self.index.refresh_every(self.pointer_check_seconds)
        t0 = time.perf_counter()
        out = self.chain.invoke({"question": q, "history": list(history), "as_of": as_of})
        return Answer(
            question=q,
            text=out["answer"],
            citations=out["citations"],
            refused=out["refused"],
            note=out["note"],
            context=out["context"],
            latency_ms=round((time.perf_counter() - t0) * 1000, 1),
            standalone_question=out["standalone_question"],
            dropped_claims=out.get("dropped_claims", []),
            relevance=out["best_relevance"],
            relevance_threshold=out["threshold"],
        )

    def sources(self) -> list[ArticleInfo]:
        """The indexed articles, by title."""
        infos = []
        for first, count in self.retriever.articles():
            prov = first.provenance
            infos.append(ArticleInfo(prov.title, prov.url, prov.source, count, prov.date))
        return sorted(infos, key=lambda a: a.title.casefold())

    def reindex(self, sources: Sequence[Path] | None = None) -> BuildReport:
        """Run the incremental build of `sources` (default ARTICLES_DIR; a library's folders),
        then answer from the new index; returns the report."""
        from index.build.builder import build_index

        with self._reindex_lock:
            report = build_index(self.index_settings, self.embedder, sources or None)
            self.index.refresh()
            return report


def load_default_embedder(settings: IndexSettings) -> Embedder:
    """The embedding model the index settings name."""
    return embedder_from_settings(settings)


def build_pipeline(
    index: IndexSettings, answering: AnsweringSettings, embedder: Embedder | None = None
) -> Pipeline:
    """Load the model and open the live index (`IndexNotBuiltError` when there is none)."""
    embedder = embedder or load_default_embedder(index)
    search = SearchIndex(open_index(index))
    # the model's and the vector index's first runs are slow: taken here, not by a question
    search.warm(embedder.embed(["news"])[0])
    return Pipeline(answering, index, embedder, search)
