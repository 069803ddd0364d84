"""Reading article files (.txt in the user's own format, .md, .html, .jsonl) into `Article`s."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path

from index.errors import CitebotError

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")
SEPARATOR = re.compile(r"^\s*\+{5,}\s*$", re.MULTILINE)
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ARTICLE_CHARS = 1_000_000  # the default of the MAX_ARTICLE_CHARS setting
# A title is a short line without a full stop in the middle; a body paragraph rarely is.
_MAX_TITLE_CHARS = 200
_DERIVED_TITLE_WORDS = 12


class BadFileError(CitebotError):
    """A whole file could not be read as articles."""


@dataclass(frozen=True)
class Article:
    """One article with its provenance; `id` is stable across edits of the body."""

    id: str
    title: str
    text: str
    source: str
    position: int
    url: str = ""
    date: str = ""
    title_derived: bool = False
    # the publication, when the file names it (`source` in .jsonl, og:site_name in .html)
    publisher: str = ""


@dataclass
class ParseResult:
    """Articles read from a set of files, and the files (or lines) that were skipped and why."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    incomplete: set[str] = field(default_factory=set)  # sources skipped in whole or in part


def article_id(source: str, key: str) -> str:
    """Stable id from the file an article came from and its key within that file."""
    return hashlib.sha1(f"{source}\x00{key}".encode()).hexdigest()[:16]


_BLANK_LINES = re.compile(r"\n{3,}")


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    # rstrip line by line: the regex `[ \t]+\n` retried from every blank of a long run of blanks
    # that ends in a word, which made a file of padding take minutes (quadratic)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _strip_title(s: str) -> str:
    return s.strip().strip("#").strip().rstrip(".").strip()


def _looks_like_title(line: str) -> bool:
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
    if "\n" not in first and _looks_like_title(first) and len(paragraphs) > 1:
        title = _strip_title(first)
        rest = paragraphs[1:]
        while rest and _strip_title(rest[0]).casefold() == title.casefold():
            rest = rest[1:]
        if rest:
            return title, "\n\n".join(rest), False
    body = "\n\n".join(paragraphs)
    return derive_title(body), body, True


def _read_text(path: Path) -> str:
    too_big = BadFileError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    with path.open("rb") as fh:
        # the size is checked before reading: a 1 GB file must not be loaded only to be refused
        if os.fstat(fh.fileno()).st_size > MAX_FILE_BYTES:
            raise too_big
        data = fh.read()
    if len(data) > MAX_FILE_BYTES:  # it grew while being read
        raise too_big
    if b"\x00" in data[:8192]:
        raise BadFileError("binary file (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFileError(f"not UTF-8 text (byte {exc.start})") from exc
    if not text.strip():
        raise BadFileError("empty file")
    return text


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


def _make(source: str, key: str, position: int, title: str, text: str, **extra) -> Article:
    return Article(
        id=article_id(source, key),
        title=title,
        text=text,
        source=source,
        position=position,
        **extra,
    )


def _keyed(source: str, items: Iterable[tuple]) -> Iterator[Article]:
    """Articles keyed by title (and its occurrence), so inserting one doesn't rename the rest.

    Each item is (title, body, title_derived) and optionally a dict of `Article` fields.
    """
    seen: dict[str, int] = {}
    for position, (title, body, derived, *extra) in enumerate(items):
        n = seen.get(title, 0)
        seen[title] = n + 1
        key = f"title:{title}#{n}"
        yield _make(source, key, position, title, body, title_derived=derived, **(extra or [{}])[0])


def parse_plain(text: str, source: str) -> list[Article]:
    """The user's format: articles separated by `+++++` lines, each opening with its title."""
    blocks = [b for b in SEPARATOR.split(_normalise(text)) if b.strip()]
    parts = [split_plain_article(b) for b in blocks]
    return list(_keyed(source, (p for p in parts if p[1])))


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
            and _looks_like_title(prev)
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
    heading = _strip_title(m[1]) if m else ""
    fields = {k: v for k, v in meta.items() if k != "title" and v}
    title = _strip_title(meta.get("title", ""))
    if title and heading and heading.casefold() != title.casefold():
        m = None  # a heading other than the front matter's title is body text
    if m:
        title, piece = title or heading, piece[m.end() :]
    if title:
        body = _clean_markdown(piece)
        return (title, body, False, fields) if body else None
    title, body, derived = split_plain_article(_clean_markdown(piece))
    return (title, body, derived, fields) if body else None


def parse_markdown(text: str, source: str) -> list[Article]:
    """Markdown: a leading `#` heading (or front matter `title`) is the title.

    Articles are separated by a `+++++` line, or by a `---` rule followed by a `#`/`##` heading;
    each `+++++` block may open with YAML front matter giving its title, date and url.
    """
    parts = []
    for block in SEPARATOR.split(_normalise(text)):
        meta, block = _front_matter(block.strip(), source)
        for i, piece in enumerate(_split_on_rules(block)):
            parts.append(_markdown_article(piece, meta if i == 0 else {}))
    return list(_keyed(source, (p for p in parts if p)))


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
    return _normalise(text)


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
    return _normalise("\n".join(lines))


def parse_html(text: str, source: str) -> list[Article]:
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
    title = _strip_title(title) or derive_title(body)
    publisher = meta.get("og:site_name", "")
    return [
        _make(
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


def parse_jsonl(text: str, source: str, skipped: list[dict[str, str]]) -> list[Article]:
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
        body = _normalise(body)
        title = _text_field(obj, "title", where)
        derived = not title.strip()
        title = derive_title(body) if derived else _strip_title(title)
        url = _text_field(obj, "url", where)
        raw_key = obj.get("doc_id") or obj.get("id") or url or f"title:{title}"
        n = seen.get(str(raw_key), 0)
        seen[str(raw_key)] = n + 1
        articles.append(
            _make(
                source,
                f"{raw_key}#{n}",
                lineno - 1,
                title,
                body,
                url=url,
                date=_jsonl_date(obj, where),
                title_derived=derived,
                publisher=_text_field(obj, "source", where),
            )
        )
    return articles


def parse_file(path: Path, source: str, skipped: list[dict[str, str]]) -> list[Article]:
    """Parse one file by its extension; raises `BadFileError` when the whole file is unusable."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise BadFileError(f"unsupported file type {suffix or '(none)'}")
    text = _read_text(path)
    if suffix == ".jsonl":
        return parse_jsonl(text, source, skipped)
    if suffix in (".html", ".htm"):
        return parse_html(text, source)
    if suffix in (".md", ".markdown"):
        return parse_markdown(text, source)
    return parse_plain(text, source)


def _root_labels(roots: list[Path]) -> dict[Path, str]:
    """A short name for each root: its folder's name, with parent folders where names repeat."""
    bases = [root if root.is_dir() else root.parent for root in roots]
    depth = max(len(b.parts) for b in bases)
    for k in range(1, depth + 1):
        labels = {r: "/".join(b.parts[1:][-k:]) or "_" for r, b in zip(roots, bases, strict=True)}
        if len(set(labels.values())) == len(set(bases)):
            return labels
    return {r: str(b) for r, b in zip(roots, bases, strict=True)}


def _walk(root: Path) -> Iterator[tuple[Path, str, str]]:
    """(path, name under the root, why it is skipped or "") of each entry under a root folder."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_symlink() and not path.exists():
            yield path, rel.as_posix(), "broken symbolic link"
        elif path.is_symlink() and path.is_dir():
            # not followed: a link may point back up the tree, or out of it
            yield path, rel.as_posix(), "symbolic link to a folder (not followed)"
        elif path.is_file():
            yield path, rel.as_posix(), ""


def iter_files(roots: Iterable[Path]) -> Iterator[tuple[Path, str, str]]:
    """Every file under the roots (sorted, hidden ones left out): path, source name, skip reason.

    The source name is the path under its root, which article ids are made from. A name found
    under two roots is prefixed with its root's folder name, so that both files are indexed;
    every other name (and every id) stays the same whichever roots are given.
    """
    entries: list[tuple[Path, Path, str, str]] = []
    distinct = list(dict.fromkeys(Path(os.path.abspath(root)) for root in roots))
    for root in distinct:
        if root.is_file():
            entries.append((root, root, root.name, ""))
        elif root.is_dir():
            entries += [(root, path, name, why) for path, name, why in _walk(root)]
        else:
            raise CitebotError(f"article folder {root} does not exist")
    counts = Counter(name for _, _, name, _ in entries)
    labels = _root_labels(distinct) if max(counts.values(), default=0) > 1 else {}
    for root, path, name, why in entries:
        yield path, f"{labels[root]}/{name}" if counts[name] > 1 else name, why


def _where(article: Article) -> str:
    """The file (and line, for .jsonl) an article comes from, as skip reasons name it."""
    if article.source.lower().endswith(".jsonl"):
        return f"{article.source}:{article.position + 1}"
    return article.source


def _drop_duplicates(articles: list[Article], skipped: list[dict[str, str]]) -> list[Article]:
    """The first of identical articles (same title and text, case and spacing aside).

    The same story saved in several files would otherwise fill several of the passage slots of
    an answer with one text; the copies are listed in the summary instead, one line a file.
    """
    first: dict[bytes, Article] = {}
    kept = []
    copies: dict[tuple[str, str], list[str]] = {}  # (copy's file, original's file) -> titles
    for article in articles:
        key = "\x00".join(" ".join(s.split()).casefold() for s in (article.title, article.text))
        original = first.setdefault(hashlib.sha1(key.encode()).digest(), article)
        if original is article:
            kept.append(article)
        else:
            copies.setdefault((_where(article), _where(original)), []).append(original.title)
    for (copy, original), titles in copies.items():
        what = f"duplicate of {original} ({titles[0]!r})"
        if len(titles) > 1:
            what = f"{len(titles)} articles duplicate those of {original}"
        skipped.append({"file": copy, "reason": f"{what}; indexed once"})
    return kept


def load_articles(roots: Iterable[Path], max_article_chars: int = MAX_ARTICLE_CHARS) -> ParseResult:
    """Parse every file under the roots; bad files are listed in `skipped`, never fatal.

    An article longer than `max_article_chars` is skipped too: one 50 MB article would become
    tens of thousands of chunks held in memory before the first is embedded.
    """
    result = ParseResult()
    for path, source, why in iter_files(roots):
        before = len(result.skipped)
        found: list[Article] = []
        try:
            if why:
                raise BadFileError(why)
            found = parse_file(path, source, result.skipped)
        except BadFileError as exc:
            log.warning("skipped %s: %s", source, exc)
            result.skipped.append({"file": source, "reason": str(exc)})
        except OSError as exc:
            log.warning("skipped %s: %s", source, exc)
            result.skipped.append({"file": source, "reason": f"unreadable: {exc.strerror}"})
        else:
            if not found and len(result.skipped) == before:
                result.skipped.append({"file": source, "reason": "no articles found"})
        for article in [a for a in found if len(a.text) > max_article_chars]:
            found.remove(article)
            reason = (
                f"article {article.title!r} has {len(article.text):,} characters, more than "
                f"MAX_ARTICLE_CHARS ({max_article_chars:,})"
            )
            log.warning("skipped %s: %s", _where(article), reason)
            result.skipped.append({"file": _where(article), "reason": reason})
        if len(result.skipped) > before:
            result.incomplete.add(source)
        result.articles.extend(found)
    result.articles = _drop_duplicates(result.articles, result.skipped)
    return result
