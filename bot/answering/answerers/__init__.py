"""Answerers: turn a question and numbered passages into a draft with `[n]` markers.

An answerer is named by a spec, `"extractive"` or `"openai/<model>"` (`"openai"` takes
`LLM_MODEL`), and made by `make_answerer`; its module is imported only when it is asked for.
A new answerer is one module with a `from_context(context, model)` function and one line in
`_REGISTRY`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from bot.answering.passages import NumberedPassage
from index.errors import CitebotError, ConfigError
from index.settings import AnsweringSettings

_REGISTRY: dict[str, str] = {
    "extractive": "bot.answering.answerers.extractive",
    "openai": "bot.answering.answerers.llm",
}


@dataclass
class Draft:
    """An answerer's text with `[n]` markers, before the citation check."""

    text: str
    note: str = ""
    refused: bool = False


class Answerer(Protocol):
    """What writes the answer's sentences from the numbered passages (`extractive`, `llm`)."""

    name: str

    def answer(self, question: str, passages: list[NumberedPassage], qvec: np.ndarray) -> Draft:
        """The answer's draft from the numbered passages, citing them as `[n]`."""


class AnswererUnavailable(CitebotError):
    """The answerer can't answer now (its endpoint failed, timed out or sent garbage): the
    chain falls back to the extractive answer with a note."""


@dataclass(frozen=True)
class AnswererContext:
    """What an answerer may be made from: the model, the idf and the answering settings (the
    LLM_* ones). `chat_model` injects a LangChain chat model (a
    test's scripted model, or any provider's) in place of the one the settings describe;
    `sentence_vectors` looks up the vectors the build kept for passages' sentences
    (`bot.answering.answerers.extractive.SentenceLookup`), so the extractive answerer needn't
    embed them."""

    embedder: Any
    idf: Callable[[str], float]
    settings: AnsweringSettings
    chat_model: Any = None
    sentence_vectors: Any = None


def answerer_names() -> list[str]:
    """The names ANSWERER may take, sorted."""
    return sorted(_REGISTRY)


def make_answerer(spec: str, context: AnswererContext) -> Answerer:
    """The answerer a spec names (`ConfigError` for an unknown one)."""
    name, _, model = spec.strip().partition("/")
    module = _REGISTRY.get(name.lower())
    if module is None:
        known = ", ".join(answerer_names())
        raise ConfigError(f"LLM_PROVIDER={spec!r} is not an answerer; choose one of: {known}")
    return importlib.import_module(module).from_context(context, model)
