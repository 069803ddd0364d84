"""The user's own plain-text format (.txt): `+++++` between articles, a title line first."""

from __future__ import annotations

from index.ingest.formats.common import SEPARATOR, keyed, normalise, split_plain_article
from index.ingest.provenance import Article


def parse(text: str, source: str, skipped: list[dict[str, str]]) -> list[Article]:
    """The user's format: articles separated by `+++++` lines, each opening with its title."""
    blocks = [b for b in SEPARATOR.split(normalise(text)) if b.strip()]
    parts = [split_plain_article(b) for b in blocks]
    return list(keyed(source, (p for p in parts if p[1])))
