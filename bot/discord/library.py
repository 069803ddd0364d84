"""`/sources` (what the answers come from) and `/help`."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.answering.retrieval import parse_date
from bot.discord.render import NO_PINGS, source_pages
from bot.discord.views import SourcesPager

if TYPE_CHECKING:
    from bot.discord.client import Citebot

HELP = """\
I answer questions about a library of news articles, quoting and numbering my sources.
**Ask** with `/ask` (add `private: True` to see the answer alone) or by mentioning {mention}. \
I answer in a thread; ask follow-ups there without mentioning me.
If the articles don't say, I say so rather than guess. Rate answers with 👍/👎.
{commands}"""


class LibraryCog(commands.Cog):
    """What the library holds: `/sources`."""

    def __init__(self, bot: Citebot) -> None:
        self.bot = bot

    @app_commands.command(name="sources")
    @app_commands.guild_only()
    async def sources(self, interaction: discord.Interaction) -> None:
        """List the indexed articles that answers are drawn from, newest first."""
        await self.bot.run_guarded(interaction, self._sources(interaction))

    async def _sources(self, interaction: discord.Interaction) -> None:
        # the titles of this channel's library, shown where the bot answers, as its answers are
        library = self.bot.check_channel(interaction.channel)
        articles = await asyncio.to_thread(library.sources)
        if not articles:
            await interaction.response.send_message(
                "No articles are indexed yet: add article files and run `/reindex`.",
                ephemeral=True,
            )
            return
        # news is read newest first; undated articles last, each group in the library's order
        articles = sorted(
            articles, key=lambda a: parse_date(getattr(a, "date", "")) or date.min, reverse=True
        )
        pages = source_pages(articles)
        if len(pages) == 1:
            await interaction.response.send_message(
                pages[0], ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        pager = SourcesPager(pages, interaction.user.id)
        await interaction.response.send_message(
            pager.content(), view=pager, ephemeral=True, allowed_mentions=NO_PINGS
        )
        pager.interaction = interaction

    @app_commands.command(name="help")
    async def help(self, interaction: discord.Interaction) -> None:
        """How to ask me questions, and what each command does."""
        tree = self.bot.tree
        # global commands, and this server's own (the admin commands where they are offered)
        found = [*tree.get_commands(), *tree.get_commands(guild=interaction.guild)]
        commands_ = sorted({c.name: c for c in found}.values(), key=lambda c: c.name)
        lines = "\n".join(f"`/{c.name}` — {getattr(c, 'description', '')}" for c in commands_)
        mention = self.bot.user.mention if self.bot.user else "me"
        await interaction.response.send_message(
            HELP.format(mention=mention, commands=lines),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )


async def setup(bot: Citebot) -> None:
    """The extension's entry point: `/sources` and `/help`."""
    await bot.add_cog(LibraryCog(bot))
