"""A web page's article (text, title, date, author, publisher, canonical URL) by trafilatura."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from index.ingest.feeds.errors import FetchError
from index.text.urls import safe_url

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


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _site(url: str) -> tuple[str, str, int | None]:
    """Scheme, host (without `www.`) and port: another port or scheme is another server."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is no number names no site
        port = -1
    return scheme, (parts.hostname or "").lower().removeprefix("www."), port


def canonical_url(declared: str | None, final_url: str) -> str:
    """The page's declared canonical URL, unless it points to another site or is not http(s).

    A page may only name itself: a canonical URL on another site (another host, scheme or port)
    would let any page replace that site's article in the library.
    """
    if not declared:
        return final_url
    parts = urlsplit(declared)
    if parts.scheme not in ("http", "https") or _site(declared) != _site(final_url):
        return final_url
    return safe_url(parts._replace(fragment="").geturl())


def extract_page(html: bytes | str, url: str) -> Page:
    """The article of a fetched page; `FetchError` when it has too little text to be one.

    The extraction is the one `.html` files get (`index.ingest.formats.html.extract_article`).
    """
    from index.ingest.formats.html import extract_article

    page = extract_article(html, url)
    if page is None or len(page.text) < MIN_TEXT_CHARS:
        raise FetchError("no article text on the page")
    return Page(
        url=canonical_url(page.url, url),
        title=page.title,
        text=page.text,
        published=page.published,
        author=page.author,
        publisher=page.publisher,
    )
