"""Asking: `/ask`, @mentions, and follow-ups inside the bot's own threads."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import escape_markdown

from bot.answering.answer import Answer
from bot.discord.chatter import asks_something, thanks
from bot.discord.render import NO_PINGS, render_answer, shorten, thread_name
from bot.discord.views import VoteButton, vote_view
from bot.serving.conversation import ConversationService
from bot.serving.ratelimit import RateLimitedError, RateLimiter

if TYPE_CHECKING:
    from bot.discord.client import Citebot

log = logging.getLogger(__name__)

# the header left in the channel above a /ask thread: the question, shortened
HEADER_LIMIT = 1900


class AskCog(commands.Cog):
    """Every way of asking is admitted and answered by the conversation core, then `_deliver`."""

    def __init__(self, bot: Citebot) -> None:
        self.bot = bot
        # 👍 for thanks costs an API call too: no more of them per user than questions
        self._reactions = RateLimiter(bot.settings.rate_limit_per_minute)

    @app_commands.command(name="ask")
    @app_commands.describe(
        question="What you want to know about the articles",
        private="Only you see the answer (default: everyone in the channel)",
    )
    @app_commands.guild_only()
    async def ask(
        self, interaction: discord.Interaction, question: str, private: bool = False
    ) -> None:
        """Ask about the articles; the answer quotes and cites them."""
        await self.bot.run_guarded(interaction, self._ask_slash(interaction, question, private))

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A question in a message that mentions the bot, or in one of its threads."""
        question = self._addressed(message)
        if question is None:
            return
        me = self.bot.user  # set: `_addressed` answers None before the bot is logged in
        if (me is None or me.id not in message.raw_mentions) and not asks_something(question):
            # small talk in the bot's thread: no answer, and not counted against the limit
            if thanks(question):
                await self._acknowledge(message)
            return
        await self.bot.run_guarded(message, self._ask_message(message, question))

    async def _acknowledge(self, message: discord.Message) -> None:
        try:
            self._reactions.hit(message.author.id)
            await message.add_reaction("👍")
        except (RateLimitedError, discord.HTTPException) as error:  # e.g. no Add Reactions
            log.debug("no 👍 for message %s: %s", message.id, error)

    def _addressed(self, message: discord.Message) -> str | None:
        """The text if the message is for the bot: a mention, or any message in its threads."""
        me = self.bot.user
        if (
            me is None
            or message.author.bot
            or message.guild is None
            or message.type not in (discord.MessageType.default, discord.MessageType.reply)
        ):
            return None
        channel = message.channel
        own_thread = isinstance(channel, discord.Thread) and channel.owner_id == me.id
        if me.id not in message.raw_mentions and not own_thread:
            return None
        if not self.bot.channel_allowed(channel):
            return None
        return re.sub(rf"<@!?{me.id}>", " ", message.content).strip()

    async def _ask_slash(
        self, interaction: discord.Interaction, question: str, private: bool
    ) -> None:
        # the channel's library; guardrails before any work (and before "thinking…", so
        # refusals stay private)
        chat = self.bot.check_channel(interaction.channel).conversations
        asked = chat.admit(interaction.user.id, question)
        await interaction.response.defer(ephemeral=private, thinking=True)
        channel = interaction.channel
        thread_id = channel.id if isinstance(channel, discord.Thread) else None
        followup = partial(
            interaction.followup.send, ephemeral=private, allowed_mentions=NO_PINGS, wait=True
        )
        answer = await chat.answer(asked, thread_id)
        if private or thread_id or not isinstance(channel, discord.TextChannel):
            await self._deliver(chat, followup, answer, thread_id, private)
            return
        # the question stays in the channel; the answer and its follow-ups go in a thread on it
        await interaction.edit_original_response(
            content=f"> {escape_markdown(shorten(question, HEADER_LIMIT))}",
            allowed_mentions=NO_PINGS,
        )
        thread = await _open_thread(await interaction.original_response(), question)
        if thread is None:
            await self._deliver(chat, followup, answer, None)
        else:
            send = partial(thread.send, allowed_mentions=NO_PINGS)
            await self._deliver(chat, send, answer, thread.id)

    async def _ask_message(self, message: discord.Message, question: str) -> None:
        channel = message.channel
        # a thread is answered by its channel's library, so a follow-up stays in it
        chat = self.bot.library_here(channel).conversations
        asked = chat.admit(message.author.id, question)
        thread = channel if isinstance(channel, discord.Thread) else None
        async with channel.typing():
            answer = await chat.answer(asked, thread.id if thread else None)
        if thread is None:
            thread = await _open_thread(message, question)
        if thread is None:
            send = partial(message.reply, mention_author=False, allowed_mentions=NO_PINGS)
            await self._deliver(chat, send, answer, None)
        else:
            send = partial(thread.send, allowed_mentions=NO_PINGS)
            await self._deliver(chat, send, answer, thread.id)

    async def _deliver(
        self,
        chat: ConversationService,
        send: Callable[..., Awaitable[Any]],
        answer: Answer,
        thread_id: int | None,
        private: bool = False,
    ) -> None:
        """Log the answer, then send its messages; the last one carries the vote buttons.

        A private answer is logged outside the thread: it never becomes others' history.
        """
        answer_id = await chat.record(answer, thread_id, private)
        parts = render_answer(answer)
        # article urls are shown as links, never previewed (an answer must not look like an ad)
        for i, part in enumerate(parts):
            if i == len(parts) - 1:
                await send(part, view=vote_view(answer_id), suppress_embeds=True)
            else:
                await send(part, suppress_embeds=True)


async def _open_thread(message: discord.Message, question: str) -> discord.Thread | None:
    """A public thread on the question, or None where the bot may not open one."""
    try:
        return await message.create_thread(name=thread_name(question))
    except discord.HTTPException as error:
        log.warning("could not open a thread in channel %s: %s", message.channel.id, error)
        return None


async def setup(bot: Citebot) -> None:
    """The extension's entry point: asking, and the vote buttons its answers carry (which work
    after a restart too)."""
    bot.add_dynamic_items(VoteButton)
    await bot.add_cog(AskCog(bot))
