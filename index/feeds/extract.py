"""A web page's article (text, title, date, author, publisher, canonical URL) by trafilatura."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from index.feeds.errors import FetchError

# Too little text for an article: a paywall stub, a cookie wall or an index page.
MIN_TEXT_CHARS = 200


@dataclass(frozen=True)
class Page:
    """What a page says of itself; `url` is its canonical URL when that is on the same site."""

    url: str
    title: str
    text: str
    published: str = ""
    author: str = ""
    publisher: str = ""


def _site(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def canonical_url(declared: str | None, final_url: str) -> str:
    """The page's declared canonical URL, unless it points to another site or is not http(s).

    A page may only name itself: a canonical URL on another site would let any page replace
    that site's article in the library.
    """
    if not declared:
        return final_url
    parts = urlsplit(declared)
    if parts.scheme not in ("http", "https") or _site(declared) != _site(final_url):
        return final_url
    return parts._replace(fragment="").geturl()


def extract_page(html: bytes | str, url: str) -> Page:
    """The article of a fetched page; `FetchError` when it has too little text to be one.

    trafilatura keeps the main text and drops navigation, cookie banners, newsletter boxes,
    related links, comments and footers; the date is the page's own (JSON-LD `datePublished`,
    `article:published_time`, ...), never a guess from the URL or the text.
    """
    import trafilatura

    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        # not favor_precision: on a page of <br>-separated lines it dropped the lead paragraph
        # (benchmarks/html_extract.py); the balanced default lost none there
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    text = (doc.text or "").strip() if doc else ""
    if len(text) < MIN_TEXT_CHARS:
        raise FetchError("no article text on the page")
    title = " ".join((doc.title or "").split())
    paragraphs = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    if title and paragraphs[0] == title and len(paragraphs) > 1:
        paragraphs = paragraphs[1:]  # the headline repeated as the body's first line
    # a blank line between paragraphs, as every other article format gives them
    text = "\n\n".join(paragraphs)
    return Page(
        url=canonical_url(doc.url, url),
        title=title,
        text=text,
        published=doc.date or "",
        author=doc.author or "",
        publisher=doc.sitename or "",
    )
