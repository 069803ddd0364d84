"""`/reindex`: the incremental index build, in the background, for server managers."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.render import NO_PINGS, reindex_summary
from index.errors import CitebotError

if TYPE_CHECKING:
    from bot.discord.app import Citebot

log = logging.getLogger(__name__)


class NotAllowedError(CitebotError):
    """The member may not run this command."""


class AdminCog(commands.Cog):
    def __init__(self, bot: Citebot) -> None:
        self.bot = bot
        self._running: asyncio.Task[None] | None = None

    async def cog_unload(self) -> None:
        if self._running is not None:
            self._running.cancel()

    @app_commands.command(name="reindex")
    @app_commands.guild_only()
    async def reindex(self, interaction: discord.Interaction) -> None:
        """Re-read the article files and update the index (Manage Server or the reindex role)."""
        await self.bot.run_guarded(interaction, self._start(interaction))

    def may_reindex(self, interaction: discord.Interaction) -> bool:
        """Manage Server, or the role named by REINDEX_ROLE."""
        if interaction.permissions.manage_guild:
            return True
        role = self.bot.settings.reindex_role
        roles = getattr(interaction.user, "roles", [])
        return role is not None and any(r.name == role for r in roles)

    async def _start(self, interaction: discord.Interaction) -> None:
        if not self.may_reindex(interaction):
            role = self.bot.settings.reindex_role
            raise NotAllowedError(
                "Only members with Manage Server"
                + (f" or the “{role}” role" if role else "")
                + " can reindex."
            )
        if self._running is not None and not self._running.done():
            raise NotAllowedError("A reindex is already running; its summary will follow here.")
        await interaction.response.send_message(
            "Reindexing the articles in the background; I keep answering meanwhile and will "
            "post a summary here.",
            allowed_mentions=NO_PINGS,
        )
        self._running = asyncio.create_task(
            self.bot.run_guarded(interaction, self._reindex(interaction))
        )

    async def _reindex(self, interaction: discord.Interaction) -> None:
        report = await asyncio.to_thread(self.bot.pipeline.reindex)
        log.info("reindex done: %s", report)
        summary = reindex_summary(report)
        try:
            await interaction.followup.send(summary, allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            # the interaction token lasts 15 minutes; a long build reports in the channel instead
            await interaction.channel.send(summary, allowed_mentions=NO_PINGS)
