"""`/reindex`: fetch the feeds and build incrementally, in the background, for the operator's
servers (what the scheduled refresh does, on demand; see `bot.serving.refresh`); `/report`:
the coverage report of the answer log, shown to the admin alone (`bot.serving.coverage`).

Admin commands are guild commands of the servers named by ADMIN_GUILDS (else the dev guild):
elsewhere they are neither listed nor run. There, members with Manage Server may reindex, and
members of the role whose *id* is REINDEX_ROLE: a role name would let anyone who may create
roles in any of those servers give themselves the right. `/report` shows no private answer's
text: an admin sees what was asked in public only.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.render import MESSAGE_LIMIT, NO_PINGS, reindex_summary, shorten_block
from bot.serving.coverage import FeedState, build_report, read_fetch_state, read_log
from bot.serving.coverage_text import format_text
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
        if self.role_id is not None and self.role_id in self.bot.admin_guilds():
            log.warning(
                "REINDEX_ROLE=%s is a server's id, which is also the id of its @everyone role: "
                "it is ignored, and only members with Manage Server may /reindex. Set it to "
                "the role's id: right-click the role (not the server) → Copy Role ID.",
                role,
            )
        elif role and self.role_id is None:
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
        # a server's id is its @everyone role's: that "role" would give it to every member
        if self.role_id is None or self.role_id == interaction.guild_id:
            return False
        roles = getattr(interaction.user, "roles", [])
        return any(r.id == self.role_id for r in roles)

    def _not_allowed(
        self, what: str, interaction: discord.Interaction | None = None
    ) -> NotAllowedError:
        # a role id equal to the server's is @everyone's: a slip that gives no one the role
        guild = interaction.guild_id if interaction else None
        role = f" or the <@&{self.role_id}> role" if self.role_id and self.role_id != guild else ""
        return NotAllowedError(f"Only members with Manage Server{role} can {what}.")

    async def _start(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id not in self.bot.admin_guilds():
            raise NotAllowedError("This server is not one the bot is administered from.")
        if not self.may_reindex(interaction):
            raise self._not_allowed("reindex", interaction)
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

    @app_commands.command(name="report")
    @app_commands.describe(days="Only the last this many days (default: the whole log)")
    @app_commands.guild_only()
    async def report(
        self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 3650] | None = None
    ) -> None:
        """What the bot could not answer: refused questions, answers voted down, rates per day
        (Manage Server or the reindex role; only you see it)."""
        await self.bot.run_guarded(interaction, self._report(interaction, days))

    async def _report(self, interaction: discord.Interaction, days: int | None) -> None:
        if not self.may_reindex(interaction):
            raise self._not_allowed("see the report", interaction)
        library = self.bot.library_here(interaction.channel)
        # one library: every answer of the log is its own, those logged before libraries too
        name = library.name if len(self.bot.libraries) > 1 else None
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await asyncio.to_thread(self._report_text, library, name, days)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    def _report_text(self, library: Library, name: str | None, days: int | None) -> str:
        """The report of this library's answers, as short as a message must be (blocking)."""
        fetching = library.config.fetching
        rows = read_log(self.bot.feedback.path, days, name)
        state = FeedState(library.name, fetching.feeds, read_fetch_state(fetching.fetched_dir))
        report = build_report(
            rows,
            library.pipeline.embedder.embed,
            [state],
            since_days=days,
            library=name,
            show_private=False,
        )
        # a code block: the log's questions shown as written, no markup, links or mentions,
        # and the columns aligned
        text = format_text(report, rows=5, days=7).replace("```", "ʼʼʼ")
        more = "\n`citebot report` on the bot's machine has the whole report."
        return f"```\n{shorten_block(text, MESSAGE_LIMIT - len(more) - 8)}\n```{more}"

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
    """The extension's entry point: `/reindex` and `/report`, as guild commands of the admin
    servers only (servers not named never see it)."""
    admin = [discord.Object(g) for g in bot.admin_guilds()]
    if not admin:
        log.info("/reindex and /report are off: set ADMIN_GUILDS to the servers that may use it")
        return
    await bot.add_cog(AdminCog(bot), guilds=admin)
