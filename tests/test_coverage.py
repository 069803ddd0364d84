"""The coverage report (`citebot report`), over a log written by the real conversation core."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.answering.pipeline import build_pipeline
from bot.cli import main
from bot.serving.conversation import ConversationService
from bot.serving.coverage import (
    FeedState,
    ReportError,
    build_report,
    feed_problems,
    read_log,
)
from bot.serving.coverage_html import render_html
from bot.serving.coverage_text import format_text
from bot.serving.feedback import FeedbackLog
from tests.fake_llm import FakeLLM, passage_number

TRADE = "How much was trade between Russia and China last year?"
MARS = [
    "What will the weather be on Mars tomorrow?",
    "what's the weather on Mars tomorrow",
    "What will the weather on Mars be like tomorrow?",
]
CUP = "Who won the 1998 football world cup?"
PRIVATE = "Which pasta recipe does my grandmother use?"


@pytest.fixture(scope="module")
def logged(sample_index, embedder, tmp_path_factory) -> Path:
    """A log as the bot writes it: answers (one claim of each dropped by the number rule),
    refusals (three wordings of one question, another, a private one) and votes."""
    path = tmp_path_factory.mktemp("coverage") / "feedback.db"
    with FakeLLM() as llm:

        def respond(prompt: str):
            n = passage_number(prompt, "$240 billion")
            return 200, (
                f"Trade between Russia and China reached $420 billion last year [{n}]. "
                f"Putin thanked Xi for China's proposals to end the war [{n}]."
            )

        llm.responder = respond
        answering = sample_index.answering.model_copy(
            update={"llm_provider": "openai", "llm_base_url": llm.url}
        )
        pipeline = build_pipeline(sample_index.index, answering, embedder)
        log = FeedbackLog(path, "k" * 40)
        chat = ConversationService(pipeline, log, max_question_chars=2000, library="news")
        try:
            first = chat.ask_now(TRADE, "alice", 1)
            chat.ask_now(f"<@123456> {TRADE}", "bob", 2)
            for q in [*MARS, CUP]:
                chat.ask_now(q, "carol")
            chat.ask_now(PRIVATE, "dave", private=True)
        finally:
            chat.close()
    log.vote(first.answer_id, "alice", -1)
    log.vote(first.answer_id, "bob", -1)
    log.vote(first.answer_id, "carol", 1)
    return path


def report_of(path: Path, embedder, **kwargs):
    return build_report(read_log(path), embedder.embed, **kwargs)


def test_refused_questions_are_grouped_by_meaning_most_asked_first(logged, embedder):
    groups = report_of(logged, embedder).refusal_groups

    assert [(g.count, g.wordings) for g in groups[:2]] == [(3, 3), (1, 1)]
    assert groups[0].wording in MARS and groups[1].wording == CUP
    assert groups[0].best_relevance is not None
    assert {g.wording for g in groups} == {groups[0].wording, CUP, PRIVATE}


def test_answers_voted_down_list_their_claims_and_cited_sources(logged, embedder):
    report = report_of(logged, embedder)

    (down,) = report.down_voted
    assert (down.question, down.down, down.up) == (TRADE, 2, 1)
    assert [c.text for c in down.claims] == [
        "Putin thanked Xi for China's proposals to end the war."
    ]
    assert down.claims[0].sources == [1] and down.sources[0].number == 1
    assert down.sources[0].title.startswith("Vladimir Putin")


def test_answers_whose_claims_were_dropped_say_by_which_rule(logged, embedder):
    report = report_of(logged, embedder)

    assert report.dropped_total == 2 and report.dropped_by_rule == {"number": 2}
    claim = report.dropped[0].claims[0]
    assert claim.rule == "number" and "$420 billion" in claim.claim
    # mention ids are out of the log, so out of the report
    assert all("<@" not in d.question for d in report.dropped)


def test_rates_and_votes_are_counted_per_day(logged, embedder):
    report = report_of(logged, embedder)

    (day,) = report.days
    assert (day.questions, day.answered, day.refused, day.up, day.down) == (7, 2, 5, 1, 2)
    assert report.answer_rate == pytest.approx(2 / 7)
    assert report.private == 1


def test_the_articles_cited_most_come_first(logged, embedder):
    report = report_of(logged, embedder)

    assert report.articles[0].count == 2 and report.articles[0].name.startswith("Vladimir")
    assert report.feeds[0].count == 2 and report.feeds[0].name.endswith(".txt")


def test_private_questions_are_counted_but_not_shown_when_asked(logged, embedder):
    report = report_of(logged, embedder, show_private=False)

    assert report.private_refused == 1 and report.refused == 5
    assert PRIVATE not in format_text(report) and PRIVATE not in json.dumps(report.as_dict())


def test_a_library_filter_keeps_only_its_answers(logged, embedder):
    assert len(read_log(logged, library="news")) == 7
    with pytest.raises(ReportError, match="no answers of library sport"):
        build_report(read_log(logged, library="sport"), embedder.embed, library="sport")


def test_feeds_failing_stale_or_never_read_are_named():
    now = datetime(2024, 6, 20, tzinfo=UTC)
    recent = (now - timedelta(days=1)).isoformat()
    old = (now - timedelta(days=9)).isoformat()
    state = {
        "feeds": {
            "https://a.example/feed": {"error": "HTTP 503", "failing_since": old},
            "https://b.example/feed": {"new_at": old, "checked": recent},
            "https://c.example/feed": {"new_at": recent},
            # a state from before `new_at`: its newest stored article tells
            "https://d.example/feed": {"entries": [{"url": "https://d.example/1"}]},
        },
        "pages": {"https://d.example/1": {"article": "d.example/1.jsonl"}},
        "articles": {"d.example/1.jsonl": {"stored": recent}},
    }
    feeds = [f"https://{h}.example/feed" for h in "abcde"]

    problems = {p.feed: p.problem for p in feed_problems(FeedState("news", feeds, state), now)}

    assert problems == {
        "https://a.example/feed": "failing since 2024-06-11: HTTP 503",
        "https://b.example/feed": "nothing new for 9 days (since 2024-06-11)",
        "https://e.example/feed": "never read",
    }


class _Page(HTMLParser):
    """What the page holds: its tags and ids, and every attribute value."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.attributes: list[tuple[str, str]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            self.attributes.append((name, value or ""))
            if name == "id":
                self.ids.add(value or "")

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def test_the_html_page_has_every_chart_and_table_and_nothing_external(logged, embedder):
    page = _Page()
    page.feed(render_html(report_of(logged, embedder)))

    assert {"rate-chart", "questions-chart"} <= page.ids and page.tags.count("svg") == 2
    assert page.tags.count("polyline") == 2 and "rect" in page.tags
    tables = {"refusals", "down-voted", "dropped-rules", "dropped", "days", "articles", "feeds"}
    assert tables | {"feed-problems"} <= page.ids
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags)
    for name, value in page.attributes:
        assert name not in ("src", "href", "srcset", "xlink:href", "action"), (name, value)
        assert "http:" not in value and "https:" not in value and "//" not in value
    assert all("url(" not in s and "@import" not in s for s in page.styles)


def test_cli_report_prints_the_sections_and_writes_the_html_page(
    logged, sample_index, tmp_path, monkeypatch, capsys
):
    for key, value in {
        "FEEDBACK_DB": logged,
        "FEEDBACK_KEY": "k" * 40,
        "MODEL_CACHE": sample_index.model_cache,
        "FETCHED_DIR": tmp_path / "fetched",
    }.items():
        monkeypatch.setenv(key, str(value))
    html = tmp_path / "report.html"

    assert main(["report", "--since", "7", "--html", str(html)]) == 0
    text = capsys.readouterr().out
    assert "7 questions: 2 answered (29%), 5 refused (71%)" in text
    assert "3 × " in text and "number ('420 billion' is not in the passage)" in text
    assert html.read_text().startswith("<!DOCTYPE html>")

    assert main(["report", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["refusal_groups"][0]["count"] == 3 and out["dropped_by_rule"] == {"number": 2}


@pytest.mark.parametrize("content", [None, b"", b"not a database at all" * 100])
def test_a_missing_empty_or_bad_log_is_one_line(tmp_path, monkeypatch, capsys, content):
    path = tmp_path / "feedback.db"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setenv("FEEDBACK_DB", str(path))

    assert main(["report"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_a_log_from_before_the_report_is_migrated_and_reads_as_no_library(tmp_path, embedder):
    path = tmp_path / "feedback.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE answers (id INTEGER PRIMARY KEY, created TEXT NOT NULL,"
            " question TEXT NOT NULL, answer TEXT NOT NULL, refused INTEGER NOT NULL,"
            " citations TEXT NOT NULL, latency_ms REAL NOT NULL, thread_key TEXT,"
            " private INTEGER NOT NULL DEFAULT 0);"
        )
        db.execute(
            "INSERT INTO answers VALUES (1, '2024-06-01T10:00:00+00:00', 'old?', 'no', 1,"
            " '[]', 1.0, NULL, 0)"
        )
    with pytest.raises(ReportError, match="older citebot"):
        read_log(path)

    FeedbackLog(path, "k" * 40)
    report = build_report(read_log(path), embedder.embed)

    assert report.refused == 1 and report.refusal_groups[0].best_relevance is None
    assert report.dropped_total == 0
