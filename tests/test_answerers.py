"""The answerer registry, and an LLM answerer driven by an injected, scripted chat model."""

from __future__ import annotations

import re

import pytest

from bot.answering.answerers import AnswererContext, answerer_names, make_answerer
from bot.answering.answerers.extractive import ExtractiveAnswerer
from bot.answering.answerers.llm import ChatAnswerer
from bot.answering.pipeline import Pipeline
from bot.answering.retrieval import SearchIndex
from index.errors import ConfigError
from index.settings import Settings
from index.store import open_index
from tests.scripted_chat import ScriptedChat

TRADE_Q = "How much was trade between Russia and China last year?"


def _context(**kw) -> AnswererContext:
    """A context with these LLM_* settings (by their field names)."""
    answering = Settings(_env_file=None, **kw).answering
    return AnswererContext(embedder=None, idf=lambda t: 1.0, settings=answering)


def test_extractive_is_made_by_name() -> None:
    assert isinstance(make_answerer("extractive", _context()), ExtractiveAnswerer)


def test_an_unknown_answerer_is_named_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="extractive, openai"):
        make_answerer("gpt5", _context())
    assert answerer_names() == ["extractive", "openai"]


def test_openai_needs_an_endpoint_or_a_key() -> None:
    with pytest.raises(ConfigError, match="LLM_BASE_URL"):
        make_answerer("openai", _context(llm_api_key="not-needed"))


def test_the_spec_may_name_the_model() -> None:
    answerer = make_answerer(
        "openai/llama3.1:8b",
        _context(
            llm_base_url="http://127.0.0.1:9/v1", llm_model="gpt-4o-mini", llm_api_key="not-needed"
        ),
    )

    assert isinstance(answerer, ChatAnswerer)
    assert answerer.llm.model_name == "llama3.1:8b"


def _cite(needle: str, claim: str):
    """A script that cites the passage whose text holds `needle`."""

    def script(prompt: str) -> str:
        for block in prompt.split("\n\n["):
            m = re.match(r"\[?(\d+)\]", block)
            if m and needle in block:
                return f"{claim} [{m[1]}]."
        return "I don't know."

    return script


@pytest.fixture
def scripted_pipeline(sample_index, embedder):
    def make(script) -> tuple[Pipeline, ScriptedChat]:
        chat = ScriptedChat(script=script)
        settings = sample_index.model_copy(update={"llm_provider": "openai"})
        index = SearchIndex(open_index(settings.index))
        return Pipeline(settings.answering, settings.index, embedder, index, chat_model=chat), chat

    return make


def test_an_injected_chat_model_answers_through_the_chain(scripted_pipeline) -> None:
    pipeline, chat = scripted_pipeline(
        _cite("$240 billion", "Trade between Russia and China reached $240 billion last year")
    )

    answer = pipeline.ask(TRADE_Q)

    assert not answer.refused and not answer.note
    assert answer.text.startswith("Trade between Russia and China reached $240 billion")
    assert "$240 billion" in answer.citations[0].quote
    assert "Question: " + TRADE_Q in chat.prompts[-1]


def test_an_injected_model_that_fails_falls_back_to_the_extractive_answer(
    scripted_pipeline,
) -> None:
    def broken(prompt: str) -> str:
        raise RuntimeError("model crashed")

    pipeline, _ = scripted_pipeline(broken)

    answer = pipeline.ask(TRADE_Q)

    assert not answer.refused and "could not be reached" in answer.note
    assert any("$240 billion" in c.quote for c in answer.citations)
