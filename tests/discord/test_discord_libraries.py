"""Two libraries in one bot, driven through SimCord: each channel answers from its own."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
import pytest_asyncio

from bot.discord.client import Citebot
from bot.serving.feedback import FeedbackLog
from bot.serving.libraries import open_pipelines
from index.build.builder import build_index, index_stats
from index.settings import Settings
from tests.conftest import libraries_of, make_settings
from tests.discord.conftest import NEWSROOM_ID, Spy, new_bot

pytestmark = [pytest.mark.asyncio, pytest.mark.simcord(settle_timeout=30)]

LIBRARIES_DATA = Path(__file__).resolve().parent.parent / "data" / "libraries"
FERRY = "How large is the ferry budget that the Lakeside harbor council approved?"
NIMBUS = "What does the Nimbus-7 weather satellite measure?"
POLITICS_TITLES = ("Lakeside Harbor Council", "Governor Signs School Lunch Bill")
TECH_TITLES = ("Orbital Labs Launches Nimbus-7", "Chipmaker Opens Factory")


@dataclass
class Shelf:
    """The bot's two libraries: politics answers in #general, tech in #random, none elsewhere."""

    bot: Citebot
    settings: Settings
    politics: Spy
    tech: Spy
    folders: Path


def from_bot(channel, env) -> list[discord.Message]:
    return [m for m in channel.history() if m.author.id == env.bot.user.id and not m.is_system()]


def generation(settings: Settings, name: str) -> str:
    (library,) = [lib for lib in libraries_of(settings) if lib.name == name]
    return index_stats(library.index)["generation"]


@pytest_asyncio.fixture
async def shelf(simcord_env, world, tmp_path: Path, model_cache: Path, embedder) -> Shelf:
    """A bot restarted over a libraries file that names the test server's two channels."""
    for name in ("politics", "tech"):
        shutil.copytree(LIBRARIES_DATA / name, tmp_path / name)
    (tmp_path / "libraries.toml").write_text(
        f'[[library]]\nname = "politics"\narticles = ["politics"]\n'
        f"channels = [{world.general.id}]\n\n"
        f'[[library]]\nname = "tech"\narticles = ["tech"]\nchannels = [{world.random.id}]\n',
        encoding="utf-8",
    )
    settings = make_settings(
        tmp_path,
        model_cache,
        LIBRARIES_FILE=tmp_path / "libraries.toml",
        ADMIN_GUILDS=[NEWSROOM_ID],
        RATE_LIMIT_PER_MINUTE=2,
    )
    for library in libraries_of(settings):
        build_index(library.index, embedder, library.folders)
    spied = [
        (config, Spy(pipeline))
        for config, pipeline in open_pipelines(libraries_of(settings), settings.answering, embedder)
    ]
    bot = new_bot(settings, spied, FeedbackLog.from_settings(settings.discord))
    await simcord_env.restart_bot(bot)
    return Shelf(bot, settings, spied[0][1], spied[1][1], tmp_path)


def cited_titles(spy: Spy) -> set[str]:
    return {c.title for answer in spy.answers for c in answer.citations}


async def test_a_question_is_answered_from_the_library_of_its_channel(simcord_env, world, shelf):
    await world.alice.slash(world.general, "ask", question=FERRY)

    (thread,) = world.general.threads
    (answer,) = from_bot(thread, simcord_env)
    assert "$12 million" in answer.content
    assert shelf.tech.asked == []
    titles = cited_titles(shelf.politics)
    assert titles and all(t.startswith(POLITICS_TITLES) for t in titles)


async def test_the_same_question_in_the_other_channel_is_not_answered_from_the_first(
    simcord_env, world, shelf
):
    await world.alice.slash(world.random, "ask", question=FERRY)

    (thread,) = world.random.threads
    (answer,) = from_bot(thread, simcord_env)
    assert "$12 million" not in answer.content
    assert shelf.politics.asked == [] and [q for q, _ in shelf.tech.asked] == [FERRY]
    assert all(t.startswith(TECH_TITLES) for t in cited_titles(shelf.tech))


async def test_a_follow_up_in_a_thread_stays_in_its_library(simcord_env, world, shelf):
    await world.alice.send(world.random, f"{simcord_env.bot.user.mention} {NIMBUS}")
    (thread,) = world.random.threads

    await world.bob.send(thread, FERRY)

    assert len(from_bot(thread, simcord_env)) == 2
    assert shelf.politics.asked == []
    assert [q for q, _ in shelf.tech.asked] == [NIMBUS, FERRY]
    assert "$12 million" not in from_bot(thread, simcord_env)[-1].content


async def test_sources_lists_only_the_library_of_the_channel(simcord_env, world, shelf):
    result = await world.alice.slash(world.random, "sources")

    assert "2 indexed articles" in result.response.content
    assert all(t in result.response.content for t in TECH_TITLES)
    assert not any(t in result.response.content for t in POLITICS_TITLES)


async def test_reindex_rebuilds_only_the_library_of_the_channel(simcord_env, world, shelf):
    before = {name: generation(shelf.settings, name) for name in ("politics", "tech")}
    extra = shelf.folders / "politics" / "bridge.md"
    extra.write_text("# Bridge Repairs Delayed\n\nThe harbor bridge repairs were delayed.\n")

    started = await world.admin.slash(world.general, "reindex")

    (summary,) = started.followups
    assert summary.content.startswith("Reindex done: 3 articles")
    assert "politics library" in started.response.content
    assert (shelf.politics.reindexed, shelf.tech.reindexed) == (1, 0)
    assert generation(shelf.settings, "politics") != before["politics"]
    assert generation(shelf.settings, "tech") == before["tech"]


async def test_a_channel_no_library_names_is_told_where_to_ask(simcord_env, world, shelf):
    lobby = world.guild.create_text_channel("lobby")

    refused = await world.alice.slash(lobby, "ask", question=FERRY)
    await world.alice.send(lobby, f"{simcord_env.bot.user.mention} {FERRY}")

    assert refused.ephemeral
    assert refused.response.content == (
        "No library of articles is set up for this channel; "
        f"ask in <#{world.general.id}>, <#{world.random.id}>."
    )
    assert from_bot(lobby, simcord_env) == [] and lobby.threads == []
    assert shelf.politics.asked == shelf.tech.asked == []


async def test_a_users_rate_limit_counts_questions_to_every_library(simcord_env, world, shelf):
    for _ in range(shelf.settings.rate_limit_per_minute):
        await world.alice.slash(world.general, "ask", question=FERRY, private=True)

    limited = await world.alice.slash(world.random, "ask", question=NIMBUS, private=True)

    assert limited.ephemeral and "questions a minute" in limited.response.content
    assert shelf.tech.asked == []
