"""HTML pages (.html): the readable text of the article, its title, canonical url and date."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from index.errors import BadFileError
from index.ingest.formats.common import (
    clean_date,
    derive_title,
    make_article,
    normalise,
    strip_title,
)
from index.ingest.provenance import Article

log = logging.getLogger(__name__)

_HTML_DROP = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript", "svg")
# Elements that start a paragraph of their own; every other tag is inline and adds no spaces.
_HTML_BLOCKS = {
    "address", "article", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "li", "main", "ol", "p", "pre", "section", "table", "td", "th",
    "tr", "ul",
}  # fmt: skip
_SPACES = re.compile(r"\s+")
# Below this much text trafilatura has found no article (it keeps only what reads like one):
# the page is read by hand instead.
MIN_TRAFILATURA_CHARS = 200


def _html_text(root) -> str:
    """Readable text of an element: a paragraph per block, inline markup joined as written.

    `get_text(" ")` would put a space at every tag ("council , which") and reading only `<p>`s
    loses text that sits directly in a `<div>`, so the tree is walked instead.
    """
    from bs4 import NavigableString, Tag

    end = object()
    parts: list[str] = []
    stack: list = [root]  # explicit stack: deeply nested pages must not hit the recursion limit
    while stack:
        node = stack.pop()
        if node is end:
            parts.append("\n\n")
        elif isinstance(node, Tag):
            if node.name in ("head", "title", "template"):  # when there is no <body> to read
                continue
            if node.name == "br":
                parts.append("\n")
                continue
            if node.name in _HTML_BLOCKS:
                parts.append("\n\n")
                stack.append(end)
            stack.extend(reversed(node.contents))
        elif type(node) is NavigableString:  # not comments, doctype or CDATA
            parts.append(_SPACES.sub(" ", node))
    lines = (line.strip() for line in "".join(parts).split("\n"))
    return normalise("\n".join(lines))


@dataclass(frozen=True)
class PageArticle:
    """What trafilatura reads from a page: its article and what the page says of itself."""

    title: str
    text: str
    url: str = ""
    published: str = ""
    author: str = ""
    publisher: str = ""


def extract_article(html: bytes | str, url: str = "") -> PageArticle | None:
    """A page's article by trafilatura, or None when it finds no text.

    trafilatura keeps the main text and drops navigation, cookie banners, newsletter boxes,
    related links, comments and footers (on pages full of them it leaked 3 boilerplate lines
    where the hand-written reader leaked 112: benchmarks/html_extract.py); the date is the
    page's own (JSON-LD `datePublished`, `article:published_time`, ...), never a guess from the
    URL or the text.
    """
    import trafilatura

    doc = trafilatura.bare_extraction(
        html,
        url=url or None,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        # not favor_precision: on a page of <br>-separated lines it dropped the lead paragraph
        # (benchmarks/html_extract.py); the balanced default lost none there
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if doc is None or isinstance(doc, dict):  # as_dict=False gives a Document, or None
        return None
    text = (doc.text or "").strip()
    if not text:
        return None
    title = " ".join((doc.title or "").split())
    paragraphs = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    if title and paragraphs[0] == title and len(paragraphs) > 1:
        paragraphs = paragraphs[1:]  # the headline repeated as the body's first line
    return PageArticle(
        title=title,
        # a blank line between paragraphs, as every other article format gives them
        text="\n\n".join(paragraphs),
        url=doc.url or "",
        published=doc.date or "",
        author=doc.author or "",
        publisher=doc.sitename or "",
    )


def parse(text: str, source: str, skipped: list[dict[str, str]]) -> list[Article]:
    """HTML: the page's article by trafilatura (see `extract_article`); a page too small or
    plain for it (a bare `<article>` of a few paragraphs) by the hand-written reader."""
    page = extract_article(text)
    if page is None or len(page.text) < MIN_TRAFILATURA_CHARS:
        return read_by_hand(text, source)
    date = clean_date(page.published) or ""
    if page.published and not date:
        log.warning("%s: published date %r is not a date; left out", source, page.published)
    title = strip_title(page.title)
    return [
        make_article(
            source,
            "html",
            0,
            title or derive_title(page.text),
            normalise(page.text),
            url=page.url,
            date=date,
            title_derived=not title,
            publisher=page.publisher,
        )
    ]


def read_by_hand(text: str, source: str) -> list[Article]:
    """The readable text of `<article>` (or `<main>`, or `<body>`); one article per file."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(_HTML_DROP):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    h1 = root.find("h1")
    title_tag = soup.find("title")
    title = ""
    if h1 and h1.get_text(strip=True):
        title = " ".join(_html_text(h1).split())
        h1.decompose()
    elif title_tag:
        title = title_tag.get_text(" ", strip=True)
    body = _html_text(root)
    if not body:
        raise BadFileError("no readable text in the HTML")
    meta = {
        m.get("property") or m.get("name"): m.get("content", "")
        for m in soup.find_all("meta")
        if m.get("property") or m.get("name")
    }
    canon = soup.find("link", rel="canonical")
    url = meta.get("og:url") or (canon.get("href", "") if canon else "")
    raw_date = meta.get("article:published_time") or meta.get("date") or ""
    date = clean_date(raw_date) or ""
    if raw_date and not date:
        log.warning("%s: published date %r is not a date; left out", source, raw_date)
    derived = not title
    title = strip_title(title) or derive_title(body)
    publisher = meta.get("og:site_name", "")
    return [
        make_article(
            source,
            "html",
            0,
            title,
            body,
            url=url,
            date=date,
            title_derived=derived,
            publisher=publisher,
        )
    ]
