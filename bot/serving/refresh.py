"""Keeping a running bot's libraries current: fetch the feeds, build incrementally, switch.

Platform-neutral: a front end makes one `Refresher` over its libraries, starts `run` when
REFRESH_MINUTES is set, and routes its on-demand reindex through `refresh`, so that a
scheduled refresh and a reindex of one library never overlap in this process. Builds in
other processes (`citebot-index build`, another host) are kept apart by the store's build
lease: a scheduled round that meets it is skipped and logged. Whatever fails, the live index
stays as it was and answers go on; only a build that completes switches it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from index.errors import BuildConflictError, CitebotError
from index.ingest.feeds import build_roots, fetch_sources_async
from index.library_config import LibraryConfig
from index.settings import FeedSettings

if TYPE_CHECKING:
    from index.build.builder import BuildReport

log = logging.getLogger(__name__)

Fetch = Callable[[FeedSettings], Awaitable[Any]]  # settings -> a FetchReport
Announce = Callable[[str], Awaitable[None]]


class RefreshingLibrary(Protocol):
    """What a refresh needs of `bot.serving.libraries.Library`."""

    config: LibraryConfig
    pipeline: Any  # `reindex(sources) -> BuildReport`, blocking

    @property
    def name(self) -> str:
        """The library's name."""


class RefreshBusyError(CitebotError):
    """A refresh or reindex of this library is already running in this bot."""


@dataclass(frozen=True)
class RefreshResult:
    """What one refresh of a library did: its fetch report (None: no feeds) and build report."""

    library: str
    fetch: dict[str, Any] | None
    build: BuildReport

    @property
    def added(self) -> int:
        """Articles the fetch found for the first time (now indexed)."""
        return int((self.fetch or {}).get("totals", {}).get("new", 0))

    def summary(self, named: bool = True) -> str:
        """One line for people: what came in, and what the library now holds."""
        b = self.build
        where = f"{self.library}: " if named else ""
        return (
            f"{where}{self.added} new article{'s' if self.added != 1 else ''} from the feeds; "
            f"{b.articles} articles, {b.chunks} passages indexed."
        )


async def fetch_quietly(settings: FeedSettings) -> dict[str, Any] | None:
    """The library's feeds fetched into its FETCHED_DIR: the report's dict, None without feeds,
    `{"error": ...}` when the fetch itself failed (the build then uses what is on disk)."""
    if not settings.feeds:
        return None
    try:
        return (await fetch_sources_async(settings)).as_dict()
    except Exception as exc:  # e.g. FETCHED_DIR unwritable: what was fetched before still counts
        log.warning("fetching the feeds failed: %s", exc, exc_info=not isinstance(exc, OSError))
        return {"error": str(exc) or type(exc).__name__}


class Refresher:
    """Fetch → incremental build (in a thread) → switch, one at a time per library."""

    def __init__(
        self,
        libraries: Iterable[RefreshingLibrary],
        *,
        announce: Announce | None = None,
        fetch: Callable[[FeedSettings], Awaitable[dict[str, Any] | None]] = fetch_quietly,
    ) -> None:
        self.libraries = list(libraries)
        self.announce = announce
        self._fetch = fetch
        self._locks = {lib.name: asyncio.Lock() for lib in self.libraries}
        self.rounds = 0  # scheduled rounds completed, for whoever watches the schedule

    def busy(self, library: RefreshingLibrary) -> bool:
        """Whether a refresh or reindex of this library is running."""
        return self._locks[library.name].locked()

    async def refresh(self, library: RefreshingLibrary) -> RefreshResult:
        """Fetch the library's feeds, build its folders and fetched articles, answer from them.

        `RefreshBusyError` when one is running here already; the build's own errors
        (`BuildConflictError` when another process holds the build lease) leave the live index.
        """
        lock = self._locks[library.name]
        if lock.locked():
            raise RefreshBusyError(f"a refresh of the {library.name} library is already running")
        async with lock:
            config = library.config
            fetched = await self._fetch(config.fetching)
            roots = build_roots(config.index, config.fetching, config.folders)
            build = await asyncio.to_thread(library.pipeline.reindex, roots)
        result = RefreshResult(library.name, fetched, build)
        log.info("refreshed %s", result.summary())
        if result.added and self.announce is not None:
            try:
                await self.announce(result.summary(named=len(self.libraries) > 1))
            except Exception:  # the announcement is a courtesy: the refresh itself succeeded
                log.warning("could not announce the refresh of %s", library.name, exc_info=True)
        return result

    async def refresh_scheduled(self, library: RefreshingLibrary) -> RefreshResult | None:
        """One scheduled refresh: a busy library is skipped, a failure logged; never raises."""
        try:
            return await self.refresh(library)
        except (RefreshBusyError, BuildConflictError) as exc:
            log.info("scheduled refresh of %s skipped this round: %s", library.name, exc)
        except CitebotError as exc:
            log.warning(
                "scheduled refresh of %s failed, still answering from the live index: %s",
                library.name,
                exc,
            )
        except Exception:
            log.exception(
                "scheduled refresh of %s failed, still answering from the live index",
                library.name,
            )
        return None

    async def refresh_all(self) -> list[RefreshResult | None]:
        """Every library in turn (one build at a time keeps the CPU for answers)."""
        return [await self.refresh_scheduled(lib) for lib in self.libraries]

    async def run(self, minutes: float) -> None:
        """Refresh every `minutes` until cancelled; the first round after one interval (the
        main job fetched and built just before the bot started)."""
        log.info("refreshing the libraries every %g minutes", minutes)
        while True:
            await asyncio.sleep(minutes * 60)
            await self.refresh_all()
            self.rounds += 1
