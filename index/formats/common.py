"""What every article format shares: text clean-up, titles, dates, and making `Article`s."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator
from email.utils import parsedate_to_datetime

from index.articles import Article, article_id

SEPARATOR = re.compile(r"^\s*\+{5,}\s*$", re.MULTILINE)
# A title is a short line without a full stop in the middle; a body paragraph rarely is.
_MAX_TITLE_CHARS = 200
_DERIVED_TITLE_WORDS = 12


_BLANK_LINES = re.compile(r"\n{3,}")


def normalise(text: str) -> str:
    """Line ends, a BOM and trailing blanks made uniform; at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    # rstrip line by line: the regex `[ \t]+\n` retried from every blank of a long run of blanks
    # that ends in a word, which made a file of padding take minutes (quadratic)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def strip_title(s: str) -> str:
    return s.strip().strip("#").strip().rstrip(".").strip()


def looks_like_title(line: str) -> bool:
    line = line.strip()
    if not line or len(line) > _MAX_TITLE_CHARS:
        return False
    # A sentence that ends a paragraph ("... per year.") is body text; a title may end with one dot.
    inner = line.rstrip(".")
    return not re.search(r"[.!?][\"”’)]?\s+\S", inner) and len(inner.split()) <= 30


def derive_title(text: str) -> str:
    """A title made of the first sentence (at most a dozen words) of an untitled article."""
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    words = first.split()
    title = " ".join(words[:_DERIVED_TITLE_WORDS])
    return title.rstrip(".,;:") + ("…" if len(words) > _DERIVED_TITLE_WORDS else "")


def split_plain_article(block: str) -> tuple[str, str, bool]:
    """Split one article of the user's plain-text format into (title, body, title_derived).

    The title line may be repeated (the sample repeats it three times, with and without a full
    stop): every leading paragraph equal to the title is dropped.
    """
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", block.strip()) if p.strip()]
    if not paragraphs:
        return "", "", False
    first = paragraphs[0]
    if "\n" not in first and looks_like_title(first) and len(paragraphs) > 1:
        title = strip_title(first)
        rest = paragraphs[1:]
        while rest and strip_title(rest[0]).casefold() == title.casefold():
            rest = rest[1:]
        if rest:
            return title, "\n\n".join(rest), False
    body = "\n\n".join(paragraphs)
    return derive_title(body), body, True


_ISO_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_WRITTEN_DATES = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y")


def clean_date(value: object) -> str | None:
    """`value` as a citation date, or None when it holds no calendar date.

    A year-month-day anywhere in the text (what the retrieval's recency prior reads) is kept as
    written; an RFC 2822 date or a written one ("May 5, 2024") is rewritten as ISO 8601.
    """
    if not isinstance(value, str):
        return None
    m = _ISO_DATE.search(value)
    if m:
        try:
            datetime.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
        return value.strip()
    for form in _WRITTEN_DATES:
        try:
            return datetime.datetime.strptime(value.strip(), form).date().isoformat()
        except ValueError:
            pass
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def make_article(source: str, key: str, position: int, title: str, text: str, **extra) -> Article:
    return Article(
        id=article_id(source, key),
        title=title,
        text=text,
        source=source,
        position=position,
        **extra,
    )


def keyed(source: str, items: Iterable[tuple]) -> Iterator[Article]:
    """Articles keyed by title (and its occurrence), so inserting one doesn't rename the rest.

    Each item is (title, body, title_derived) and optionally a dict of `Article` fields.
    """
    seen: dict[str, int] = {}
    for position, (title, body, derived, *extra) in enumerate(items):
        n = seen.get(title, 0)
        seen[title] = n + 1
        key = f"title:{title}#{n}"
        yield make_article(
            source, key, position, title, body, title_derived=derived, **(extra or [{}])[0]
        )
