"""Where a passage comes from: one frozen record, made once at ingest and carried unchanged by
the article, its chunks, the stored metadata, the numbered passages and the citations.

`Article` (an article's provenance and text) lives here too, so the formats that make articles
need nothing of the reader that calls them. This is the only place that lists the provenance
fields: a field added to `Provenance` (with a
default) is stored with every chunk, read back with every passage and printed by
`citebot ask --json`; only a renderer that is to show it needs an edit of its own.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass, fields
from typing import Any

ISO_DAY = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def iso_day(text: object) -> str:
    """The first calendar year-month-day written in `text` as `YYYY-MM-DD`, or "" for none.

    Tolerates what older indexes stored ("2022/06/16", "2022-06-16T10:00:00Z").
    """
    m = ISO_DAY.search(text) if isinstance(text, str) else None
    if not m:
        return ""
    try:
        return datetime.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return ""


@dataclass(frozen=True)
class Provenance:
    """The article a passage belongs to, as the article's file describes it."""

    article_id: str = ""
    title: str = ""
    source: str = ""  # the file, as named under its articles folder
    url: str = ""
    date: str = ""  # the day of publication, `YYYY-MM-DD`, or "" when the file gives none
    # the publication, when the file names it (`source` in .jsonl, og:site_name in .html)
    publisher: str = ""
    title_derived: bool = False  # the title was made from the first sentence
    doc_id: str = ""  # the corpus's own id of the article (`doc_id` or `id` of a .jsonl line)

    def metadata(self) -> dict[str, str | bool]:
        """Every field, flat, always present (Chroma stores no None)."""
        # not `asdict`, which deep-copies each value: a build calls this for every article
        return {name: getattr(self, name) for name in _field_names(type(self))}

    @classmethod
    def from_metadata(cls, md: dict[str, Any]) -> Provenance:
        """The provenance stored with a chunk; a key an older index lacks takes its default."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if md.get(f.name) is None:
                continue
            value = md[f.name]
            values[f.name] = bool(value) if isinstance(f.default, bool) else str(value)
        if "date" in values:
            values["date"] = iso_day(values["date"])
        return cls(**values)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # per class: a subclass may add fields


def _field_names(cls: type) -> tuple[str, ...]:
    found = _FIELD_NAMES.get(cls)
    if found is None:
        found = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return found


class HasProvenance:
    """Read-only shortcuts to the provenance of whatever carries one in `provenance`."""

    provenance: Provenance

    @property
    def article_id(self) -> str:
        """The article's stable id."""
        return self.provenance.article_id

    @property
    def title(self) -> str:
        """The article's title."""
        return self.provenance.title

    @property
    def source(self) -> str:
        """The file or URL the article came from."""
        return self.provenance.source

    @property
    def url(self) -> str:
        """The article's URL, if known."""
        return self.provenance.url

    @property
    def date(self) -> str:
        """The day published (YYYY-MM-DD), if known."""
        return self.provenance.date

    @property
    def publisher(self) -> str:
        """Who published the article, if known."""
        return self.provenance.publisher

    @property
    def title_derived(self) -> bool:
        """Whether the title was made from the text (the article gave none)."""
        return self.provenance.title_derived

    @property
    def doc_id(self) -> str:
        """The id of the document the article came from."""
        return self.provenance.doc_id


@dataclass(frozen=True)
class Article(HasProvenance):
    """One article: its provenance (whose `article_id` is stable across edits of the body),
    its text, and its place in its file."""

    provenance: Provenance
    text: str
    position: int = 0

    @property
    def id(self) -> str:
        """The article's stable id (`Provenance.article_id`)."""
        return self.provenance.article_id


def article_id(source: str, key: str) -> str:
    """Stable id from the file an article came from and its key within that file."""
    return hashlib.sha1(f"{source}\x00{key}".encode()).hexdigest()[:16]
