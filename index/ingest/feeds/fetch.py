"""`fetch_sources`: feeds and pages → articles on disk, fetched politely, with a report."""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import httpx

from index.ingest.feeds.addresses import host_of
from index.ingest.feeds.archive import (
    Archive,
    article_path,
    folder_lock,
    parse_when,
    record_of,
)
from index.ingest.feeds.client import PoliteClient
from index.ingest.feeds.errors import FetchError
from index.ingest.feeds.extract import extract_page
from index.ingest.feeds.listing import Entry, parse_listing
from index.ingest.feeds.report import FetchReport, SourceReport
from index.settings import FeedSettings

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total) pages

SINGLE_PAGES = "(single pages)"  # the source name of the `urls` given one by one
MAX_SITEMAPS = 50  # child sitemaps read for one feed, however deep and however often listed
MAX_SITEMAP_DEPTH = 2  # an index of indexes, no deeper
MAX_PAGES_PER_FEED = 500  # the newest; a sitemap of a whole archive would take days politely
# A page that sent neither ETag nor Last-Modified can't be asked "changed?"; it is downloaded
# again at most this often (news articles are corrected, but rarely).
REVALIDATE_AFTER = datetime.timedelta(days=1)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key(url: str) -> str:
    """A URL as a dictionary key: no fragment, scheme and host in lower case."""
    parts = urlsplit(url.strip())
    return parts._replace(
        scheme=parts.scheme.lower(), netloc=parts.netloc.lower(), fragment=""
    ).geturl()


@dataclass
class _Walk:
    """One feed's walk through its sitemap indexes: each sitemap read once, MAX_SITEMAPS in all.

    A sitemap index may list itself, or indexes listing thousands more: without this one feed
    could cost thousands of requests (tens of minutes at the polite delay).
    """

    seen: set[str]
    sitemaps_left: int = MAX_SITEMAPS


def _newest(entries: list[Entry], count: int) -> list[Entry]:
    """The `count` newest entries (undated last), or all when there are no more."""
    if len(entries) <= count:
        return entries
    return sorted(entries, key=lambda e: e.published, reverse=True)[:count]


async def _listing(
    client: PoliteClient, archive: Archive, url: str, walk: _Walk, depth: int = 0
) -> tuple[list[Entry], list[str]]:
    """A feed's entries (a sitemap index's, read through), and problems as summary lines."""
    known = archive.feeds.get(url, {})
    got = await client.get(url, etag=known.get("etag"), last_modified=known.get("last_modified"))
    if got.unchanged and "entries" in known:
        entries = [Entry(**e) for e in known["entries"]]
        sitemaps = known.get("sitemaps", [])
        problems = known.get("problems", [])
    else:
        # a sitemap of 50,000 entries takes seconds to parse: not on the event loop
        listing = await asyncio.to_thread(parse_listing, got.body, got.url)
        # no more than could ever be chosen are kept, in memory and in the state
        entries = _newest(listing.entries, MAX_PAGES_PER_FEED)
        sitemaps, problems = listing.sitemaps, listing.problems
        archive.feeds[url] = {
            **known,  # what else is kept of the feed (`_note_read`) outlives a new listing
            "etag": got.etag,
            "last_modified": got.last_modified,
            "entries": [asdict(e) for e in entries],
            "sitemaps": sitemaps,
            "problems": problems,
        }
    if sitemaps and depth >= MAX_SITEMAP_DEPTH:
        return entries, [*problems, f"sitemap index nested deeper than {MAX_SITEMAP_DEPTH}"]
    unseen = [c for c in dict.fromkeys(sitemaps) if _key(c) not in walk.seen]
    children = unseen[: walk.sitemaps_left]
    walk.sitemaps_left -= len(children)
    walk.seen.update(_key(c) for c in children)
    if len(children) < len(unseen):
        problems = [
            *problems,
            f"{len(unseen) - len(children)} sitemaps not read: {MAX_SITEMAPS} per feed at most",
        ]
    results = await asyncio.gather(
        *(_listing(client, archive, child, walk, depth + 1) for child in children),
        return_exceptions=True,
    )
    for child, result in zip(children, results, strict=True):
        if isinstance(result, FetchError):
            problems = [*problems, f"sitemap {child}: {result.reason}"]
        elif isinstance(result, BaseException):
            raise result
        else:
            entries = entries + result[0]
            problems = problems + result[1]
    return entries, problems


async def _until(end: float, tasks: Sequence[asyncio.Future]) -> int:
    """Wait for `tasks` until the loop's clock reads `end`; cancel the rest: how many."""
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=max(end - asyncio.get_running_loop().time(), 0))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return len(pending)


def _recent(entries: list[Entry], report: SourceReport, keep_days: int | None) -> list[Entry]:
    """Entries worth fetching: not older than KEEP_DAYS, the newest MAX_PAGES_PER_FEED."""
    if keep_days:
        cutoff = _now() - datetime.timedelta(days=keep_days)
        fresh = [e for e in entries if (parse_when(e.published) or cutoff) >= cutoff]
        report.too_old += len(entries) - len(fresh)
        entries = fresh
    if len(entries) > MAX_PAGES_PER_FEED:
        log.warning(
            "%s lists %d pages; the newest %d are fetched",
            report.source,
            len(entries),
            MAX_PAGES_PER_FEED,
        )
        entries = _newest(entries, MAX_PAGES_PER_FEED)
    return entries


async def _read_feed(
    client: PoliteClient, archive: Archive, url: str, keep_days: int | None
) -> tuple[SourceReport, list[Entry]]:
    report = SourceReport(url)
    try:
        entries, problems = await _listing(client, archive, url, _Walk({_key(url)}))
    except FetchError as exc:
        report.fail(url, exc.reason)
        _note_read(archive, url, exc.reason)
        return report, []
    except Exception as exc:  # one feed's surprise must not cost the others
        log.exception("reading feed %s failed unexpectedly", url)
        report.fail(url, f"unexpected error ({type(exc).__name__})")
        _note_read(archive, url, f"unexpected error ({type(exc).__name__})")
        return report, []
    _note_read(archive, url, None)
    for problem in problems:
        report.fail(url, problem)
    return report, _recent(entries, report, keep_days)


def _note_read(archive: Archive, url: str, error: str | None) -> None:
    """Keep in the state how the feed's last read went: when it was read, and since when it
    fails (the coverage report names feeds failing or bringing nothing new for a week)."""
    feed = archive.feeds.setdefault(url, {})
    now = _now().isoformat(timespec="seconds")
    feed["checked"] = now
    if error is None:
        feed.pop("error", None)
        feed.pop("failing_since", None)
    else:
        feed["error"] = error
        feed.setdefault("failing_since", now)


class _PageRun:
    """Fetching the pages of one run; `claimed` maps canonical URLs to the URL that gave them."""

    def __init__(self, client: PoliteClient, archive: Archive, keep_days: int | None) -> None:
        self.client = client
        self.archive = archive
        self.claimed: dict[str, str] = {}
        self.cutoff = _now() - datetime.timedelta(days=keep_days) if keep_days else None

    def _stored(self, key: str) -> dict | None:
        """The page's state, when the article it gave is still on disk."""
        known = self.archive.pages.get(key)
        article = known and known.get("article")
        if article in self.archive.articles and (self.archive.root / article).exists():
            return known
        return None

    async def fetch(self, key: str, entry: Entry) -> tuple[str, bool]:
        """(outcome, downloaded): outcome is new, updated, unchanged, duplicate, too_old or a
        failure."""
        if self.cutoff and self.archive.pages.get(key, {}).get("too_old"):
            return "too_old", False  # its page said so last time: not downloaded again
        known = self._stored(key)
        if known and not (known.get("etag") or known.get("last_modified")):
            checked = parse_when(known.get("fetched"))
            if checked and _now() - checked < REVALIDATE_AFTER:
                return "unchanged", False
        got = await self.client.get(
            entry.url,
            html_only=True,
            etag=known.get("etag") if known else None,
            last_modified=known.get("last_modified") if known else None,
        )
        if got.unchanged:
            if known is None:  # a 304 to a request that asked nothing conditional
                raise FetchError("HTTP 304 to an unconditional request")
            known["fetched"] = _now().isoformat(timespec="seconds")
            return "unchanged", False
        page = await asyncio.to_thread(extract_page, got.body, got.url)
        published = page.published or entry.published
        when = parse_when(published)
        if self.cutoff and when and when < self.cutoff:
            # the feed dated it recent, the page says otherwise: kept out, and remembered, so
            # that it is neither stored, pruned and fetched again every run nor announced as new
            self.archive.pages[key] = {
                "too_old": published,
                "fetched": _now().isoformat(timespec="seconds"),
            }
            return "too_old", True
        if self.claimed.setdefault(page.url, key) != key:
            outcome = "duplicate"
        else:
            record = record_of(page, published)
            record["title"] = record["title"] or entry.title
            outcome = self.archive.store(record)
        # a duplicate's validators are kept too, so that next time it is asked conditionally
        self.archive.pages[key] = {
            "etag": got.etag,
            "last_modified": got.last_modified,
            "fetched": _now().isoformat(timespec="seconds"),
            "final_url": got.url,
            "article": article_path(page.url),
        }
        return outcome, True


async def _fetch_into(
    archive: Archive,
    settings: FeedSettings,
    feeds: Iterable[str] | None,
    urls: Iterable[str],
    progress: Progress | None,
    transport: httpx.AsyncBaseTransport | None,
) -> FetchReport:
    """The fetch itself, once the folder is ours: feeds read, pages fetched, state saved."""
    feeds = list(dict.fromkeys(settings.feeds if feeds is None else feeds))
    report = FetchReport()
    singles = list(dict.fromkeys(urls))
    # the operator's own feeds and pages may live on an internal host; what they link to may not
    trusted = {host_of(u) for u in [*feeds, *singles]}
    # one library's fetch must not hold up the others' refreshes (nor /reindex) for hours:
    # past the deadline no more is started, what was fetched is kept, the rest waits
    loop = asyncio.get_running_loop()
    end = loop.time() + settings.fetch_deadline_minutes * 60
    async with PoliteClient(settings, transport, trusted=trusted) as client:
        tasks = [
            asyncio.ensure_future(_read_feed(client, archive, url, settings.keep_days))
            for url in feeds
        ]
        await _until(end, tasks)
        read: list[tuple[SourceReport, list[Entry]]] = []
        for url, task in zip(feeds, tasks, strict=True):
            if task.cancelled():
                late = SourceReport(url)
                late.fail(url, "not read: the fetch's deadline (FETCH_DEADLINE_MINUTES) passed")
                read.append((late, []))
            else:
                read.append(task.result())
        if singles:
            read.append((SourceReport(SINGLE_PAGES), [Entry(u) for u in singles]))
        plan: dict[str, tuple[Entry, list[SourceReport]]] = {}
        overall = report.overall
        for source, entries in read:
            report.sources.append(source)
            overall.too_old += source.too_old
            for failure in source.failures:
                overall.fail(failure["url"], failure["reason"])
            for entry in entries:
                source.listed += 1
                plan.setdefault(_key(entry.url), (entry, []))[1].append(source)
        overall.listed = len(plan)
        pages = _PageRun(client, archive, settings.keep_days)
        done = 0
        if progress:
            progress(0, len(plan))

        async def one(key: str, entry: Entry, sources: list[SourceReport]) -> None:
            nonlocal done
            try:
                outcome, downloaded = await pages.fetch(key, entry)
            except FetchError as exc:
                outcome, downloaded = exc.reason, False
            except Exception as exc:  # a bug or a parser's surprise costs one page, not the fetch
                log.exception("fetching %s failed unexpectedly", entry.url)
                outcome, downloaded = f"unexpected error ({type(exc).__name__})", False
            for source in [*sources, overall]:
                source.count(entry.url, outcome, downloaded)
            done += 1
            if progress:
                progress(done, len(plan))

        left = await _until(
            end, [asyncio.ensure_future(one(k, e, s)) for k, (e, s) in plan.items()]
        )
        if left:
            report.cut_short = (
                f"deadline of {settings.fetch_deadline_minutes:g} minutes passed: "
                f"{left} of {len(plan)} pages left for the next fetch"
            )
    now = _now().isoformat(timespec="seconds")
    for source in report.sources:
        if source.new and source.source in archive.feeds:
            archive.feeds[source.source]["new_at"] = now
    report.pruned = await asyncio.to_thread(archive.prune, settings.keep_days)
    await asyncio.to_thread(archive.save_state)
    return report


async def fetch_sources_async(
    settings: FeedSettings,
    feeds: Iterable[str] | None = None,
    urls: Iterable[str] = (),
    progress: Progress | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchReport:
    """`fetch_sources` for a caller already in an event loop (the bot's refresh)."""
    started = time.monotonic()
    async with folder_lock(settings.fetched_dir):
        archive = await asyncio.to_thread(Archive, settings.fetched_dir)
        report = await _fetch_into(archive, settings, feeds, urls, progress, transport)
    report.seconds = time.monotonic() - started
    for line in report.lines():
        log.info("fetch: %s", line)
    return report


def fetch_sources(
    settings: FeedSettings,
    feeds: Iterable[str] | None = None,
    urls: Iterable[str] = (),
    progress: Progress | None = None,
) -> FetchReport:
    """Fetch the feeds' pages and the single `urls` into FETCHED_DIR; a bad one is only reported.

    `feeds` (default `settings.feeds`) are RSS 2.0 / Atom feeds or (news) sitemaps, sitemap
    indexes read through. Each page is fetched politely (USER_AGENT, robots.txt, FETCH_PER_HOST
    requests at once per host started FETCH_DELAY_SECONDS apart, FETCH_TIMEOUT_SECONDS for the
    whole request, FETCH_MAX_BYTES, HTML only, at most 5 redirects) and conditionally (ETag /
    Last-Modified → 304). Its article (trafilatura: text, title, date, author, publisher,
    canonical URL) becomes one `<host>/<hash of canonical URL>.jsonl` file under FETCHED_DIR,
    which a build reads like any article folder; a file whose article did not change is not
    rewritten, so the build embeds nothing for it. Redirects, tracking parameters and a second
    feed listing the same page give one article (keyed by canonical URL). With KEEP_DAYS set,
    older entries are not fetched and older articles are deleted.

    Returns a `FetchReport`: per feed, pages listed / fetched / new / updated / unchanged /
    duplicates / failed, one `{"url", "reason"}` per failure (DNS, connection refused, HTTP
    404/410/5xx, timeout, too large, not HTML, disallowed by robots.txt, feed not XML, entry
    without a link, no article text); `as_dict()` for `--json`, `lines()` for a summary.
    `progress(done, total)` is called as pages finish. Runs its own event loop: call it from
    a thread (or `await fetch_sources_async`) inside async code.
    """
    return asyncio.run(fetch_sources_async(settings, feeds, urls, progress))
