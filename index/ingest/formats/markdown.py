"""Markdown (.md): front matter, a leading heading as the title; `+++++`, or a rule before a
heading, between articles."""

from __future__ import annotations

import logging
import re

from index.ingest.formats.common import (
    SEPARATOR,
    clean_date,
    keyed,
    looks_like_title,
    normalise,
    split_plain_article,
    strip_title,
)
from index.ingest.provenance import Article

log = logging.getLogger(__name__)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_FRONT_MATTER_KEY = re.compile(r"[A-Za-z_][\w-]*:")
_HEADING = re.compile(r"#{1,2}[ \t]+(.+)")  # matched at the start of an article: its title
_SETEXT = re.compile(r" {0,3}(=+|-+)")


def _front_matter(block: str, where: str) -> tuple[dict[str, str], str]:
    """The `title`, `date`, `url` and `publisher` of a leading YAML front matter, and the rest.

    Only flat `key: value` lines are read (lists and nested keys are skipped); a block whose
    lines are not of that shape is not front matter but a rule, a paragraph and a rule.
    """
    m = _FRONT_MATTER.match(block)
    if not m:
        return {}, block
    values: dict[str, str] = {}
    for line in m.group(1).split("\n"):
        if not line.strip() or line[0] in " \t-#":
            continue
        if not _FRONT_MATTER_KEY.match(line):
            return {}, block
        key, _, value = line.partition(":")
        values[key.strip().lower()] = value.strip().strip("\"'").strip()
    fields = {
        "title": values.get("title", ""),
        "url": values.get("url") or values.get("link") or "",
        "publisher": values.get("publisher", ""),
    }
    raw_date = values.get("date") or values.get("published") or ""
    fields["date"] = clean_date(raw_date) or ""
    if raw_date and not fields["date"]:
        log.warning("%s: front matter date %r is not a date; left out", where, raw_date)
    return fields, block[m.end() :]


def _is_rule(line: str) -> bool:
    """A thematic break: three or more `-`, `*` or `_` (spaces between allowed)."""
    if len(line) - len(line.lstrip(" ")) > 3:
        return False
    marks = line.replace(" ", "").replace("\t", "")
    return len(marks) >= 3 and marks in ("-" * len(marks), "*" * len(marks), "_" * len(marks))


def _setext_to_atx(lines: list[str]) -> list[str]:
    """`Title` over a line of `=` or `-` becomes `# Title` or `## Title`.

    Only a one-line paragraph that reads like a title is a heading: a `---` under a line of body
    text is taken as a rule (CommonMark would make the whole paragraph a heading).
    """
    out: list[str] = []
    for line in lines:
        m = _SETEXT.fullmatch(line)
        prev = out[-1] if out else ""
        if (
            m
            and prev.strip()
            and (len(out) == 1 or not out[-2].strip())
            and not prev.lstrip().startswith("#")
            and not _is_rule(prev)
            and looks_like_title(prev)
        ):
            out[-1] = ("# " if m[1][0] == "=" else "## ") + prev.strip()
        else:
            out.append(line)
    return out


def _split_on_rules(block: str) -> list[str]:
    """Articles of one `+++++` block: a rule separates two only when a `#`/`##` heading follows.

    Any other rule is a break inside an article and is dropped.
    """
    lines = _setext_to_atx(block.split("\n"))
    pieces: list[list[str]] = [[]]
    rule = False  # a rule was seen and no text since
    for line in lines:
        if _is_rule(line):
            rule = True
        elif line.strip():
            if rule and _HEADING.match(line) and any(x.strip() for x in pieces[-1]):
                pieces.append([])
            rule = False
            pieces[-1].append(line)
        else:
            pieces[-1].append(line)
    return ["\n".join(p) for p in pieces]


def _markdown_article(piece: str, meta: dict[str, str]) -> tuple | None:
    """(title, body, title_derived, fields) of one Markdown article, None when it has no body."""
    piece = piece.strip()
    m = _HEADING.match(piece)
    heading = strip_title(m[1]) if m else ""
    fields = {k: v for k, v in meta.items() if k != "title" and v}
    title = strip_title(meta.get("title", ""))
    if title and heading and heading.casefold() != title.casefold():
        m = None  # a heading other than the front matter's title is body text
    if m:
        title, piece = title or heading, piece[m.end() :]
    if title:
        body = _clean_markdown(piece)
        return (title, body, False, fields) if body else None
    title, body, derived = split_plain_article(_clean_markdown(piece))
    return (title, body, derived, fields) if body else None


def parse(text: str, source: str, skipped: list[dict[str, str]]) -> list[Article]:
    """Markdown: a leading `#` heading (or front matter `title`) is the title.

    Articles are separated by a `+++++` line, or by a `---` rule followed by a `#`/`##` heading;
    each `+++++` block may open with YAML front matter giving its title, date and url.
    """
    parts = []
    for block in SEPARATOR.split(normalise(text)):
        meta, block = _front_matter(block.strip(), source)
        for i, piece in enumerate(_split_on_rules(block)):
            parts.append(_markdown_article(piece, meta if i == 0 else {}))
    return list(keyed(source, (p for p in parts if p)))


# `[^[\]]` and possessive quantifiers: a link's text or target can't run into the next `[` or
# `(`, so a run of `[` (or of `[a](`) is read once, not again from each of its characters
_TARGET = r"\((?:[^()]*+(?:\([^()]*+\))?[^()]*+)\)"  # one level of parentheses, as in wiki urls
_IMAGE = re.compile(r"!\[[^\[\]]*+\]" + _TARGET)
_LINK = re.compile(r"\[([^\[\]]++)\]" + _TARGET)
_HEADING_MARK = re.compile(r"^#{1,6}[ \t]+", re.M)
_BOLD = re.compile(r"(\*\*|__)(.+?)\1")


def _clean_markdown(text: str) -> str:
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)  # links keep their words
    text = _HEADING_MARK.sub("", text)
    text = _BOLD.sub(r"\2", text)
    return normalise(text)
