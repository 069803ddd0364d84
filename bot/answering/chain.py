"""The answering chain in LCEL: condense → retrieve → gate → answer → check citations."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Required, TypedDict

import numpy as np
from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

from bot.answering.answer import REFUSAL_TEXT
from bot.answering.answerers import Answerer, AnswererUnavailable, Draft
from bot.answering.citations import SupportModel, check
from bot.answering.followup import carry_terms
from bot.answering.gate import gate as relevance_gate
from bot.answering.gate import normalise_question
from bot.answering.passages import NumberedPassage, number_passages
from bot.answering.retrieval import HybridRetriever

log = logging.getLogger(__name__)


class ChainInput(TypedDict, total=False):
    """What the chain is invoked with."""

    question: Required[str]
    history: list[tuple[str, str]]  # (question, answer) turns, oldest first
    as_of: date | None  # ask the library as it stood that day


class ChainState(ChainInput, total=False):
    """The input as each step leaves it: every step adds its own keys."""

    standalone: str  # condense: the question made standalone, addressing stripped
    qvec: np.ndarray  # condense: its embedding
    docs: list[Document]  # retrieve: ranked passages
    passages: list[NumberedPassage]  # gate: numbered, with their relevance
    best: float  # gate: the best relevance, lowered for specifics no passage holds
    gated: bool  # gate: below the threshold, so the answer is the refusal
    draft: Draft  # answer: the answerer's text before the citation check


class ChainOutput(TypedDict):
    """The chain's result; `Pipeline.answer` makes an `Answer` of it."""

    question: str
    standalone_question: str
    context: list[dict[str, Any]]
    note: str
    best_relevance: float
    threshold: float
    dropped_claims: list[dict[str, Any]]
    answer: str
    citations: list[Any]
    refused: bool


def build_chain(
    retriever: HybridRetriever,
    answerer: Answerer,
    fallback: Answerer,
    threshold: float,
    verifier: SupportModel | None = None,
) -> Runnable:
    """A Runnable from a `ChainInput` to a `ChainOutput`, through the steps of `ChainState`;
    `verifier` is the learned claim verifier of the citation check (None: the rules alone)."""
    embedder = retriever.embedder

    def condense(x: ChainState) -> ChainState:
        # greetings, mentions and "please" are no words an article could hold
        question, history = normalise_question(x["question"]), list(x.get("history") or [])
        standalone = question
        rewrite = getattr(answerer, "rewrite", None)  # a model rewrites; offline, carry words
        if history and rewrite is not None:
            try:
                standalone = rewrite(question, history)
            except AnswererUnavailable as exc:
                log.warning("question rewrite failed, carrying terms instead: %s", exc)
                standalone = carry_terms(question, history)
        elif history:
            standalone = carry_terms(question, history)
        return {**x, "standalone": standalone, "qvec": embedder.embed([standalone])[0]}

    def retrieve(x: ChainState, config: RunnableConfig) -> ChainState:
        # invoked as a Runnable, so callbacks and tracing see a retriever run
        docs = retriever.invoke(x["standalone"], config, qvec=x["qvec"], as_of=x.get("as_of"))
        return {**x, "docs": docs}

    def gate(x: ChainState) -> ChainState:
        g = relevance_gate(x["standalone"], number_passages(x["docs"]), retriever.idf)
        if g.missing:
            log.info("no passage holds %s; relevance lowered to %.3f", g.missing, g.best)
        return {**x, "passages": g.passages, "best": g.best, "gated": g.best < threshold}

    def answer(x: ChainState) -> ChainState:
        if x["gated"]:
            return {**x, "draft": Draft(REFUSAL_TEXT, refused=True)}
        try:
            draft = answerer.answer(x["standalone"], x["passages"], x["qvec"])
        except AnswererUnavailable as exc:
            log.warning("LLM unavailable, answering extractively: %s", exc)
            draft = fallback.answer(x["standalone"], x["passages"], x["qvec"])
            draft.note = (
                "The language model could not be reached, so this answer quotes the "
                "articles directly."
            )
        return {**x, "draft": draft}

    def validate(x: ChainState) -> ChainOutput:
        draft: Draft = x["draft"]
        checked = None
        if not draft.refused:
            checked = check(
                draft.text,
                x["passages"],
                embedder,
                retriever.idf,
                stored_vectors=retriever.stored_vectors,
                verifier=verifier,
            )
            for d in checked.dropped:
                log.info("dropped a claim (%s: %s): %s", d.rule, d.detail, d.claim)
        return ChainOutput(
            question=x["question"],
            standalone_question=x["standalone"],
            context=[p.as_context() for p in x["passages"]],
            note=draft.note,
            best_relevance=round(x["best"], 4),
            threshold=threshold,
            dropped_claims=[d.as_dict() for d in checked.dropped] if checked else [],
            answer=checked.text if checked else REFUSAL_TEXT,
            citations=checked.citations if checked else [],
            refused=checked.refused if checked else True,
        )

    return (
        RunnableLambda(condense, name="condense")
        | RunnableLambda(retrieve, name="retrieve")
        | RunnableLambda(gate, name="gate")
        | RunnableLambda(answer, name="answer")
        | RunnableLambda(validate, name="validate")
    )
