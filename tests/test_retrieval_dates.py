"""Dates in retrieval: the recency prior and asking the library as of a day."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.answering.retrieval import KeywordIndex
from index.store import Passage
from tests.conftest import built_library

QUESTION = "How many electric scooters did Voltra recall over battery fires?"
# The June article covers the question a little better (it names "battery fires" twice), so
# without a recency prior it ranks first; the August one is 71 days newer.
ARTICLES = [
    {
        "title": "Voltra recalls electric scooters over battery fires",
        "text": "Voltra recalled 10,000 electric scooters on Friday after reports of battery "
        "fires. The company said the battery fires started while the scooters were charging.",
        "url": "https://news.example/voltra-june",
        "published": "2022-06-10",
    },
    {
        "title": "Voltra widens its scooter recall",
        "text": "Voltra widened its recall to 25,000 electric scooters on Monday, saying more "
        "batteries could overheat while charging.",
        "url": "https://news.example/voltra-august",
        "published": "2022-08-20",
    },
    {
        "title": "Heatwave grips the coast",
        "text": "Temperatures passed 40 degrees along the coast on Sunday, and the weather "
        "service warned that the heat would last until Thursday.",
        "url": "https://news.example/heatwave",
        "published": "2022-08-21",
    },
]


@pytest.fixture(scope="module")
def dated_settings(tmp_path_factory, model_cache: Path, embedder):
    return built_library(tmp_path_factory.mktemp("dated"), model_cache, embedder, ARTICLES)


def _urls(settings, embedder, as_of=None, **overrides) -> list[str]:
    from bot.answering.pipeline import build_pipeline

    answering = settings.answering.model_copy(update=overrides)
    retriever = build_pipeline(settings.index, answering, embedder).retriever
    urls: list[str] = []
    for doc in retriever.search(QUESTION, as_of=as_of):
        if doc.metadata["url"] not in urls:
            urls.append(doc.metadata["url"])
    return urls


def test_without_a_recency_prior_the_better_match_ranks_first(dated_settings, embedder):
    urls = _urls(dated_settings, embedder, recency_weight=0.0)
    assert urls[0] == "https://news.example/voltra-june"


def test_the_recency_prior_puts_the_newer_report_first(dated_settings, embedder):
    urls = _urls(dated_settings, embedder)
    assert urls[:2] == ["https://news.example/voltra-august", "https://news.example/voltra-june"]


def test_asked_as_of_a_day_later_articles_are_left_out(dated_settings, embedder):
    urls = _urls(dated_settings, embedder, as_of=date(2022, 7, 1))
    assert urls == ["https://news.example/voltra-june"]


def test_the_pipeline_answers_as_of_a_day(dated_settings, embedder):
    from bot.answering.pipeline import build_pipeline

    pipeline = build_pipeline(dated_settings.index, dated_settings.answering, embedder)
    june = pipeline.ask(QUESTION, as_of=date(2022, 7, 1))
    assert june.citations and all("10,000" in c.quote for c in june.citations[:1])
    assert all(c.url.endswith("voltra-june") for c in june.citations)
    latest = pipeline.ask(QUESTION)  # as of the newest article: both reports, newer first
    urls = [c["url"] for c in latest.context]
    assert urls[0].endswith("voltra-august") and any(u.endswith("voltra-june") for u in urls)


def _passage(aid: str, day: str) -> Passage:
    return Passage(aid, "text", {"article_id": aid, "date": day, "title": aid})


def test_freshness_decays_from_the_newest_article_and_ignores_bad_dates():
    future = (date.today() + timedelta(days=3650)).isoformat()
    index = KeywordIndex.of(
        [
            _passage("new", "2022-08-20"),
            _passage("old", "2022-04-22"),
            _passage("undated", ""),
            _passage("typo", future),  # a mistyped year must not make everything "old"
        ]
    )
    assert index.newest == date(2022, 8, 20)
    ref = None  # the newest article
    assert index.freshness("new", ref, 120) == pytest.approx(1.0)
    assert index.freshness("old", ref, 120) == pytest.approx(0.3679, abs=1e-3)  # 120 days: 1/e
    assert index.freshness("undated", ref, 120) == 0.0
    assert index.freshness("typo", ref, 120) == 0.0
    assert index.freshness("new", date(2022, 8, 1), 120) == 0.0  # not yet published then
    assert index.published_after("new", date(2022, 8, 1))
    assert not index.published_after("undated", date(2022, 8, 1))


def test_chat_as_of_a_day_keeps_to_that_day(dated_settings, embedder):
    from bot.answering.pipeline import build_pipeline
    from bot.cli import chat_loop

    questions = iter([QUESTION, ""])
    shown: list[str] = []
    chat_loop(
        build_pipeline(dated_settings.index, dated_settings.answering, embedder),
        read=lambda prompt: next(questions),
        write=shown.append,
        as_of=date(2022, 7, 1),
    )
    (answer,) = [s for s in shown if "[1]" in s]
    assert "news.example/voltra-june" in answer and "voltra-august" not in answer
