"""The `openai` answerer against a real HTTP server on 127.0.0.1 with canned completions."""

from __future__ import annotations

import pytest

from bot.answer import REFUSAL_TEXT
from bot.pipeline import Pipeline
from bot.retrieval import SearchIndex
from index.store import open_index
from tests.fake_llm import FakeLLM, passage_number

TRADE_Q = "How much was trade between Russia and China last year?"


@pytest.fixture(scope="module")
def llm():
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def llm_pipeline(sample_index, embedder, llm):
    settings = sample_index.model_copy(
        update={
            "llm_provider": "openai",
            "llm_base_url": llm.url,
            "llm_model": "fake-model",
            "llm_timeout_seconds": 1.0,
        }
    )
    return Pipeline(settings, embedder, SearchIndex(open_index(settings)))


@pytest.fixture(autouse=True)
def _reset(llm):
    llm.delay = 0.0
    llm.requests.clear()


def _cite(needle: str, text: str):
    def respond(prompt: str):
        n = passage_number(prompt, needle)
        return 200, text.format(n=n)

    return respond


def test_good_citations_are_kept_with_verbatim_quotes(llm, llm_pipeline):
    llm.responder = _cite(
        "$240 billion", "Trade between Russia and China reached $240 billion last year [{n}]."
    )
    answer = llm_pipeline.ask(TRADE_Q)
    assert not answer.refused and not answer.note
    assert answer.text.startswith("Trade between Russia and China reached $240 billion")
    assert [c.number for c in answer.citations] == [1]
    assert "$240 billion" in answer.citations[0].quote
    # the prompt carried the citation contract and the numbered passages
    prompt = "\n".join(m["content"] for m in llm.requests[-1]["messages"])
    assert REFUSAL_TEXT in prompt and "[1]" in prompt


def test_markers_to_missing_passages_are_removed(llm, llm_pipeline):
    llm.responder = _cite(
        "$240 billion",
        "Trade between Russia and China reached $240 billion last year [{n}][42].",
    )
    answer = llm_pipeline.ask(TRADE_Q)
    assert "[42]" not in answer.text
    assert [c.number for c in answer.citations] == [1]
    assert len(answer.citations) <= len(answer.context)


def test_an_uncited_but_supported_claim_gets_its_citation(llm, llm_pipeline):
    llm.responder = lambda prompt: (
        200,
        "Trade exchanges between the two countries reached $240 billion last year.",
    )
    answer = llm_pipeline.ask(TRADE_Q)
    assert not answer.refused
    assert "[1]" in answer.text
    assert "$240 billion" in answer.citations[0].quote


def test_a_claim_its_passage_does_not_support_is_dropped(llm, llm_pipeline):
    llm.responder = _cite(
        "$240 billion",
        "Trade between Russia and China reached $240 billion last year [{n}]. "
        "Brazil won the 2002 FIFA World Cup in Yokohama with two goals from Ronaldo [{n}].",
    )
    answer = llm_pipeline.ask(TRADE_Q)
    assert "Brazil" not in answer.text
    assert "$240 billion" in answer.text


def test_an_answer_with_no_supported_claim_becomes_the_refusal(llm, llm_pipeline):
    llm.responder = lambda prompt: (200, "Brazil won the 2002 FIFA World Cup in Yokohama [1].")
    answer = llm_pipeline.ask(TRADE_Q)
    assert answer.refused
    assert answer.text == REFUSAL_TEXT
    assert answer.citations == []


def test_the_models_own_refusal_is_passed_on(llm, llm_pipeline):
    llm.responder = lambda prompt: (200, REFUSAL_TEXT)
    answer = llm_pipeline.ask(TRADE_Q)
    assert answer.refused and answer.citations == []


def test_http_500_falls_back_to_the_extractive_answer_with_a_note(llm, llm_pipeline):
    llm.responder = lambda prompt: (500, "boom")
    answer = llm_pipeline.ask(TRADE_Q)
    assert not answer.refused
    assert answer.note
    assert any("$240 billion" in c.quote for c in answer.citations)


def test_a_slow_endpoint_times_out_into_the_extractive_answer(llm, llm_pipeline):
    llm.delay = 3.0  # the pipeline's timeout is 1 s
    llm.responder = _cite("$240 billion", "Too late [{n}].")
    answer = llm_pipeline.ask(TRADE_Q)
    assert answer.note
    assert any("$240 billion" in c.quote for c in answer.citations)
    assert answer.latency_ms < 2900


def test_an_empty_completion_falls_back_with_a_note(llm, llm_pipeline):
    llm.responder = lambda prompt: (200, "   ")
    answer = llm_pipeline.ask(TRADE_Q)
    assert answer.note and not answer.refused


def test_followups_are_rewritten_by_the_model(llm, llm_pipeline):
    def respond(prompt: str):
        if "standalone question" in prompt:
            return 200, "How much was trade between Russia and China the year before last?"
        return _cite("$200 billion", "Trade exceeds $200 billion per year [{n}].")(prompt)

    llm.responder = respond
    answer = llm_pipeline.ask("and the year before?", [(TRADE_Q, "It was $240 billion. [1]")])
    assert answer.standalone_question.startswith("How much was trade between Russia and China")
    assert not answer.refused
