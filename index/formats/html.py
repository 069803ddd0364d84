"""HTML pages (.html): the readable text of the article, its title, canonical url and date."""

from __future__ import annotations

import logging
import re

from index.articles import Article, BadFileError
from index.formats.common import clean_date, derive_title, make_article, normalise, strip_title

log = logging.getLogger(__name__)

_HTML_DROP = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript", "svg")
# Elements that start a paragraph of their own; every other tag is inline and adds no spaces.
_HTML_BLOCKS = {
    "address", "article", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "li", "main", "ol", "p", "pre", "section", "table", "td", "th",
    "tr", "ul",
}  # fmt: skip
_SPACES = re.compile(r"\s+")


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


def parse(text: str, source: str, skipped: list[dict[str, str]]) -> list[Article]:
    """HTML: readable text of `<article>` (or `<main>`, or `<body>`); one article per file."""
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
