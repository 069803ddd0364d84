"""Extractive answers that answer: the claim holds what was asked, follow-ups answer themselves."""

from __future__ import annotations

import re

import pytest

from bot.answering.followup import carry_terms, split_carried
from bot.answering.scoring import answer_type_bonus
from index.build.builder import build_index

TRADE_Q = "How much did trade between Russia and China reach last year?"
SOLAR = """Floating solar farm opens on Lake Ardent

The largest floating solar farm in the region opened on Lake Ardent on Monday. The floating solar
farm has a capacity of 47 megawatts and covers 60 hectares of the reservoir. Once fully
connected, it will supply electricity to about 12,000 homes, the operator said. Construction took
two years and cost 55 million euros.
"""


def _claims(text: str) -> list[str]:
    return [c.strip() for c in re.findall(r"(.+?)\s*\[\d+\]", text)]


def test_how_many_wants_the_number_of_the_thing_counted() -> None:
    question = "How many homes will the floating solar farm supply?"

    homes = answer_type_bonus(question, "It will supply electricity to about 12,000 homes.")
    megawatts = answer_type_bonus(question, "The farm has a capacity of 47 megawatts.")

    assert homes == 1.0 and megawatts < homes


def test_what_did_someone_say_wants_a_statement() -> None:
    question = "And what did Putin say about it?"

    said = answer_type_bonus(question, "“We look to the future with confidence,” Putin declared.")
    figure = answer_type_bonus(question, "Trade reached $240 billion last year.")

    assert said == 1.0 and figure == 0.0


def test_carried_words_are_kept_apart_from_the_followup() -> None:
    standalone = carry_terms("And what did Putin say about it?", [(TRADE_Q, "…")])

    own, carried = split_carried(standalone)

    assert own == "And what did Putin say about it?"
    assert set(carried.split()) == {"trade", "russia", "china", "reach"}


@pytest.fixture
def solar_pipeline(settings, sample_articles, embedder):
    from bot.answering.pipeline import build_pipeline

    (settings.articles_dir / "solar.txt").write_text(SOLAR)
    build_index(settings.index, embedder)
    return build_pipeline(settings.index, settings.answering, embedder)


def test_the_claim_itself_holds_the_number_asked_for(solar_pipeline) -> None:
    answer = solar_pipeline.ask("How many homes will the floating solar farm supply?")

    claims = _claims(answer.text)
    assert claims and all("12,000 homes" in c for c in claims)


def test_every_claim_of_a_figure_question_gives_a_figure(solar_pipeline) -> None:
    answer = solar_pipeline.ask(TRADE_Q)

    claims = _claims(answer.text)
    assert any("$240 billion" in c for c in claims)
    assert all(re.search(r"\d", c) for c in claims)  # no claim that only restates the topic


def test_a_followup_about_a_person_quotes_that_person(solar_pipeline) -> None:
    first = solar_pipeline.ask(TRADE_Q)

    answer = solar_pipeline.ask("And what did Putin say about it?", [(TRADE_Q, first.text)])

    claims = _claims(answer.text)
    assert claims and not any("billion" in c for c in claims)
    assert any(re.search(r"Putin (declared|thanked|said)|“", c) for c in claims)


def test_a_date_is_no_answer_to_how_big(solar_pipeline) -> None:
    answer = solar_pipeline.ask("How big was Russia-China trade last year?")

    claims = _claims(answer.text)
    assert claims and any("$240 billion" in c for c in claims)
    assert not any("February 24, 2022" in c for c in claims)  # a date, not a figure


def test_a_followup_after_a_hyphenated_question_is_answered(solar_pipeline) -> None:
    first_q = "How big was Russia-China trade last year?"
    first = solar_pipeline.ask(first_q)

    answer = solar_pipeline.ask("And what did Putin say about it?", [(first_q, first.text)])

    assert not answer.refused
    assert any(re.search(r"Putin (declared|thanked|said)|“", c) for c in _claims(answer.text))
