"""Reading the files under the article folders into articles (`provenance.Article`).

Each format (.txt in the user's own format, .md, .html, .jsonl) is parsed by its module in
`index.ingest.formats`; this module walks the folders, reads files safely and keeps one copy of
each article. It is the only importer of the formats, which know the article record alone."""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import BadFileError, CitebotError
from index.ingest.formats import parser_for
from index.ingest.provenance import Article

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ARTICLE_CHARS = 1_000_000  # the default of the MAX_ARTICLE_CHARS setting


@dataclass
class ParseResult:
    """Articles read from a set of files, and the files (or lines) that were skipped and why."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    incomplete: set[str] = field(default_factory=set)  # sources skipped in whole or in part


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


def parse_file(path: Path, source: str, skipped: list[dict[str, str]]) -> list[Article]:
    """Parse one file by its extension; raises `BadFileError` when the whole file is unusable."""
    suffix = path.suffix.lower()
    parse = parser_for(suffix)
    if parse is None:
        raise BadFileError(f"unsupported file type {suffix or '(none)'}")
    return parse(_read_text(path), source, skipped)


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
    prefixed = {name for name, n in counts.items() if n > 1}
    while True:
        # a prefixed name may be another root's own (news/wire/trade.txt under news, and
        # wire/trade.txt prefixed): that one is prefixed too, until every name is one file's
        names = [f"{labels[r]}/{n}" if n in prefixed else n for r, _, n, _ in entries]
        clash = {n for n, k in Counter(names).items() if k > 1}
        more = {n for (_, _, n, _), final in zip(entries, names, strict=True) if final in clash}
        if not more - prefixed:
            break
        prefixed |= more
    if len(set(names)) < len(names):  # labels that still meet: the roots' full paths
        names = [f"{r}/{n}" if n in prefixed else n for r, _, n, _ in entries]
    for (_, path, _, why), name in zip(entries, names, strict=True):
        yield path, name, why


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
    for (copy, original_file), titles in copies.items():
        what = f"duplicate of {original_file} ({titles[0]!r})"
        if len(titles) > 1:
            what = f"{len(titles)} articles duplicate those of {original_file}"
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
