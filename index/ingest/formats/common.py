"""What every article format shares: text clean-up, titles, dates, and making `Article`s."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

from index.ingest.provenance import ISO_DAY, Article, Provenance, article_id, iso_day

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
    """A title without Markdown hashes or a final dot."""
    return s.strip().strip("#").strip().rstrip(".").strip()


def looks_like_title(line: str) -> bool:
    """Whether a line reads as a title rather than body text."""
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


_WRITTEN_DATES = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y")


def clean_date(value: object) -> str | None:
    """The day `value` was published, as ISO 8601 `YYYY-MM-DD`; None when it holds no date.

    Parsed here, once, at ingest: a year-month-day anywhere in the text ("2022/06/16",
    "2022-06-16T10:00:00Z"), a written date ("May 5, 2024") or an RFC 2822 one. The day is
    what citations show and what the retrieval's recency prior reads.
    """
    if not isinstance(value, str):
        return None
    if day := iso_day(value):
        return day
    if ISO_DAY.search(value):  # a year-month-day that is no calendar day (2024-02-30)
        return None
    for form in _WRITTEN_DATES:
        try:
            return datetime.datetime.strptime(value.strip(), form).date().isoformat()
        except ValueError:
            pass
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def make_article(
    source: str, key: str, position: int, title: str, text: str, **provenance: Any
) -> Article:
    """An article of `source` keyed `key` in it; `provenance` gives the other `Provenance`
    fields the file states (url, date, publisher, doc_id, title_derived)."""
    made = Provenance(article_id=article_id(source, key), title=title, source=source, **provenance)
    return Article(provenance=made, text=text, position=position)


def keyed(source: str, items: Iterable[tuple]) -> Iterator[Article]:
    """Articles keyed by title (and its occurrence), so inserting one doesn't rename the rest.

    Each item is (title, body, title_derived) and optionally a dict of `Provenance` fields.
    """
    seen: dict[str, int] = {}
    for position, (title, body, derived, *extra) in enumerate(items):
        n = seen.get(title, 0)
        seen[title] = n + 1
        key = f"title:{title}#{n}"
        yield make_article(
            source, key, position, title, body, title_derived=derived, **(extra or [{}])[0]
        )
