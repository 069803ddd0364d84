"""Reading article files (.txt in the user's own format, .md, .html, .jsonl) into `Article`s."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import CitebotError

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")
SEPARATOR = re.compile(r"^\s*\+{5,}\s*$", re.MULTILINE)
MAX_FILE_BYTES = 50 * 1024 * 1024
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


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = re.sub(r"[ \t\u00a0]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


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
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise BadFileError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    if b"\x00" in data[:8192]:
        raise BadFileError("binary file (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFileError(f"not UTF-8 text (byte {exc.start})") from exc
    if not text.strip():
        raise BadFileError("empty file")
    return text


def _make(source: str, key: str, position: int, title: str, text: str, **extra) -> Article:
    return Article(
        id=article_id(source, key),
        title=title,
        text=text,
        source=source,
        position=position,
        **extra,
    )


def _keyed(source: str, items: Iterable[tuple[str, str, bool]]) -> Iterator[Article]:
    """Articles keyed by title (and its occurrence), so inserting one doesn't rename the rest."""
    seen: dict[str, int] = {}
    for position, (title, body, derived) in enumerate(items):
        n = seen.get(title, 0)
        seen[title] = n + 1
        key = f"title:{title}#{n}"
        yield _make(source, key, position, title, body, title_derived=derived)


def parse_plain(text: str, source: str) -> list[Article]:
    """The user's format: articles separated by `+++++` lines, each opening with its title."""
    blocks = [b for b in SEPARATOR.split(_normalise(text)) if b.strip()]
    parts = [split_plain_article(b) for b in blocks]
    return list(_keyed(source, (p for p in parts if p[1])))


def parse_markdown(text: str, source: str) -> list[Article]:
    """Markdown: `+++++` or `---` separated; a leading `# ` heading is the title."""
    blocks = [b for b in re.split(r"^\s*(?:\+{5,}|-{3,})\s*$", _normalise(text), flags=re.M)]
    parts = []
    for block in blocks:
        block = block.strip()
        if not block:
            continue
        m = re.match(r"^#{1,2}\s+(.+)$", block, flags=re.M)
        if m and block.startswith(m.group(0)):
            title = _strip_title(m.group(1))
            body = _normalise(block[m.end() :])
            parts.append((title, _clean_markdown(body), False) if body else None)
        else:
            parts.append(split_plain_article(_clean_markdown(block)))
    return list(_keyed(source, (p for p in parts if p and p[1])))


def _clean_markdown(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)  # images
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links keep their words
    text = re.sub(r"^#{1,6}\s+", "", text, flags=re.M)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
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
    date = meta.get("article:published_time") or meta.get("date") or ""
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


def parse_jsonl(text: str, source: str, skipped: list[dict[str, str]]) -> list[Article]:
    """JSON lines: one article a line with `title`, `text`, optional `url`, `published`, `source`.

    A malformed line is reported and skipped; the rest of the file is still read.
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
        if not isinstance(body, str) or not body.strip():
            skipped.append({"file": where, "reason": "missing or empty 'text'"})
            continue
        body = _normalise(body)
        title = obj.get("title")
        derived = not (isinstance(title, str) and title.strip())
        title = derive_title(body) if derived else _strip_title(str(title))
        raw_key = obj.get("doc_id") or obj.get("id") or obj.get("url") or f"title:{title}"
        n = seen.get(str(raw_key), 0)
        seen[str(raw_key)] = n + 1
        articles.append(
            _make(
                source,
                f"{raw_key}#{n}",
                lineno - 1,
                title,
                body,
                url=str(obj.get("url") or ""),
                date=str(obj.get("published") or obj.get("publish_date") or obj.get("date") or ""),
                title_derived=derived,
                publisher=str(obj.get("source") or ""),
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


def iter_files(roots: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    """Every file under the roots (sorted, hidden files skipped), with its source name."""
    for root in roots:
        root = Path(root)
        if root.is_file():
            yield root, root.name
            continue
        if not root.is_dir():
            raise CitebotError(f"article folder {root} does not exist")
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            yield path, rel.as_posix()


def load_articles(roots: Iterable[Path]) -> ParseResult:
    """Parse every file under the roots; bad files are listed in `skipped`, never fatal."""
    result = ParseResult()
    for path, source in iter_files(roots):
        before = len(result.skipped)
        found: list[Article] = []
        try:
            found = parse_file(path, source, result.skipped)
        except BadFileError as exc:
            log.warning("skipped %s: %s", source, exc)
            result.skipped.append({"file": source, "reason": str(exc)})
        except OSError as exc:
            log.warning("skipped %s: %s", source, exc)
            result.skipped.append({"file": source, "reason": f"unreadable: {exc.strerror}"})
        else:
            if not found:
                result.skipped.append({"file": source, "reason": "no articles found"})
        if len(result.skipped) > before:
            result.incomplete.add(source)
        result.articles.extend(found)
    return result
