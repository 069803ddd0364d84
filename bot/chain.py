"""The answering chain in LCEL: condense → retrieve → gate → answer → check citations."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

from bot.answer import REFUSAL_TEXT
from bot.answerers import Answerer, Draft
from bot.answerers.llm import ChatAnswerer, LLMUnavailable
from bot.citations import check
from bot.followup import carry_terms
from bot.passages import NumberedPassage, number_passages
from bot.retrieval import HybridRetriever
from bot.scoring import coverage
from bot.text import content_terms

log = logging.getLogger(__name__)


def relevance(question: str | list[str], passage: NumberedPassage, idf) -> float:
    """How well a passage fits the question: cosine and rare-word coverage, equally weighted.

    `question` may be given as its content terms already, to stem it once for many passages.
    """
    terms = content_terms(question) if isinstance(question, str) else question
    cov = coverage(terms, content_terms(f"{passage.title}\n{passage.text}"), idf)
    return 0.5 * passage.dense + 0.5 * cov


def build_chain(
    retriever: HybridRetriever,
    answerer: Answerer,
    fallback: Answerer,
    threshold: float,
) -> Runnable:
    """A Runnable from {"question", "history", "as_of"} to {"answer", "citations", "context", …}."""
    embedder = retriever.embedder

    def condense(x: dict[str, Any]) -> dict[str, Any]:
        question, history = x["question"], list(x.get("history") or [])
        standalone = question
        if history and isinstance(answerer, ChatAnswerer):
            try:
                standalone = answerer.rewrite(question, history)
            except LLMUnavailable as exc:
                log.warning("question rewrite failed, carrying terms instead: %s", exc)
                standalone = carry_terms(question, history)
        elif history:
            standalone = carry_terms(question, history)
        return {**x, "standalone": standalone, "qvec": embedder.embed([standalone])[0]}

    def retrieve(x: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        # invoked as a Runnable, so callbacks and tracing see a retriever run
        docs = retriever.invoke(x["standalone"], config, qvec=x["qvec"], as_of=x.get("as_of"))
        return {**x, "docs": docs}

    def gate(x: dict[str, Any]) -> dict[str, Any]:
        idf = retriever.index.keyword.idf
        terms = content_terms(x["standalone"])
        passages = [
            replace(p, relevance=relevance(terms, p, idf)) for p in number_passages(x["docs"])
        ]
        best = max((p.relevance for p in passages), default=0.0)
        return {**x, "passages": passages, "best": best, "gated": best < threshold}

    def answer(x: dict[str, Any]) -> dict[str, Any]:
        if x["gated"]:
            return {**x, "draft": Draft(REFUSAL_TEXT, refused=True)}
        try:
            draft = answerer.answer(x["standalone"], x["passages"], x["qvec"])
        except LLMUnavailable as exc:
            log.warning("LLM unavailable, answering extractively: %s", exc)
            draft = fallback.answer(x["standalone"], x["passages"], x["qvec"])
            draft.note = (
                "The language model could not be reached, so this answer quotes the "
                "articles directly."
            )
        return {**x, "draft": draft}

    def validate(x: dict[str, Any]) -> dict[str, Any]:
        draft: Draft = x["draft"]
        context = [p.as_context() for p in x["passages"]]
        base = {
            "question": x["question"],
            "standalone_question": x["standalone"],
            "context": context,
            "note": draft.note,
            "best_relevance": round(x["best"], 4),
        }
        if draft.refused:
            return {**base, "answer": REFUSAL_TEXT, "citations": [], "refused": True}
        checked = check(
            draft.text,
            x["passages"],
            embedder,
            retriever.index.keyword.idf,
            stored_vectors=retriever.index.reader.embeddings,
        )
        if checked.dropped:
            log.info("dropped %d unsupported claim(s)", checked.dropped)
        return {
            **base,
            "answer": checked.text,
            "citations": checked.citations,
            "refused": checked.refused,
        }

    return (
        RunnableLambda(condense, name="condense")
        | RunnableLambda(retrieve, name="retrieve")
        | RunnableLambda(gate, name="gate")
        | RunnableLambda(answer, name="answer")
        | RunnableLambda(validate, name="validate")
    )
