"""The relevance gate: addressing is not the question, and a near-miss number is no answer."""

from __future__ import annotations

import pytest

from bot.answering.gate import gate, missing_specifics, normalise_question
from bot.answering.passages import NumberedPassage
from index.build.builder import build_index
from index.ingest.provenance import Provenance

TRADE = "How big was Russia-China trade?"


def _passage(text: str, title: str = "Audit") -> NumberedPassage:
    return NumberedPassage(1, "c1", Provenance(title=title), text, 0.5)


@pytest.mark.parametrize(
    ("asked", "question"),
    [
        ("@everyone How big was trade?", "How big was trade?"),
        ("<@123456789> How big was trade?", "How big was trade?"),
        ("<@!123> <@&456> <#789> How big was trade?", "How big was trade?"),
        ("hey bot, how big was trade?", "how big was trade?"),
        ("Hi! Please, could you tell me how big trade was? Thanks!", "how big trade was?"),
        ("Please how big was trade?", "how big was trade?"),
        ("How big was trade, please?", "How big was trade?"),
        ("Do you know who won?", "who won?"),
    ],
)
def test_addressing_is_stripped_from_the_question(asked: str, question: str) -> None:
    assert normalise_question(asked) == question


def test_a_question_that_is_only_a_greeting_stays_as_asked() -> None:
    assert normalise_question("hello there!") == "hello there!"


def test_a_number_no_passage_holds_is_missing() -> None:
    passages = [_passage("Report 105 found lead in the water of 2,000 homes.")]

    assert missing_specifics("What did report 5 find?", passages) == ({"5"}, set())
    assert missing_specifics("What did report 105 find in 2000 homes?", passages) == (set(), set())


def test_number_words_and_digits_are_one_number() -> None:
    passages = [_passage("The inquiry heard six witnesses.")]

    assert missing_specifics("What did the 6 witnesses say?", passages) == (set(), set())


def test_number_words_in_a_question_are_not_specific() -> None:
    passages = [_passage("Alex Jones faces several lawsuits over his Sandy Hook claims.")]

    assert missing_specifics("Which topic is at the center of one of the lawsuits?", passages) == (
        set(),
        set(),
    )


def test_a_name_no_passage_holds_is_missing() -> None:
    passages = [_passage("Vladimir Putin thanked Xi for the proposals.")]

    assert missing_specifics("What did Putin say to Macron?", passages) == (set(), {"macron"})


def test_dotted_acronyms_are_the_same_name() -> None:
    passages = [_passage("The U.S. box office was led by a horror film.")]

    assert missing_specifics("What led the US box office?", passages) == (set(), set())


def test_a_missing_rare_name_lowers_the_score_more_than_a_common_one() -> None:
    passages = [
        NumberedPassage(
            1, "c1", Provenance(title="Talks"), "Putin thanked Xi in the US for the plan.", 0.6
        )
    ]
    idf = {"macron": 6.0, "us": 0.5}.get

    rare = gate("What did Putin say to Macron?", passages, lambda t: idf(t, 2.0))
    common = gate(
        "What did Putin say in the UK?", passages, lambda t: idf(t, 2.0) if t != "uk" else 0.5
    )
    plain = gate("What did Putin say?", passages, lambda t: idf(t, 2.0))

    assert rare.missing == ("macron",) and common.missing == ("uk",)
    assert rare.best < common.best < plain.best


@pytest.mark.parametrize(
    "question",
    [
        TRADE,  # an ASCII hyphen, where the README's example has an en dash
        "@everyone How big was Russia-China trade?",
        "<@123456789> How big was Russia–China trade?",
        "hey citebot, please: how big was Russia–China trade?",
        "Please, could you tell me how big Russia–China trade was?",
    ],
)
def test_addressed_and_hyphenated_questions_are_answered(sample_pipeline, question: str) -> None:
    answer = sample_pipeline.ask(question)

    assert not answer.refused
    assert any("billion" in c.quote for c in answer.citations)


AUDIT = """Audit report 105 finds lead in school water

Audit report 105, published by the city's water authority, found lead above the legal limit in
the drinking water of 14 schools. The authority said pipes in the older buildings would be
replaced by the end of the year, at a cost of 3 million dollars.
"""


@pytest.fixture
def audit_pipeline(settings, embedder):
    from bot.answering.pipeline import build_pipeline

    (settings.articles_dir / "audit.txt").write_text(AUDIT)
    build_index(settings.index, embedder)
    return build_pipeline(settings.index, settings.answering, embedder)


def test_a_near_miss_number_is_refused(audit_pipeline) -> None:
    answer = audit_pipeline.ask("What did audit report 5 find about lead in school water?")

    assert answer.refused


def test_the_right_number_is_answered(audit_pipeline) -> None:
    answer = audit_pipeline.ask("What did audit report 105 find about lead in school water?")

    assert not answer.refused
