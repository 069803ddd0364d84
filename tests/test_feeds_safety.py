"""What a hostile feed or site cannot make the fetcher do (index.ingest.feeds), on loopback.

127.0.0.1 is the operator's own feed host (trusted as configured); 127.0.0.2 stands for an
internal host that only a feed item or a redirect leads to.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import json
import re
import threading
import time
import tracemalloc
import zlib

import pytest

from index.ingest.articles import load_articles
from index.ingest.feeds import fetch_sources
from index.ingest.feeds.addresses import is_public
from index.ingest.feeds.archive import STATE_FILE
from index.ingest.feeds.extract import canonical_url
from index.ingest.feeds.fetch import MAX_SITEMAPS
from index.ingest.feeds.listing import parse_listing
from index.settings import Settings
from tests.conftest import fetcher_settings
from tests.newsite import BRIDGE_PAGE, LIVE_FEED, SITE_DIR, NewsSite


@pytest.fixture
def site(news_site):
    return news_site


@pytest.fixture
def inner():
    """An internal host: a feed on `site` may link to it, nobody configured it."""
    server = NewsSite("127.0.0.2").start()
    yield server
    server.close()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return fetcher_settings(tmp_path, 5.0)


def _feed_of(*links: str) -> str:
    items = "".join(f"<item><title>{u}</title><link>{u}</link></item>" for u in links)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )


def _reasons(report) -> list[str]:
    return [f["reason"] for s in report.sources for f in s.failures]


def test_a_feed_item_on_an_internal_host_is_refused_and_never_requested(settings, site, inner):
    site.overrides[LIVE_FEED] = _feed_of(inner.url(BRIDGE_PAGE))
    report = fetch_sources(settings.fetching, [site.url(LIVE_FEED)])
    (reason,) = _reasons(report)
    assert reason.startswith("refused: 127.0.0.2 is a non-public address")
    assert inner.log == [] and report.totals()["new"] == 0
    lines = [line for line in report.lines() if "refused" in line]
    assert lines == [f"  {inner.url(BRIDGE_PAGE)}: {reason}"]
    assert json.loads(json.dumps(report.as_dict()))["totals"]["failed"] == 1


def test_a_redirect_to_an_internal_host_is_refused(settings, site, inner):
    site.replies["/go"] = (302, {"Location": inner.url(BRIDGE_PAGE)}, b"")
    report = fetch_sources(settings.fetching, [], [site.url("/go")])
    assert _reasons(report)[0].startswith("refused: 127.0.0.2")
    assert inner.log == []


def test_an_allowed_internal_host_is_fetched(settings, site, inner):
    site.overrides[LIVE_FEED] = _feed_of(inner.url(BRIDGE_PAGE))
    allowed = settings.model_copy(update={"fetch_allow_hosts": ["127.0.0.0/30"]})
    report = fetch_sources(allowed.fetching, [site.url(LIVE_FEED)])
    assert report.totals()["new"] == 1


def test_a_configured_page_on_an_internal_host_is_trusted(settings, inner):
    report = fetch_sources(settings.fetching, [], [inner.url(BRIDGE_PAGE)])
    assert report.totals()["new"] == 1


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.2",
        "0.0.0.0",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "fe80::1",
        "fc00::1",
        "224.0.0.1",
    ],
)
def test_internal_addresses_in_every_form_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


def test_a_public_address_is_public():
    assert is_public(ipaddress.ip_address("93.184.216.34"))
    assert is_public(ipaddress.ip_address("2606:2800:220:1:248:1893:25c8:1946"))


def _gzip(data: bytes, times: int = 1) -> bytes:
    for _ in range(times):
        data = gzip.compress(data)
    return data


def _zeros_gzipped(megabytes: int) -> bytes:
    """`megabytes` MiB of zeros, gzip-compressed without ever holding them (about 1,000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


def test_a_stacked_content_encoding_is_refused(settings, site):
    bomb = _gzip(b"<p>" + b"a" * 10_000_000 + b"</p>", times=2)
    site.replies["/bomb.html"] = (
        200,
        {"Content-Type": "text/html", "Content-Encoding": "gzip, gzip"},
        bomb,
    )
    report = fetch_sources(settings.fetching, [], [site.url("/bomb.html")])
    assert _reasons(report) == ["refused: stacked content encodings (gzip, gzip)"]


def test_a_gzip_bomb_is_cut_at_the_cap_while_it_inflates(settings, site):
    site.replies["/bomb.html"] = (
        200,
        {"Content-Type": "text/html", "Content-Encoding": "gzip"},
        _zeros_gzipped(200),
    )
    tracemalloc.start()
    try:
        report = fetch_sources(settings.fetching, [], [site.url("/bomb.html")])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert _reasons(report) == ["too large (over the cap of 1,000,000 bytes)"]
    assert peak < 16 * 2**20  # the 200 MiB it inflates to were never held


def test_a_gzipped_page_is_read(settings, site):
    page = (SITE_DIR / BRIDGE_PAGE.lstrip("/")).read_bytes()
    site.replies["/zipped.html"] = (
        200,
        {"Content-Type": "text/html", "Content-Encoding": "gzip"},
        _gzip(page.replace(b"http://news.test", site.origin.encode())),
    )
    report = fetch_sources(settings.fetching, [], [site.url("/zipped.html")])
    assert report.totals()["new"] == 1


def test_robots_txt_rules_are_longest_match_with_wildcards(settings, site):
    site.overrides["/robots.txt"] = "User-agent: *\nAllow: /\nDisallow: /news/*-bridge\n"
    report = fetch_sources(settings.fetching, [], [site.url(BRIDGE_PAGE)])
    assert _reasons(report) == ["disallowed by robots.txt"]
    assert BRIDGE_PAGE not in site.paths()


def test_an_oversize_robots_txt_is_read_up_to_500_kib(settings, site):
    padding = "# " + "x" * 98 + "\n"
    site.overrides["/robots.txt"] = "User-agent: *\nDisallow: /news/\n" + padding * 12_000
    report = fetch_sources(settings.fetching, [], [site.url(BRIDGE_PAGE)])
    assert _reasons(report) == ["disallowed by robots.txt"]


def test_robots_txt_answering_429_forbids_the_site_for_now(settings, site):
    site.robots_status = 429
    report = fetch_sources(settings.fetching, [], [site.url(BRIDGE_PAGE)])
    assert _reasons(report) == ["robots.txt could not be read (HTTP 429 Too Many Requests)"]
    assert site.paths() == ["/robots.txt"]


@pytest.mark.parametrize(
    "declared",
    [
        "http://news.test:8081/a",
        "https://news.test/a",
        "http://news.test:bad/a",
        "ftp://news.test/a",
    ],
)
def test_a_canonical_url_on_another_port_or_scheme_is_ignored(declared):
    page = "http://news.test/a?utm_source=x"
    assert canonical_url(declared, page) == page


def test_a_canonical_url_on_the_same_server_is_taken():
    assert canonical_url("http://www.news.test:80/a#top", "http://news.test/a?x=1") == (
        "http://www.news.test:80/a"
    )


def test_a_redirect_location_that_would_mask_a_link_is_stored_percent_encoded(settings, site):
    page = (SITE_DIR / BRIDGE_PAGE.lstrip("/")).read_bytes()
    page = re.sub(rb'<link rel="canonical"[^>]*>', b"", page)  # the final URL is its citation
    site.replies["/go"] = (302, {"Location": "/x)[Official-statement](https://evil.example"}, b"")
    site.replies["/x%29%5BOfficial-statement%5D%28https://evil.example"] = (
        200,
        {"Content-Type": "text/html"},
        page,
    )
    report = fetch_sources(settings.fetching, [], [site.url("/go")])
    assert report.totals()["new"] == 1
    (article,) = load_articles([settings.fetched_dir]).articles
    assert article.url == site.url("/x%29%5BOfficial-statement%5D%28https://evil.example")


def test_an_entry_the_feed_dates_recent_but_its_page_dates_old_is_fetched_once(
    settings, site, monkeypatch
):
    now = datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC)
    monkeypatch.setattr("index.ingest.feeds.archive._now", lambda: now)
    monkeypatch.setattr("index.ingest.feeds.fetch._now", lambda: now)
    site.overrides[LIVE_FEED] = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        f"<title>b</title><link>{site.url(BRIDGE_PAGE)}</link>"
        "<pubDate>Tue, 24 Nov 2026 09:00:00 GMT</pubDate></item></channel></rss>"
    )  # the page itself says 20 November
    recent = settings.model_copy(update={"keep_days": 2})
    first = fetch_sources(recent.fetching, [site.url(LIVE_FEED)])
    second = fetch_sources(recent.fetching, [site.url(LIVE_FEED)])
    assert (first.totals()["new"], first.totals()["too_old"], first.pruned) == (0, 1, 0)
    assert (second.totals()["new"], second.totals()["too_old"], second.pruned) == (0, 1, 0)
    assert site.paths().count(BRIDGE_PAGE) == 1


def test_two_fetches_into_one_folder_keep_each_others_pages(settings, site):
    site.latency = 0.2  # both are under way at once, were they let
    results = []
    start = threading.Barrier(2)

    def fetch(feed: str) -> None:
        start.wait()
        results.append(fetch_sources(settings.fetching, [site.url(feed)]))

    threads = [
        threading.Thread(target=fetch, args=(f,)) for f in ("/feeds/rss.xml", "/feeds/atom.xml")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    state = json.loads((settings.fetched_dir / STATE_FILE).read_text())
    files = {
        p.relative_to(settings.fetched_dir).as_posix()
        for p in settings.fetched_dir.rglob("*.jsonl")
    }
    assert sum(r.totals()["new"] for r in results) == len(files) == 4
    assert set(state["articles"]) == files


def _sitemap_index(*locs: str) -> str:
    sitemaps = "".join(f"<sitemap><loc>http://news.test{loc}</loc></sitemap>" for loc in locs)
    return f'<sitemapindex xmlns="{SITEMAP_NS}">{sitemaps}</sitemapindex>'


SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def test_a_sitemap_index_listing_itself_is_read_once(settings, site):
    site.overrides["/loop.xml"] = _sitemap_index(*["/loop.xml"] * 50, "/feeds/sitemap-news.xml")
    report = fetch_sources(settings.fetching, [site.url("/loop.xml")])
    assert site.paths().count("/loop.xml") == 1
    assert site.paths().count("/feeds/sitemap-news.xml") == 1
    assert report.totals()["new"] == 3


def test_one_feed_reads_at_most_max_sitemaps_however_deep(settings, site):
    site.overrides["/top.xml"] = _sitemap_index(*[f"/mid{i}.xml" for i in range(20)])
    for i in range(20):
        site.overrides[f"/mid{i}.xml"] = _sitemap_index(*[f"/leaf{i}-{j}.xml" for j in range(20)])
    report = fetch_sources(settings.fetching, [site.url("/top.xml")])
    sitemaps = [p for p in site.paths() if p != "/robots.txt"]
    assert len(sitemaps) == 1 + MAX_SITEMAPS
    assert any("sitemaps not read" in reason for reason in _reasons(report))


def test_only_the_entries_that_may_be_fetched_are_kept_in_the_state(settings, site, monkeypatch):
    monkeypatch.setattr("index.ingest.feeds.fetch.MAX_PAGES_PER_FEED", 5)
    urls = "".join(
        f"<url><loc>http://news.test/p{i}</loc><lastmod>2026-11-{i + 1:02d}</lastmod></url>"
        for i in range(20)
    )
    site.overrides["/big.xml"] = f'<urlset xmlns="{SITEMAP_NS}">{urls}</urlset>'
    fetch_sources(settings.fetching, [site.url("/big.xml")])
    state = json.loads((settings.fetched_dir / STATE_FILE).read_text())
    kept = [e["url"].rsplit("/", 1)[-1] for e in state["feeds"][site.url("/big.xml")]["entries"]]
    assert kept == ["p19", "p18", "p17", "p16", "p15"]


def test_feeds_are_parsed_off_the_event_loop(settings, site, monkeypatch):
    threads = []

    def parse(body, url):
        threads.append(threading.current_thread())
        return parse_listing(body, url)

    monkeypatch.setattr("index.ingest.feeds.fetch.parse_listing", parse)
    fetch_sources(settings.fetching, [site.url("/feeds/rss.xml")])
    assert threads and threading.main_thread() not in threads


def test_a_fetch_past_its_deadline_keeps_what_it_has_and_says_what_is_left(settings, site):
    site.latency = 1.0  # robots.txt at 1 s, the feed at 2 s, a page at 3 s at the soonest
    slow = settings.model_copy(update={"fetch_deadline_minutes": 2.5 / 60, "fetch_per_host": 1})
    started = time.monotonic()
    report = fetch_sources(slow.fetching, [site.url("/feeds/rss.xml")])
    assert time.monotonic() - started < 3.5
    left = re.fullmatch(
        r"deadline of 0.0416667 minutes passed: (\d+) of 8 pages left.*", report.cut_short
    )
    assert left and int(left[1]) >= 7
    assert f"stopped: {report.cut_short}" in report.lines()
    state = json.loads((settings.fetched_dir / STATE_FILE).read_text())
    assert site.url("/feeds/rss.xml") in state["feeds"]  # the next fetch asks it conditionally
