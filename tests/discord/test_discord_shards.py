"""The sharded bot (`DISCORD_SHARDS`): the same behaviour on every shard, driven through SimCord."""

from __future__ import annotations

import pytest

from bot.discord.client import Citebot, ShardedCitebot
from bot.serving.feedback import FeedbackLog
from tests.conftest import shelf
from tests.discord.conftest import new_bot

pytestmark = [pytest.mark.asyncio, pytest.mark.simcord(settle_timeout=30)]

TRADE = "How much was trade between Russia and China last year?"
SHARDS = 2


@pytest.fixture
def simcord_bot(bot_settings, pipeline):
    settings = bot_settings.model_copy(update={"discord_shards": SHARDS})
    return new_bot(settings, shelf(settings, pipeline), FeedbackLog(settings.feedback_db))


async def test_unsharded_by_default(bot_settings, pipeline):
    bot = new_bot(
        bot_settings, shelf(bot_settings, pipeline), FeedbackLog(bot_settings.feedback_db)
    )
    assert type(bot) is Citebot


async def test_every_shard_answers_mentions_and_slash_commands(simcord_env):
    bot = simcord_env.bot
    assert isinstance(bot, ShardedCitebot) and bot.shard_count == SHARDS
    for shard in range(SHARDS):
        guild = simcord_env.create_guild(f"Newsroom {shard}", shard_id=shard)
        assert (guild.id >> 22) % SHARDS == shard
        general = guild.create_text_channel("general")
        member = guild.add_member(simcord_env.create_user(f"reader{shard}"))

        question = await member.send(general, f"{bot.user.mention} {TRADE}")
        (thread,) = general.threads
        assert thread.id == question.id
        answers = [m for m in thread.history() if m.author.id == bot.user.id and not m.is_system()]
        assert len(answers) == 1 and "$240 billion" in answers[0].content

        result = await member.slash(general, "ask", question=TRADE, private=True)
        assert result.ephemeral
        assert bot.get_guild(guild.id).shard_id == shard
