"""JSON lines (.jsonl): one article a line: `title`, `text`, optional `url`, `published`,
`source`, `doc_id` (or `id`)."""

from __future__ import annotations

import json
import logging

from index.ingest.formats.common import (
    clean_date,
    derive_title,
    make_article,
    normalise,
    strip_title,
)
from index.ingest.provenance import Article

log = logging.getLogger(__name__)

_JSON_KINDS = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    list: "a list",
    dict: "an object",
}


def _kind(value: object) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _text_field(obj: dict, name: str, where: str) -> str:
    """A string field of a JSON line; any other value is left out with a warning, not printed."""
    value = obj.get(name)
    if value is None or isinstance(value, str):
        return value or ""
    log.warning("%s: '%s' is %s, not a string; left out", where, name, _kind(value))
    return ""


def _jsonl_date(obj: dict, where: str) -> str:
    """The first of `published`, `publish_date`, `date` that holds a date; the others are warned."""
    for name in ("published", "publish_date", "date"):
        value = obj.get(name)
        if value in (None, ""):
            continue
        if found := clean_date(value):
            return found
        log.warning("%s: '%s' %r is not a date; left out", where, name, value)
    return ""


def parse(text: str, source: str, skipped: list[dict[str, str]]) -> list[Article]:
    """JSON lines: one article a line with `title`, `text`, optional `url`, `published`, `source`.

    A malformed line is reported and skipped; the rest of the file is still read. A field of the
    wrong kind (a `url` that is an object, a `published` that is no date) is left out, warned.
    """
    articles: list[Article] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append({"file": where, "reason": f"malformed JSON: {exc.msg}"})
            continue
        if not isinstance(obj, dict):
            skipped.append({"file": where, "reason": "line is not a JSON object"})
            continue
        body = obj.get("text")
        if body is not None and not isinstance(body, str):
            skipped.append({"file": where, "reason": f"'text' is {_kind(body)}, not a string"})
            continue
        if not body or not body.strip():
            skipped.append({"file": where, "reason": "missing or empty 'text'"})
            continue
        body = normalise(body)
        title = _text_field(obj, "title", where)
        derived = not title.strip()
        title = derive_title(body) if derived else strip_title(title)
        url = _text_field(obj, "url", where)
        doc_id = obj.get("doc_id") or obj.get("id") or ""
        raw_key = doc_id or url or f"title:{title}"
        n = seen.get(str(raw_key), 0)
        seen[str(raw_key)] = n + 1
        articles.append(
            make_article(
                source,
                f"{raw_key}#{n}",
                lineno - 1,
                title,
                body,
                url=url,
                date=_jsonl_date(obj, where),
                title_derived=derived,
                publisher=_text_field(obj, "source", where),
                # the corpus's own id, kept so an eval maps chunks to it without re-deriving ids
                doc_id=str(doc_id),
            )
        )
    return articles
