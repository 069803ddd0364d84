"""`citebot-index build` and the `citebot` main job fetch the feeds, then index what came in."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from click.testing import CliRunner

from bot.cli import cli as citebot
from index.cli import main as index_main
from tests.conftest import SAMPLE_DIR
from tests.newsite import LIVE_FEED, STORM_QUESTION, rss_feed

DEADLINE = 2.0
GOOD = ("/news/harbour-bridge.html", "/news/council-budget.html", "/news/school-meals.html")


@pytest.fixture
def site(news_site):
    return news_site


@pytest.fixture
def env(settings, monkeypatch, site):
    """The test's settings as an operator gives them (environment), with a live feed."""
    monkeypatch.chdir(settings.chroma_path.parent)  # no developer .env is read
    for key, value in {
        "ARTICLES_DIR": settings.articles_dir,
        "CHROMA_PATH": settings.chroma_path,
        "MODEL_CACHE": settings.model_cache,
        "FETCHED_DIR": settings.fetched_dir,
        "FEEDS": site.url(LIVE_FEED),
        "FETCH_TIMEOUT_SECONDS": DEADLINE,
        "FETCH_DELAY_SECONDS": 0,
    }.items():
        monkeypatch.setenv(key, str(value))
    site.overrides[LIVE_FEED] = rss_feed(*GOOD)
    return settings


def build(capsys, *argv: str) -> dict:
    assert index_main(["build", "--json", *argv]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_a_new_feed_item_is_answered_with_its_page_url(env, site, capsys):
    build(capsys)
    site.overrides[LIVE_FEED] = rss_feed(*GOOD, "/news/storm-warning.html")
    report = build(capsys)
    assert report["fetch"]["totals"]["new"] == 1

    result = CliRunner().invoke(citebot, ["ask", "--json", STORM_QUESTION])

    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert not answer["refused"]
    assert site.url("/news/storm-warning.html") in {c["url"] for c in answer["citations"]}
    assert any("110 kilometres per hour" in c["quote"] for c in answer["citations"])


def test_second_build_downloads_nothing_unconditionally_and_embeds_nothing(env, site, capsys):
    first = build(capsys)
    asked_before = len(site.log)

    second = build(capsys)

    again = [(p, h) for p, h in site.log[asked_before:] if p != "/robots.txt"]
    assert again, "the feed and its pages were not asked again at all"
    assert all("If-None-Match" in h or "If-Modified-Since" in h for _, h in again), again
    assert second["fetch"]["totals"]["fetched"] == 0
    assert second["fetch"]["totals"]["unchanged"] == len(GOOD)
    assert first["embedded"] > 0 and second["embedded"] == 0
    assert second["articles"] == len(GOOD)


def test_a_page_that_never_answers_costs_the_deadline_not_the_build(env, site, capsys):
    site.overrides[LIVE_FEED] = rss_feed(*GOOD, "/hang")
    started = time.monotonic()

    report = build(capsys)

    fetch_took = report["fetch"]["seconds"]
    assert fetch_took < DEADLINE + 3
    assert time.monotonic() - started < fetch_took + 60  # the rest is the model and embedding
    assert report["articles"] == len(GOOD)
    (failure,) = report["fetch"]["sources"][0]["failures"]
    assert failure["url"].endswith("/hang") and failure["reason"].startswith("timeout")


def test_the_summary_has_a_line_per_feed_and_per_failure(env, site, capsys):
    site.overrides[LIVE_FEED] = rss_feed(*GOOD, "/gone")

    assert index_main(["build"]) == 0
    out = capsys.readouterr().out

    assert out.startswith("fetched 3 of 4 pages from 1 source(s): 3 new, 0 updated")
    assert f"  {site.url('/feeds/live.xml')}: 4 listed" in out
    assert f"    {site.url('/gone')}: HTTP 410" in out
    assert "3 articles" in out


def test_feed_and_url_options_add_sources_for_one_run(env, site, capsys, monkeypatch):
    monkeypatch.setenv("FEEDS", "")

    report = build(
        capsys, "--feed", site.url("/feeds/atom.xml"), "--url", site.url("/news/storm-warning.html")
    )

    names = [s["source"] for s in report["fetch"]["sources"]]
    assert names == [site.url("/feeds/atom.xml"), "(single pages)"]
    assert report["fetch"]["totals"]["new"] == 3  # two of the Atom feed, one page
    assert report["articles"] == 3


def test_a_failed_fetch_never_stops_the_build(env, site, capsys):
    shutil.copy(SAMPLE_DIR / "articles-sample.txt", env.articles_dir)
    env.fetched_dir.write_text("a file where the fetched folder should be")

    report = build(capsys)

    assert report["fetch"]["error"]
    assert report["articles"] == 2 and report["switched"]


def test_main_job_fetches_the_feeds_before_it_starts(env, site):
    result = CliRunner().invoke(citebot, [], input="")

    assert result.exit_code == 0, result.output
    assert "Fetching 1 feed(s), then indexing" in result.stderr
    assert "fetched 3 of 3 pages" in result.stderr
    assert {p for p, _ in site.log} >= set(GOOD)


def test_a_progress_bar_counts_the_pages_while_fetching(env, site, capsys):
    assert index_main(["build", "--progress"]) == 0

    err = capsys.readouterr().err
    assert "fetching: 100%" in err and "3/3" in err
