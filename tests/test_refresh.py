"""The running bot's refresh (bot.serving.refresh): fetch, incremental build, switch, scheduled."""

from __future__ import annotations

import asyncio
import logging
import shutil

import pytest

from bot.answering.pipeline import build_pipeline
from bot.serving.conversation import MemoryLog
from bot.serving.libraries import Libraries
from bot.serving.refresh import RefreshBusyError, Refresher
from index.build.builder import build_index
from index.ingest.feeds import build_roots, fetch_sources
from index.library_config import implicit_library
from index.settings import Settings
from index.store import acquire_lease, live_generation, make_client
from tests.conftest import SAMPLE_DIR, feed_settings
from tests.newsite import BRIDGE_PAGE, LIVE_FEED, STORM_PAGE, STORM_QUESTION, rss_feed

pytestmark = pytest.mark.asyncio

TRADE = "How much was trade between Russia and China last year?"


@pytest.fixture
def site(live_site):
    return live_site


@pytest.fixture
def settings(tmp_path, model_cache, site) -> Settings:
    """A library of the sample articles and a live feed, built once before the bot starts."""
    shutil.copytree(SAMPLE_DIR, tmp_path / "articles")
    return feed_settings(tmp_path, model_cache, site)


@pytest.fixture
def library(settings, embedder):
    fetch_sources(settings.fetching)
    build_index(settings.index, embedder, build_roots(settings.index, settings.fetching))
    libraries = Libraries.open(
        [
            (
                implicit_library(settings.index, settings.fetching),
                build_pipeline(settings.index, settings.answering, embedder),
            )
        ],
        MemoryLog(),
        max_question_chars=2000,
        rate_limit_per_minute=None,
    )
    yield next(iter(libraries))
    libraries.close()


def cited_urls(library, question: str) -> set[str]:
    return {c.url for c in library.pipeline.ask(question).citations}


def add_storm_item(site) -> None:
    site.overrides[LIVE_FEED] = rss_feed(BRIDGE_PAGE, STORM_PAGE)


async def test_refresh_picks_up_a_new_feed_item_without_a_restart(library, site):
    assert site.url(STORM_PAGE) not in cited_urls(library, STORM_QUESTION)
    add_storm_item(site)

    result = await Refresher([library]).refresh(library)

    assert result.added == 1 and result.build["switched"]
    assert site.url(STORM_PAGE) in cited_urls(library, STORM_QUESTION)


async def test_the_schedule_refreshes_every_interval(library, site, settings):
    minutes = Settings(_env_file=None, REFRESH_MINUTES="0.005").refresh_minutes  # 0.3 s
    refresher = Refresher([library])
    add_storm_item(site)

    task = asyncio.create_task(refresher.run(minutes))
    try:
        async with asyncio.timeout(120):
            while refresher.rounds < 1:
                await asyncio.sleep(0.1)
    finally:
        task.cancel()

    assert site.url(STORM_PAGE) in cited_urls(library, STORM_QUESTION)


async def test_answers_keep_coming_while_a_refresh_runs(library, site):
    add_storm_item(site)
    site.latency = 2.0  # each page takes 2 s: the refresh is still fetching meanwhile
    refresh = asyncio.create_task(Refresher([library]).refresh(library))
    answered_meanwhile = 0

    while not refresh.done():
        answer = await asyncio.to_thread(library.pipeline.ask, TRADE)
        assert answer.citations
        answered_meanwhile += not refresh.done()

    assert (await refresh).added == 1
    assert answered_meanwhile >= 2


async def test_refresh_while_a_build_holds_the_lease_is_skipped_and_logged(
    library, site, settings, caplog
):
    add_storm_item(site)
    live = live_generation(settings.index)
    lease = acquire_lease(make_client(settings.index), settings.collection)
    try:
        with caplog.at_level(logging.INFO, logger="bot.serving.refresh"):
            result = await Refresher([library]).refresh_scheduled(library)
    finally:
        lease.release()

    assert result is None
    assert "skipped this round" in caplog.text and "another build" in caplog.text
    assert live_generation(settings.index) == live
    assert cited_urls(library, TRADE)  # still answering from the live index


async def test_a_failed_refresh_keeps_the_live_index_and_logs_why(library, site, settings, caplog):
    live = live_generation(settings.index)
    site.overrides[LIVE_FEED] = rss_feed()
    shutil.rmtree(settings.articles_dir)
    shutil.rmtree(settings.fetched_dir)
    settings.articles_dir.mkdir()  # an empty library: the build refuses to switch to it

    with caplog.at_level(logging.WARNING, logger="bot.serving.refresh"):
        result = await Refresher([library]).refresh_scheduled(library)

    assert result is None
    assert "still answering from the live index" in caplog.text
    assert "no articles found" in caplog.text
    assert live_generation(settings.index) == live and cited_urls(library, TRADE)


async def test_two_refreshes_of_a_library_never_overlap(library, site):
    site.latency = 0.5
    refresher = Refresher([library])
    first = asyncio.create_task(refresher.refresh(library))
    await asyncio.sleep(0.1)

    with pytest.raises(RefreshBusyError):
        await refresher.refresh(library)
    assert await refresher.refresh_scheduled(library) is None
    await first


async def test_a_refresh_that_added_articles_is_announced_in_one_line(library, site):
    said: list[str] = []

    async def announce(text: str) -> None:
        said.append(text)

    refresher = Refresher([library], announce=announce)
    await refresher.refresh(library)  # nothing new
    add_storm_item(site)
    await refresher.refresh(library)

    assert len(said) == 1 and "\n" not in said[0]
    assert said[0].startswith("1 new article from the feeds; 4 articles")
