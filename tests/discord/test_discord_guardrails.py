"""Where the bot answers, who administers it, and what it keeps: driven through SimCord."""

from __future__ import annotations

import logging

import discord
import pytest
from conftest import NEWSROOM_ID
from simcord import SetupError

pytestmark = [pytest.mark.asyncio, pytest.mark.simcord(settle_timeout=30)]

TRADE = "How much was trade between Russia and China last year?"


def from_bot(channel, env) -> list[discord.Message]:
    return [m for m in channel.history() if m.author.id == env.bot.user.id and not m.is_system()]


def only_thread(channel):
    (thread,) = channel.threads
    return thread


# --- private answers ------------------------------------------------------------------------


async def test_a_private_answer_in_a_thread_never_becomes_its_history(simcord_env, world, pipeline):
    await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {TRADE}")
    thread = only_thread(world.general)

    private = await world.bob.slash(thread, "ask", question=TRADE, private=True)
    await world.alice.send(thread, "And the year before?")

    assert private.ephemeral and not pipeline.answers[1].refused
    question, history = pipeline.asked[-1]
    assert question == "And the year before?"
    assert history == [(TRADE, pipeline.answers[0].text)]
    logged = simcord_env.bot.feedback.thread_history(thread.id)
    assert [q for q, _ in logged].count(TRADE) == 1


# --- admin commands -------------------------------------------------------------------------


@pytest.fixture
def elsewhere(simcord_env):
    """A second server the bot is in, not named in ADMIN_GUILDS, with its own manager."""
    guild = simcord_env.create_guild("Elsewhere")
    managers = guild.create_role("Managers", permissions=discord.Permissions(manage_guild=True))
    manager = guild.add_member(simcord_env.create_user("mallory"), roles=[managers])
    return manager, guild.create_text_channel("lobby")


async def test_reindex_is_offered_only_in_the_admin_servers(simcord_env, world, elsewhere):
    manager, lobby = elsewhere

    assert "reindex" not in manager.available_commands(lobby)
    assert "reindex" in world.admin.available_commands(world.general)
    with pytest.raises(SetupError):
        await manager.slash(lobby, "reindex")
    listed = await manager.slash(lobby, "help")
    assert "/sources" in listed.response.content and "/reindex" not in listed.response.content
    assert "/reindex" in (await world.admin.slash(world.general, "help")).response.content


@pytest.mark.bot_settings(admin_guilds=[])
async def test_without_admin_servers_reindex_is_nowhere(simcord_env, world):
    assert "reindex" not in world.admin.available_commands(world.general)
    assert sorted(c.name for c in simcord_env.bot.tree.walk_commands()) == [
        "ask",
        "help",
        "sources",
    ]


@pytest.mark.bot_settings(admin_guilds=[], discord_dev_guild=NEWSROOM_ID)
async def test_the_dev_guild_is_the_admin_server_when_none_is_named(simcord_env, world, pipeline):
    started = await world.admin.slash(world.general, "reindex")

    assert started.followups[0].content.startswith("Reindex done")
    assert pipeline.reindexed == 1


async def test_a_role_named_like_the_reindex_role_is_not_it(simcord_env, world, pipeline):
    impostors = world.guild.create_role("Librarian")
    impostor = world.guild.add_member(simcord_env.create_user("ivan"), roles=[impostors])
    simcord_env.bot.settings = simcord_env.bot.settings.model_copy(
        update={"reindex_role": str(world.librarians.id)}
    )

    refused = await impostor.slash(world.general, "reindex")
    allowed = await world.librarian.slash(world.general, "reindex")

    assert refused.ephemeral and "Manage Server" in refused.response.content
    assert not allowed.ephemeral and allowed.followups[0].content.startswith("Reindex done")
    assert pipeline.reindexed == 1


@pytest.mark.bot_settings(reindex_role="Librarian")
async def test_a_role_name_in_reindex_role_is_ignored_with_a_warning(
    simcord_env, world, pipeline, make_bot, caplog
):
    with caplog.at_level(logging.WARNING, logger="bot.discord"):
        await simcord_env.restart_bot(make_bot())

    refused = await world.librarian.slash(world.general, "reindex")

    assert refused.ephemeral and pipeline.reindexed == 0
    assert any("REINDEX_ROLE=Librarian is not a role id" in r.getMessage() for r in caplog.records)


@pytest.mark.bot_settings(reindex_role=str(NEWSROOM_ID))
async def test_a_servers_id_in_reindex_role_gives_no_member_reindex(
    simcord_env, world, pipeline, make_bot, caplog
):
    with caplog.at_level(logging.WARNING, logger="bot.discord"):
        await simcord_env.restart_bot(make_bot())

    refused = await world.alice.slash(world.general, "reindex")

    assert refused.ephemeral and "Manage Server can reindex" in refused.response.content
    assert pipeline.reindexed == 0
    assert any("is a server's id" in r.getMessage() for r in caplog.records)


# --- where it answers -----------------------------------------------------------------------


async def test_sources_is_not_offered_in_direct_messages(simcord_env, world):
    assert "sources" not in world.alice.user.available_commands()
    assert "help" in world.alice.user.available_commands()


async def test_sources_keeps_to_the_allowed_channels(simcord_env, world):
    simcord_env.bot.settings = simcord_env.bot.settings.model_copy(
        update={"allowed_channels": [world.general.id]}
    )

    refused = await world.alice.slash(world.random, "sources")
    listed = await world.alice.slash(world.general, "sources")

    assert refused.ephemeral
    assert refused.response.content == f"I only answer questions in <#{world.general.id}>."
    assert "2 indexed articles" in listed.response.content


async def test_a_thread_listed_in_the_allowed_channels_is_answered(simcord_env, world, pipeline):
    await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {TRADE}")
    thread = only_thread(world.general)
    simcord_env.bot.settings = simcord_env.bot.settings.model_copy(
        update={"allowed_channels": [thread.id]}
    )

    asked = await world.bob.slash(thread, "ask", question=TRADE)
    await world.alice.send(thread, "And the year before?")
    listed = await world.bob.slash(thread, "sources")
    refused = await world.bob.slash(world.general, "ask", question=TRADE)

    assert not asked.ephemeral and "$240 billion" in asked.response.content
    assert len(pipeline.asked) == 3 and len(from_bot(thread, simcord_env)) == 3
    assert "2 indexed articles" in listed.response.content
    assert refused.response.content == f"I only answer questions in <#{thread.id}>."


# --- small talk in the bot's threads --------------------------------------------------------


@pytest.mark.bot_settings(rate_limit_per_minute=2)
async def test_small_talk_in_a_thread_gets_no_answer_and_costs_no_question(
    simcord_env, world, pipeline
):
    await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {TRADE}")
    thread = only_thread(world.general)

    thanks = await world.alice.send(thread, "thanks, that's great!")
    for chatter in ("lol", "ok", "👍🎉", "haha nice one"):
        await world.alice.send(thread, chatter)
    assert len(pipeline.asked) == 1 and len(from_bot(thread, simcord_env)) == 1

    await world.alice.send(thread, "And the year before")  # no "?", but it goes on asking
    assert len(pipeline.asked) == 2 and len(from_bot(thread, simcord_env)) == 2

    reactions = simcord_env.backend.get_message(thread.id, thanks.id).reactions
    assert [(str(r.emoji), list(r.user_ids)) for r in reactions] == [
        ("👍", [simcord_env.bot.user.id])
    ]


async def test_a_mention_always_asks(simcord_env, world, pipeline):
    await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {TRADE}")
    thread = only_thread(world.general)

    await world.alice.send(thread, f"{simcord_env.bot.user.mention} lol")

    assert len(pipeline.asked) == 2


# --- the coverage report -------------------------------------------------------------------


async def test_report_is_for_admins_only_ephemeral_and_shows_no_private_text(
    simcord_env, world, elsewhere
):
    await world.alice.slash(world.general, "ask", question="Who won the 1998 world cup?")
    await world.bob.slash(
        world.general, "ask", question="Which pasta does my aunt cook?", private=True
    )
    manager, lobby = elsewhere

    refused = await world.alice.slash(world.general, "report")
    shown = await world.admin.slash(world.general, "report", days=7)

    assert "report" not in manager.available_commands(lobby)
    assert refused.ephemeral and "Manage Server" in refused.response.content
    assert shown.ephemeral
    (text,) = [m.content for m in [shown.response, *shown.followups] if "Coverage" in m.content]
    assert "2 questions: 0 answered" in text and "1998 world cup" in text
    assert "pasta" not in text and "1 private questions, not shown" in text
    assert len(text) <= 2000
