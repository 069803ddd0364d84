"""`/reindex`: fetch the feeds and build incrementally, in the background, for the operator's
servers (what the scheduled refresh does, on demand; see `bot.serving.refresh`).

Admin commands are guild commands of the servers named by ADMIN_GUILDS (else the dev guild):
elsewhere they are neither listed nor run. There, members with Manage Server may reindex, and
members of the role whose *id* is REINDEX_ROLE: a role name would let anyone who may create
roles in any of those servers give themselves the right.
"""

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
    from bot.discord.client import Citebot
    from bot.serving.libraries import Library

log = logging.getLogger(__name__)


class NotAllowedError(CitebotError):
    """The member may not run this command."""


def reindex_role_id(setting: str | None) -> int | None:
    """REINDEX_ROLE as a role id (digits, or a pasted `<@&id>`); None for anything else."""
    value = (setting or "").strip().removeprefix("<@&").removesuffix(">")
    return int(value) if value.isdigit() else None


class AdminCog(commands.Cog):
    """`/reindex` for the operator, in the admin servers."""

    def __init__(self, bot: Citebot) -> None:
        self.bot = bot
        # one reindex at a time per library; libraries have separate indexes and locks
        self._running: dict[str, asyncio.Task[None]] = {}

    @property
    def role_id(self) -> int | None:
        """The REINDEX_ROLE's id; None when unset or not an id."""
        return reindex_role_id(self.bot.settings.reindex_role)

    async def cog_load(self) -> None:
        """Warn once when REINDEX_ROLE is set to something that is not a role id."""
        role = self.bot.settings.reindex_role
        if role and self.role_id is None:
            log.warning(
                "REINDEX_ROLE=%s is not a role id: it is ignored, and only members with Manage "
                "Server may /reindex (a role name can be copied by anyone who may create "
                "roles). Set it to the role's id: Developer Mode on, right-click the role → "
                "Copy Role ID.",
                role,
            )

    async def cog_unload(self) -> None:
        """Stop the reindexes still running."""
        for task in self._running.values():
            task.cancel()

    @app_commands.command(name="reindex")
    @app_commands.guild_only()
    async def reindex(self, interaction: discord.Interaction) -> None:
        """Re-read this channel's library of articles and update its index (Manage Server or
        the reindex role)."""
        await self.bot.run_guarded(interaction, self._start(interaction))

    def may_reindex(self, interaction: discord.Interaction) -> bool:
        """In an admin server: Manage Server, or the role whose id is REINDEX_ROLE."""
        # the command is registered in admin servers only; a stale registration grants nothing
        if interaction.guild_id not in self.bot.admin_guilds():
            return False
        if interaction.permissions.manage_guild:
            return True
        roles = getattr(interaction.user, "roles", [])
        return self.role_id is not None and any(r.id == self.role_id for r in roles)

    async def _start(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id not in self.bot.admin_guilds():
            raise NotAllowedError("This server is not one the bot is administered from.")
        if not self.may_reindex(interaction):
            raise NotAllowedError(
                "Only members with Manage Server"
                + (f" or the <@&{self.role_id}> role" if self.role_id else "")
                + " can reindex."
            )
        # the library of this channel alone (the allow-list is for questions, not for admins)
        library = self.bot.library_here(interaction.channel)
        running = self._running.get(library.name)
        if running is not None and not running.done():
            raise NotAllowedError("A reindex is already running; its summary will follow here.")
        if self.bot.refresher.busy(library):
            raise NotAllowedError("A scheduled refresh is running now; try again in a moment.")
        which = f"the {library.name} library" if len(self.bot.libraries) > 1 else "the articles"
        await interaction.response.send_message(
            f"Reindexing {which} in the background; I keep answering meanwhile and will "
            "post a summary here.",
            allowed_mentions=NO_PINGS,
        )
        self._running[library.name] = asyncio.create_task(
            self.bot.run_guarded(interaction, self._reindex(interaction, library))
        )

    async def _reindex(self, interaction: discord.Interaction, library: Library) -> None:
        # the same as a scheduled refresh: fetch the feeds, build, switch
        result = await self.bot.refresher.refresh(library)
        log.info("reindex of library %s done: %s", library.name, result.build.as_dict())
        summary = reindex_summary(result.build, result.fetch)
        try:
            await interaction.followup.send(summary, allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            # the interaction token lasts 15 minutes; a long build reports in the channel instead
            channel = interaction.channel
            if isinstance(channel, discord.abc.Messageable):
                await channel.send(summary, allowed_mentions=NO_PINGS)


async def setup(bot: Citebot) -> None:
    """The extension's entry point: `/reindex`, as guild commands of the admin servers only
    (servers not named never see it)."""
    admin = [discord.Object(g) for g in bot.admin_guilds()]
    if not admin:
        log.info("/reindex is off: set ADMIN_GUILDS to the servers that may use it")
        return
    await bot.add_cog(AdminCog(bot), guilds=admin)
