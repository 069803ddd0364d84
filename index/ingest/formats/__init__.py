"""The article formats, by file extension. A new format is one module with a
`parse(text, source, skipped) -> list[Article]` function and its extensions in `_FORMATS`."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from index.ingest.provenance import Article

Parser = Callable[[str, str, list[dict[str, str]]], list[Article]]

_FORMATS = {
    ".txt": "plain",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
}
SUPPORTED_SUFFIXES = tuple(_FORMATS)


def parser_for(suffix: str) -> Parser | None:
    """The parser of files ending in `suffix` (".md"), or None for an unknown extension."""
    module = _FORMATS.get(suffix.lower())
    return importlib.import_module(f"index.ingest.formats.{module}").parse if module else None
