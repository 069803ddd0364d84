"""What a feed lists: RSS 2.0 and Atom through feedparser, sitemaps and sitemap indexes by hand."""

from __future__ import annotations

import calendar
import datetime
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urljoin

from index.ingest.feeds.errors import FetchError

_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"
# The sitemap protocol's own limit per file (URLs, or sitemaps in an index); more are ignored.
MAX_SITEMAP_ENTRIES = 50_000


@dataclass(frozen=True)
class Entry:
    """One page a feed lists, with what the feed says of it (the page may say better)."""

    url: str
    title: str = ""
    published: str = ""  # ISO 8601, or "" when the feed gives no date


@dataclass
class Listing:
    """A parsed feed: its entries, child sitemaps (of a sitemap index) and entries it spoilt."""

    entries: list[Entry] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # e.g. an entry without a link


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(node: ET.Element | None) -> str:
    return (node.text or "").strip() if node is not None else ""


def _sitemap(root: ET.Element, base: str) -> Listing:
    listing = Listing()
    if _local(root.tag) == "sitemapindex":
        for child in root.iter(f"{_SITEMAP_NS}loc"):
            if _text(child):
                listing.sitemaps.append(urljoin(base, _text(child)))
        del listing.sitemaps[MAX_SITEMAP_ENTRIES:]
        return listing
    nodes = root.findall(f"{_SITEMAP_NS}url")
    if len(nodes) > MAX_SITEMAP_ENTRIES:
        listing.problems.append(f"only the first {MAX_SITEMAP_ENTRIES:,} of {len(nodes):,} read")
    for n, node in enumerate(nodes[:MAX_SITEMAP_ENTRIES], start=1):
        loc = _text(node.find(f"{_SITEMAP_NS}loc"))
        if not loc:
            listing.problems.append(f"sitemap <url> #{n} has no <loc>")
            continue
        news = node.find(f"{_NEWS_NS}news")
        published = _text(news.find(f"{_NEWS_NS}publication_date")) if news is not None else ""
        title = _text(news.find(f"{_NEWS_NS}title")) if news is not None else ""
        published = published or _text(node.find(f"{_SITEMAP_NS}lastmod"))
        listing.entries.append(Entry(urljoin(base, loc), title, published))
    return listing


def _iso(parsed) -> str:
    """A UTC struct_time of feedparser's as ISO 8601."""
    if not parsed:
        return ""
    stamp = calendar.timegm(parsed)
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).isoformat()


def _feed(body: bytes, base: str) -> Listing:
    import feedparser

    parsed = feedparser.parse(body)
    if not parsed.get("version"):
        raise FetchError("not a feed: neither RSS, Atom nor a sitemap")
    listing = Listing()
    for n, item in enumerate(parsed.entries, start=1):
        title = " ".join(item.get("title", "").split())
        link = item.get("link", "").strip()
        if not link:
            listing.problems.append(f"entry {title or f'#{n}'!r} has no link")
            continue
        published = _iso(item.get("published_parsed") or item.get("updated_parsed"))
        listing.entries.append(Entry(urljoin(base, link), title, published))
    return listing


def parse_listing(body: bytes, url: str) -> Listing:
    """The entries of an RSS/Atom feed or sitemap at `url`; `FetchError` when it is neither.

    Untrusted XML goes through expat (2.4.1 and later refuse entity expansion bombs); a feed with
    small errors of markup is still read by feedparser, which forgives what real feeds get wrong.
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        try:
            return _feed(body, url)
        except FetchError:
            raise FetchError(f"feed not XML ({exc})") from None
    if _local(root.tag) in ("urlset", "sitemapindex"):
        return _sitemap(root, url)
    return _feed(body, url)
