"""Fetching news feeds, sitemaps and pages from our own site on 127.0.0.1 (index.ingest.feeds)."""

from __future__ import annotations

import datetime
import json
import time

import httpx
import pytest

from index.ingest.articles import load_articles
from index.ingest.feeds import fetch_sources
from index.ingest.feeds.archive import STATE_FILE
from index.ingest.feeds.client import _connect_reason
from index.ingest.feeds.extract import canonical_url
from index.settings import Settings
from tests.conftest import fetcher_settings
from tests.newsite import NewsSite

DEADLINE = 2.0


@pytest.fixture
def site():
    server = NewsSite().start()
    yield server
    server.close()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return fetcher_settings(tmp_path, DEADLINE)


def _fetch(settings, site, *feeds, urls=(), **kw):
    return fetch_sources(
        settings.fetching, [site.url(f) for f in feeds], [site.url(u) for u in urls], **kw
    )


def _articles(settings):
    parsed = load_articles([settings.fetched_dir])
    return {a.url.rsplit("/", 1)[-1]: a for a in parsed.articles}


def _failures(report) -> dict[str, str]:
    return {f["url"].split("/", 3)[-1]: f["reason"] for s in report.sources for f in s.failures}


def test_rss_feed_pages_become_articles_the_build_reads(settings, site):
    _fetch(settings, site, "/feeds/rss.xml")
    bridge = _articles(settings)["harbour-bridge.html"]
    assert bridge.title == "Harbour bridge to close for six weeks of repairs"
    assert bridge.url == site.url("/news/harbour-bridge.html")
    assert bridge.date.startswith("2026-11-20")
    assert bridge.publisher == "Harbour Gazette"
    assert bridge.text.startswith("The harbour bridge will close to all traffic")


def test_fetched_text_has_no_boilerplate(settings, site):
    _fetch(settings, site, "/feeds/rss.xml", "/feeds/atom.xml")
    for article in _articles(settings).values():
        for leak in ("cookies", "Subscribe", "Related stories", "Comments", "All rights reserved"):
            assert leak not in article.text, (article.url, leak)


def test_atom_feed_is_read_with_relative_links(settings, site):
    report = _fetch(settings, site, "/feeds/atom.xml")
    assert report.sources[0].new == 2
    assert "school-meals.html" in _articles(settings)


def test_sitemap_index_leads_to_its_news_sitemap(settings, site):
    report = _fetch(settings, site, "/feeds/sitemap-index.xml")
    assert report.sources[0].listed == 3
    assert _articles(settings)["library-hours.html"].date.startswith("2026-11-10")


def test_page_disallowed_by_robots_is_reported_and_never_requested(settings, site):
    report = _fetch(settings, site, "/feeds/rss.xml")
    assert _failures(report)["private/members-only.html"] == "disallowed by robots.txt"
    assert not any(p.startswith("/private/") for p in site.paths())


@pytest.mark.parametrize(
    ("path", "reason"),
    [("news/missing.html", "HTTP 404 Not Found"), ("gone", "HTTP 410 Gone"),
     ("broken", "HTTP 500 Internal Server Error")],
)  # fmt: skip
def test_http_error_is_one_failure_line_and_the_rest_is_fetched(settings, site, path, reason):
    report = _fetch(settings, site, "/feeds/rss.xml")
    assert _failures(report)[path] == reason
    assert report.sources[0].new == 3


def test_pages_that_never_answer_or_trickle_are_cut_by_the_deadline(settings, site):
    started = time.monotonic()
    report = _fetch(settings, site, "/feeds/slow.xml")
    assert time.monotonic() - started < DEADLINE + 5
    failures = _failures(report)
    assert failures["hang"].startswith("timeout")
    assert failures["trickle"].startswith("timeout")
    assert report.sources[0].new == 1  # the good page of the feed


def test_oversize_page_is_skipped_as_too_large(settings, site):
    report = _fetch(settings, site, urls=["/huge"])
    assert _failures(report)["huge"].startswith("too large")


def test_pdf_is_skipped_as_not_html(settings, site):
    report = _fetch(settings, site, "/feeds/rss.xml")
    assert _failures(report)["files/annual-report.pdf"] == "not HTML (application/pdf)"


def test_feed_that_is_not_xml_is_reported(settings, site):
    report = _fetch(settings, site, "/feeds/not-a-feed.xml", "/feeds/atom.xml")
    assert _failures(report)["feeds/not-a-feed.xml"].startswith("feed not XML")
    assert report.sources[1].new == 2


def test_entry_without_link_is_reported(settings, site):
    report = _fetch(settings, site, "/feeds/rss.xml")
    assert "entry 'Podcast: this week in the harbour' has no link" in _failures(report).values()


def test_redirects_second_feeds_and_tracking_urls_give_one_article_each(settings, site):
    report = _fetch(settings, site, "/feeds/rss.xml", "/feeds/atom.xml", "/feeds/sitemap-index.xml")
    files = sorted(p.name for p in settings.fetched_dir.rglob("*.jsonl"))
    assert len(files) == 5 == len(_articles(settings))
    assert (report.totals()["new"], report.totals()["duplicates"]) == (5, 2)
    assert _articles(settings)["rail-strike.html"].url == site.url("/news/rail-strike.html")


def test_second_fetch_asks_conditionally_and_writes_nothing(settings, site):
    _fetch(settings, site, "/feeds/rss.xml")
    before = {p: p.stat().st_mtime_ns for p in settings.fetched_dir.rglob("*.jsonl")}
    site.log.clear()
    report = _fetch(settings, site, "/feeds/rss.xml")
    assert report.sources[0].unchanged == 3 and report.sources[0].fetched == 0
    pages = [h for p, h in site.log if p.startswith("/news/harbour")]
    assert pages and all("If-None-Match" in h for h in pages)
    assert {p: p.stat().st_mtime_ns for p in settings.fetched_dir.rglob("*.jsonl")} == before


def test_page_whose_article_did_not_change_is_not_rewritten(settings, site):
    _fetch(settings, site, "/feeds/atom.xml")
    file = next(settings.fetched_dir.rglob("*.jsonl"))
    before = file.stat().st_mtime_ns
    for path in ("/news/council-budget.html", "/news/school-meals.html"):
        html = httpx.get(site.url(path)).text.replace("Most read", "Most shared")
        site.overrides[path] = html  # new boilerplate, new ETag, same article
    report = _fetch(settings, site, "/feeds/atom.xml")
    assert (report.sources[0].fetched, report.sources[0].unchanged) == (2, 2)
    assert file.stat().st_mtime_ns == before


def test_changed_page_rewrites_only_its_own_file(settings, site):
    _fetch(settings, site, "/feeds/rss.xml")
    page = site.url("/news/council-budget.html")
    html = httpx.get(page).text.replace("nineteen votes to twelve", "twenty votes to eleven")
    site.overrides["/news/council-budget.html"] = html
    report = _fetch(settings, site, "/feeds/rss.xml")
    assert (report.sources[0].updated, report.sources[0].unchanged) == (1, 2)
    assert "twenty votes to eleven" in _articles(settings)["council-budget.html"].text


def test_keep_days_prunes_older_articles_and_skips_older_entries(settings, site, monkeypatch):
    _fetch(settings, site, "/feeds/rss.xml", "/feeds/atom.xml")
    now = datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC)
    monkeypatch.setattr("index.ingest.feeds.archive._now", lambda: now)
    monkeypatch.setattr("index.ingest.feeds.fetch._now", lambda: now)
    report = _fetch(settings.model_copy(update={"keep_days": 4}), site, "/feeds/rss.xml")
    assert report.pruned == 3  # bridge (Nov 20), budget (18) and school meals (15)
    assert set(_articles(settings)) == {"rail-strike.html"}
    assert report.sources[0].too_old == 2  # bridge and budget, by their feed dates


def test_per_host_limit_holds(settings, site):
    site.latency = 0.05  # long enough for requests to overlap, were they allowed to
    one = settings.model_copy(update={"fetch_per_host": 1})
    _fetch(one, site, "/feeds/rss.xml", "/feeds/atom.xml", "/feeds/sitemap-index.xml")
    assert site.most_in_flight == 1


def test_user_agent_is_sent_with_every_request(settings, site):
    _fetch(settings, site, "/feeds/rss.xml")
    assert {h["User-Agent"] for _, h in site.log} == {settings.user_agent}


def test_refused_connection_is_one_failure_and_report_is_json(settings, site):
    closed = NewsSite()
    port = closed.server_address[1]
    closed.server_close()
    report = fetch_sources(settings.fetching, [], [f"http://127.0.0.1:{port}/news.html"])
    assert report.sources[0].failures[0]["reason"] == "connection refused"
    assert json.loads(json.dumps(report.as_dict()))["totals"]["failed"] == 1


def test_dns_failure_reads_as_host_not_found():
    exc = httpx.ConnectError("[Errno -2] Name or service not known")
    assert _connect_reason(exc) == "DNS: host not found"


def test_canonical_url_on_another_site_is_ignored():
    page = "http://news.test/a?utm_source=x"
    assert canonical_url("http://news.test/a", page) == "http://news.test/a"
    assert canonical_url("http://other.test/a", page) == page


def test_state_is_written_atomically_beside_the_articles(settings, site):
    _fetch(settings, site, "/feeds/atom.xml")
    state = json.loads((settings.fetched_dir / STATE_FILE).read_text())
    assert len(state["articles"]) == 2
    assert not list(settings.fetched_dir.rglob(".tmp-*"))


def test_requests_to_one_host_start_the_delay_apart(settings, site):
    slow = settings.model_copy(update={"fetch_delay_seconds": 0.3})
    started = time.monotonic()
    _fetch(slow, site, "/feeds/atom.xml")  # robots.txt, the feed, two pages
    assert time.monotonic() - started >= 3 * 0.3


def test_unreadable_robots_txt_forbids_the_site_for_now(settings, site):
    site.robots_status = 503
    report = _fetch(settings, site, urls=["/news/harbour-bridge.html"])
    reason = "robots.txt could not be read (HTTP 503 Service Unavailable)"
    assert report.sources[0].failures[0]["reason"] == reason
    assert site.paths() == ["/robots.txt"]


def test_missing_robots_txt_allows_the_site(settings, site):
    site.robots_status = 404
    report = _fetch(settings, site, urls=["/news/harbour-bridge.html"])
    assert report.sources[0].new == 1


def test_progress_counts_pages_up_to_the_total(settings, site):
    calls = []
    _fetch(settings, site, "/feeds/atom.xml", progress=lambda done, total: calls.append(done))
    assert calls == [0, 1, 2]


def test_duplicate_url_is_asked_conditionally_next_time(settings, site):
    feeds = ("/feeds/rss.xml", "/feeds/sitemap-index.xml")
    assert _fetch(settings, site, *feeds).totals()["duplicates"] == 2
    report = _fetch(settings, site, *feeds)
    assert (report.totals()["fetched"], report.totals()["unchanged"]) == (0, 6)


def test_lost_state_costs_downloads_but_rewrites_no_file(settings, site):
    _fetch(settings, site, "/feeds/atom.xml")
    before = {p: p.stat().st_mtime_ns for p in settings.fetched_dir.rglob("*.jsonl")}
    (settings.fetched_dir / STATE_FILE).unlink()
    report = _fetch(settings, site, "/feeds/atom.xml")
    assert (report.sources[0].fetched, report.sources[0].unchanged) == (2, 2)
    assert {p: p.stat().st_mtime_ns for p in settings.fetched_dir.rglob("*.jsonl")} == before


def test_redirects_are_followed_five_times_at_most(settings, site):
    report = _fetch(settings, site, urls=["/loop/1"])
    assert report.sources[0].failures[0]["reason"] == "more than 5 redirects"
    assert site.paths()[-1] == "/loop/6"
