"""Which library answers where: each configured library opened with its own pipeline and
conversation core, and `route` from a place (server, channel, thread's channel) to one of them.

Platform-neutral: a front end passes the ids of where a question was asked. What the libraries
are is `index.library_config` (`libraries.toml`, or the one implicit library).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot.serving.conversation import AnswerLog, AnswerSource, ConversationService
from bot.serving.ratelimit import RateLimiter
from index.build.embeddings import Embedder
from index.library_config import LibraryConfig
from index.settings import AnsweringSettings, IndexSettings

if TYPE_CHECKING:
    from index.build.builder import BuildReport


class LibraryPipeline(AnswerSource, Protocol):
    """What a library needs from `bot.answering.pipeline.Pipeline`; every method blocks."""

    # the library's embedding model: the coverage report groups refused questions with it
    embedder: Embedder

    def sources(self) -> list[Any]:
        """The indexed articles."""

    def reindex(self, sources: Sequence[Path] | None = None) -> BuildReport:
        """Build incrementally from `sources`, then answer from the new index; the report."""


@dataclass
class Library:
    """One library, open: what it answers from and where, and its own conversation core."""

    config: LibraryConfig
    pipeline: LibraryPipeline
    conversations: ConversationService

    @property
    def name(self) -> str:
        """The library's name, as `libraries.toml` gives it."""
        return self.config.name

    @property
    def guilds(self) -> frozenset[int]:
        """The servers this library answers in."""
        return self.config.guilds

    @property
    def channels(self) -> frozenset[int]:
        """The channels this library answers in."""
        return self.config.channels

    def sources(self) -> list[Any]:
        """Its indexed articles (blocking)."""
        return self.pipeline.sources()

    def reindex(self) -> BuildReport:
        """Rebuild this library's index alone from its folders and what its feeds fetched,
        then answer from it (blocking)."""
        from index.ingest.feeds import build_roots

        config = self.config
        return self.pipeline.reindex(build_roots(config.index, config.fetching, config.folders))


class Libraries:
    """The open libraries, in the order configured; `route` says which answers where."""

    def __init__(self, libraries: Sequence[Library]) -> None:
        self._all = list(libraries)
        self._by_channel = {c: lib for lib in self._all for c in lib.channels}
        self._by_guild = {g: lib for lib in self._all for g in lib.guilds}
        self.default = next((lib for lib in self._all if lib.config.is_default), None)

    @classmethod
    def open(
        cls,
        shelf: Sequence[tuple[LibraryConfig, LibraryPipeline]],
        log: AnswerLog,
        *,
        max_question_chars: int,
        rate_limit_per_minute: int | None,
    ) -> Libraries:
        """A conversation core per library, all sharing one answer log and one rate limit (a
        user's questions count together, whichever library they ask)."""
        limiter = RateLimiter(rate_limit_per_minute) if rate_limit_per_minute else None
        return cls(
            [
                Library(
                    config,
                    pipeline,
                    ConversationService(
                        pipeline,
                        log,
                        max_question_chars=max_question_chars,
                        rate_limiter=limiter,
                        library=config.name,
                    ),
                )
                for config, pipeline in shelf
            ]
        )

    def __iter__(self) -> Iterator[Library]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    @property
    def channels(self) -> frozenset[int]:
        """Every channel some library names."""
        return frozenset(self._by_channel)

    def route(
        self, guild_id: Hashable | None, channel_id: Hashable | None, parent_id: Hashable = None
    ) -> Library | None:
        """The library answering in a channel (or a thread, by its `parent_id` channel): the one
        naming the channel, else the one naming the server, else the default; None: none does."""
        for channel in (channel_id, parent_id):
            if channel is not None and channel in self._by_channel:
                return self._by_channel[channel]
        if guild_id is not None and guild_id in self._by_guild:
            return self._by_guild[guild_id]
        return self.default

    def close(self) -> None:
        """Close every library's conversation core."""
        for library in self._all:
            library.conversations.close()


def open_pipelines(
    configs: Sequence[LibraryConfig],
    answering: AnsweringSettings,
    embedder: Embedder | None = None,
    build: Callable[[IndexSettings, AnsweringSettings, Embedder], LibraryPipeline] | None = None,
) -> list[tuple[LibraryConfig, LibraryPipeline]]:
    """Every configured library with its pipeline, all answering alike and sharing one
    embedding model (libraries differ in their index, never in its model).

    `IndexNotBuiltError` names the first library whose index is not built.
    """
    from bot.answering.pipeline import build_pipeline, load_default_embedder

    embedder = embedder or load_default_embedder(configs[0].index)
    build = build or build_pipeline
    return [(config, build(config.index, answering, embedder)) for config in configs]
