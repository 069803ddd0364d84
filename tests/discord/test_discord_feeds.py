"""News feeds in the Discord bot: /reindex fetches, answers cite the page, refreshes announce."""

from __future__ import annotations

import asyncio
import time

import discord
import pytest

from index.build.builder import build_index
from index.ingest.feeds import build_roots, fetch_sources
from tests.conftest import feed_settings
from tests.discord.conftest import NEWSROOM_ID, Spy
from tests.newsite import BRIDGE_PAGE, LIVE_FEED, STORM_PAGE, STORM_QUESTION, rss_feed

pytestmark = [pytest.mark.asyncio, pytest.mark.simcord(settle_timeout=60)]

MARKET_PAGE = "/news/christmas-market.html"


@pytest.fixture
def site(live_site):
    return live_site


@pytest.fixture
def bot_settings(request, tmp_path, model_cache, site, embedder):
    """A library fed by one live feed alone (an empty article folder: a missing ARTICLES_DIR
    that was set is a typo to the build), built before the bot starts; a `bot_settings` marker
    adds settings (by their names in .env)."""
    (tmp_path / "articles").mkdir()
    marker = request.node.get_closest_marker("bot_settings")
    overrides = marker.kwargs if marker else {}
    settings = feed_settings(
        tmp_path, model_cache, site, ADMIN_GUILDS=str(NEWSROOM_ID), **overrides
    )
    fetch_sources(settings.fetching)
    build_index(settings.index, embedder, build_roots(settings.index, settings.fetching))
    return settings


@pytest.fixture
def pipeline(bot_settings, embedder):
    from bot.answering.pipeline import build_pipeline

    return Spy(build_pipeline(bot_settings.index, bot_settings.answering, embedder))


def from_bot(channel, env) -> list[discord.Message]:
    return [m for m in channel.history() if m.author.id == env.bot.user.id and not m.is_system()]


async def test_a_new_feed_item_is_cited_with_its_page_url_after_reindex(simcord_env, world, site):
    site.overrides[LIVE_FEED] = rss_feed(BRIDGE_PAGE, STORM_PAGE)

    started = await world.admin.slash(world.general, "reindex")
    (summary,) = started.followups
    assert "Feeds: 1 new, 0 updated, 1 unchanged, 0 failed." in summary.content

    await world.alice.slash(world.general, "ask", question=STORM_QUESTION)
    (thread,) = world.general.threads
    (answer,) = from_bot(thread, simcord_env)
    assert f"(<{site.url(STORM_PAGE)}>)" in answer.content
    assert "110 kilometres per hour" in answer.content


async def test_a_refresh_that_added_articles_is_announced(simcord_env, world, site):
    bot = simcord_env.bot
    bot.settings = bot.settings.model_copy(update={"announce_channel": world.random.id})
    (library,) = bot.libraries

    await bot.refresher.refresh_scheduled(library)  # nothing new: nothing said
    site.overrides[LIVE_FEED] = rss_feed(BRIDGE_PAGE, STORM_PAGE)
    await bot.refresher.refresh_scheduled(library)

    (said,) = from_bot(world.random, simcord_env)
    assert said.content.startswith("1 new article from the feeds; 2 articles")


async def test_sources_lists_the_newest_first_with_their_dates(simcord_env, world, site):
    site.overrides[LIVE_FEED] = rss_feed(BRIDGE_PAGE, MARKET_PAGE, STORM_PAGE)
    (library,) = simcord_env.bot.libraries
    await simcord_env.bot.refresher.refresh(library)

    listed = await world.alice.slash(world.general, "sources")

    lines = listed.response.content.splitlines()[1:]
    assert [line.rsplit(" · ", 2)[1] for line in lines] == [
        "2026-11-26",  # storm warning
        "2026-11-24",  # christmas market
        "2026-11-20",  # harbour bridge
    ]


@pytest.mark.bot_settings(REFRESH_MINUTES=0.5)
async def test_the_running_bot_refreshes_on_its_schedule(simcord_env, world, site):
    refresher = simcord_env.bot.refresher
    site.overrides[LIVE_FEED] = rss_feed(BRIDGE_PAGE, STORM_PAGE)

    await simcord_env.advance_time(31)
    for _ in range(600):  # the refresh fetches and builds in real time
        if refresher.rounds:
            break
        await asyncio.to_thread(time.sleep, 0.1)

    assert refresher.rounds == 1
    await world.alice.slash(world.general, "ask", question=STORM_QUESTION)
    (thread,) = world.general.threads
    (answer,) = from_bot(thread, simcord_env)
    assert f"(<{site.url(STORM_PAGE)}>)" in answer.content
