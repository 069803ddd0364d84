"""Fetched articles on disk, one `.jsonl` file each, and what was learnt fetching them.

The files are what a build reads (`parse_jsonl`: title, text, url, published, source), so the
library survives a site going down and a restart needs no network. `.state.json` (hidden, so a
build skips it) keeps per URL its ETag, Last-Modified, fetch time, article file and text hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from filelock import FileLock, Timeout

from index.ingest.feeds.extract import Page

log = logging.getLogger(__name__)

STATE_FILE = ".state.json"
STATE_VERSION = 1
LOCK_FILE = ".lock"
LOCK_POLL_SECONDS = 0.5


@contextlib.asynccontextmanager
async def folder_lock(root: Path) -> AsyncIterator[None]:
    """Hold the fetched folder for one fetch at a time, across processes (the bot's refresh and
    a cron `citebot-index build`): two at once would each save a state without the other's
    pages, whose articles would then be neither pruned nor known, and fetched again for ever.

    Waits, without blocking the event loop, while another fetch holds it.
    """
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(root / LOCK_FILE, thread_local=False)
    waited = False
    while True:
        try:
            lock.acquire(blocking=False)
            break
        except Timeout:
            if not waited:
                log.info("another fetch into %s is running; waiting for it", root)
                waited = True
            await asyncio.sleep(LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()


def write_atomically(path: Path, text: str) -> None:
    """Write via a hidden temp file and `os.replace`: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def article_path(url: str) -> str:
    """The file of the article at canonical `url`, relative to the folder: `host/<hash>.jsonl`."""
    host = (urlsplit(url).hostname or "unknown").lower()
    return f"{host}/{hashlib.sha1(url.encode()).hexdigest()[:16]}.jsonl"


def record_of(page: Page, published: str) -> dict[str, str]:
    """The `.jsonl` line of a page, in the fields `parse_jsonl` reads (and the author)."""
    return {
        "title": page.title,
        "text": page.text,
        "url": page.url,
        "published": published,
        "source": page.publisher,
        "author": page.author,
    }


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Archive:
    """The folder of fetched articles and its state; `save_state` writes the state once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pages: dict[str, dict[str, Any]] = {}  # requested URL -> what its last fetch left
        self.feeds: dict[str, dict[str, Any]] = {}  # feed URL -> validators and its entries
        self.articles: dict[str, dict[str, Any]] = {}  # article file -> hash, url, dates
        self._load()

    def _load(self) -> None:
        path = self.root / STATE_FILE
        if not path.exists():
            return
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            # losing the state costs one unconditional re-fetch, never an article
            log.warning("%s unreadable (%s); every page is fetched again", path, exc)
            return
        if state.get("version") != STATE_VERSION:
            return
        self.pages = state.get("pages", {})
        self.feeds = state.get("feeds", {})
        self.articles = state.get("articles", {})

    def save_state(self) -> None:
        """Write what was fetched, and when, to the state file (atomically)."""
        state = {
            "version": STATE_VERSION,
            "pages": self.pages,
            "feeds": self.feeds,
            "articles": self.articles,
        }
        write_atomically(self.root / STATE_FILE, json.dumps(state, indent=1, sort_keys=True))

    def store(self, record: dict[str, str]) -> str:
        """Keep an article: "new", "updated", or "unchanged" (the file already holds it).

        An unchanged file is not touched (same bytes, same mtime), so the next build embeds
        nothing for it; comparing with the file, not the state, holds even if the state was lost.
        """
        name = article_path(record["url"])
        path = self.root / name
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        existed = path.exists()
        unchanged = existed and path.read_bytes() == line
        if not unchanged:
            write_atomically(path, line.decode())
        stored = self.articles.get(name, {}).get("stored") if unchanged else None
        self.articles[name] = {
            "hash": hashlib.sha1(line).hexdigest(),
            "url": record["url"],
            "published": record["published"],
            # when the text last changed: the age of an undated article, for KEEP_DAYS
            "stored": stored or _now().isoformat(timespec="seconds"),
        }
        return "unchanged" if unchanged else "updated" if existed else "new"

    def prune(self, keep_days: int | None) -> int:
        """Delete articles published (undated: stored) over `keep_days` ago; how many went."""
        if not keep_days:
            return 0
        cutoff = _now() - datetime.timedelta(days=keep_days)
        gone = 0
        for name, meta in list(self.articles.items()):
            when = parse_when(meta.get("published")) or parse_when(meta.get("stored"))
            if when is None or when >= cutoff:
                continue
            (self.root / name).unlink(missing_ok=True)
            del self.articles[name]
            gone += 1
        # pages whose article went are forgotten too, so a feed still listing one re-fetches
        # it only if it is within `keep_days` again (the caller filters entries by date); a
        # page found older than its feed said is remembered as long as a feed may list it
        for url, meta in list(self.pages.items()):
            if (meta.get("article") and meta["article"] not in self.articles) or (
                meta.get("too_old") and (parse_when(meta.get("fetched")) or cutoff) < cutoff
            ):
                del self.pages[url]
        return gone


def parse_when(value: str | None) -> datetime.datetime | None:
    """An ISO 8601 date or date-time as an aware UTC datetime; None when there is none."""
    if not value:
        return None
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)
