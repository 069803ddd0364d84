"""The `openai` answerer against a real HTTP server on 127.0.0.1 with canned completions."""

from __future__ import annotations

import logging
import time

import pytest

from bot.answering.answer import REFUSAL_TEXT
from bot.answering.answerers.llm import MAX_REPLY_CHARS, cut_reply, redact
from bot.answering.pipeline import Pipeline
from bot.answering.retrieval import SearchIndex
from index.store import open_index
from tests.fake_llm import FakeLLM, passage_number

TRADE_Q = "How much was trade between Russia and China last year?"
SECRET = "sk-proj-Zq8vT3xLm2Kp9Rw4Yb7Nc1Hd6Fs0Gj5"
LLM_DOWN_NOTE = (
    "The language model could not be reached, so this answer quotes the articles directly."
)


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
            "llm_max_tokens": 123,
        }
    )
    index = settings.index
    return Pipeline(settings.answering, index, embedder, SearchIndex(open_index(index)))


@pytest.fixture(scope="module")
def keyed_pipeline(llm_pipeline):
    """The same endpoint, called with a secret API key."""
    from pydantic import SecretStr

    settings = llm_pipeline.settings.model_copy(update={"llm_api_key": SecretStr(SECRET)})
    return Pipeline(
        settings, llm_pipeline.index_settings, llm_pipeline.embedder, llm_pipeline.index
    )


@pytest.fixture(autouse=True)
def _reset(llm):
    llm.delay = llm.trickle = 0.0
    llm.hung_up = 0
    llm.requests.clear()
    llm.headers.clear()


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


# --- the call is bounded: deadline, tokens, reply length, secrets ------------------------------


def test_a_trickling_endpoint_is_cut_off_at_the_deadline(llm, llm_pipeline):
    # a byte every 0.3 s never trips a per-read timeout of 1 s; the reply would take minutes
    llm.trickle = 0.3
    llm.responder = _cite("$240 billion", "Trade reached $240 billion [{n}].")

    answer = llm_pipeline.ask(TRADE_Q)

    assert answer.note == LLM_DOWN_NOTE
    assert any("$240 billion" in c.quote for c in answer.citations)
    # a correctness bound (deadline 1 s), not a speed benchmark
    assert answer.latency_ms < 1000 * (1.0 + 5)
    # the call was given up, not left reading in the background: the server sees the hang-up
    for _ in range(50):
        if llm.hung_up:
            break
        time.sleep(0.1)
    assert llm.hung_up == 1


def test_max_tokens_is_sent(llm, llm_pipeline):
    llm.responder = _cite("$240 billion", "Trade reached $240 billion [{n}].")

    llm_pipeline.ask(TRADE_Q)

    body = llm.requests[-1]
    # langchain-openai sends it under OpenAI's current name, max_completion_tokens
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 123


def test_a_huge_reply_is_cut_at_a_sentence_before_it_is_checked(llm, llm_pipeline, monkeypatch):
    claim = "Trade between Russia and China reached $240 billion last year [{n}]. "
    llm.responder = _cite("$240 billion", claim * 15_000)  # about 1 MB
    checked = []  # the drafts the chain hands on to the citation check
    answer_with = llm_pipeline.answerer.answer

    def spy(*args):
        draft = answer_with(*args)
        checked.append(draft.text)
        return draft

    monkeypatch.setattr(llm_pipeline.answerer, "answer", spy)

    answer = llm_pipeline.ask(TRADE_Q)

    (text,) = checked
    assert len(text) <= MAX_REPLY_CHARS and text.endswith("last year [1].")
    assert not answer.refused and "$240 billion" in answer.text


def test_a_provider_error_echoing_the_key_is_logged_and_noted_without_it(
    llm, keyed_pipeline, caplog
):
    def echo_auth(prompt: str):
        auth = llm.headers[-1].get("authorization", "")
        return 401, f"Incorrect API key provided: {SECRET}. Request headers: Authorization: {auth}"

    llm.responder = echo_auth

    with caplog.at_level(logging.DEBUG):
        answer = keyed_pipeline.ask(TRADE_Q)

    assert SECRET in llm.headers[-1]["authorization"]  # the server did see and echo it
    assert answer.note == LLM_DOWN_NOTE
    assert "401" in caplog.text  # the failure is logged, the key is not
    assert SECRET not in caplog.text and SECRET[:12] not in caplog.text
    assert SECRET not in answer.note


def test_redact_hides_keys_tokens_and_the_configured_secret():
    text = (
        'Authorization: Bearer abc.def-123 {"api_key": "k-9f8e7d6c"} sk-live_12345678abcd '
        "custom-secret-value"
    )

    redacted = redact(text, "custom-secret-value", "")

    assert redacted == (
        'Authorization: Bearer [redacted] {"api_key": "[redacted]"} sk-[redacted] [redacted]'
    )


def test_a_long_reply_without_sentence_ends_is_cut_between_words():
    text = "word " * 2000

    cut = cut_reply(text, 100)

    assert len(cut) <= 100 and cut.split() == ["word"] * len(cut.split())
