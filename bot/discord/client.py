"""The Discord bot itself: a `commands.Bot` with the libraries injected, its channel rules and
its one error edge. The features are extensions (`EXTENSIONS`), each module's `setup(bot)` adding
its cog, loaded in `setup_hook`: this module imports none of them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.render import NO_PINGS
from bot.serving.conversation import ConversationService
from bot.serving.feedback import FeedbackLog
from bot.serving.libraries import Libraries, Library, LibraryPipeline
from bot.serving.refresh import Refresher
from index.errors import CitebotError
from index.library_config import LibraryConfig
from index.settings import DiscordSettings

log = logging.getLogger(__name__)

# The features, as discord.py extensions: each module's `setup(bot)` adds its cog (and what it
# needs registered); the admin commands only where ADMIN_GUILDS (or the dev guild) names servers.
EXTENSIONS = ("bot.discord.ask", "bot.discord.library", "bot.discord.admin")

# Discord's own limit on a question (the library's is 2,000): a message is 2,000 at most, and
# the answer's thread header quotes the question.
MAX_QUESTION_CHARS = 1000

APOLOGY = "Sorry, something went wrong on my side. It has been logged; please try again shortly."


# Each configured library with the pipeline it answers from (see `bot.serving.libraries`).
Shelf = Sequence[tuple[LibraryConfig, LibraryPipeline]]

if TYPE_CHECKING:
    # where a question or command comes from: a message's channel or an interaction's
    Channel: TypeAlias = discord.abc.MessageableChannel | discord.abc.GuildChannel


class NotHereError(CitebotError):
    """A question asked outside the channels the bot is allowed to answer in."""


def bot_intents() -> discord.Intents:
    """The least that works: guilds (channels, threads), guild messages, message content.

    Message content is privileged; mentions would work without it, but follow-ups inside the
    bot's threads carry no mention, and without it their text arrives empty.
    """
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    return intents


class Citebot(commands.Bot):
    """Answers questions about the articles; features live in cogs loaded in `setup_hook`.

    Its services are handed in (`bot.discord.app.make_bot` builds them): `libraries`, each
    configured library open (without a libraries file, the one implicit library, answering
    everywhere); `refresher`, which keeps them current; `feedback`, the answer and vote log.
    """

    def __init__(
        self,
        settings: DiscordSettings,
        *,
        libraries: Libraries,
        refresher: Refresher,
        feedback: FeedbackLog,
        **options: Any,
    ) -> None:
        # the bot never joins voice: discord.py's warnings about missing voice libraries
        # (PyNaCl, davey) would only alarm the operator
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=bot_intents(),
            allowed_mentions=NO_PINGS,
            help_command=None,
            **options,
        )
        if not libraries:
            raise TypeError("Citebot needs a library")
        self.settings = settings
        self.feedback = feedback
        # admission, history, answering and the log, one core per library (built and closed by
        # whoever runs the bot: `bot.discord.app`)
        self.libraries = libraries
        # votes need no library: every library's answers are in the one log
        self.conversations: ConversationService = next(iter(self.libraries)).conversations
        # scheduled refreshes and /reindex go through one refresher: never two of a library
        self.refresher = refresher
        self._refreshing: asyncio.Task[None] | None = None
        self.tree.error(self._on_app_command_error)

    def admin_guilds(self) -> list[int]:
        """The servers where admin commands are offered: ADMIN_GUILDS, else the dev guild."""
        settings = self.settings
        if settings.admin_guilds:
            return list(settings.admin_guilds)
        return [settings.discord_dev_guild] if settings.discord_dev_guild else []

    async def setup_hook(self) -> None:
        """Load the cogs, sync the slash commands, start the scheduled refresh."""
        for name in EXTENSIONS:
            try:
                await self.load_extension(name)
            except commands.ExtensionError:
                log.exception("could not load %s", name)
                raise
        await self._sync_commands()
        minutes = self.settings.refresh_minutes
        if minutes:
            self._refreshing = asyncio.create_task(self.refresher.run(minutes))

    async def announce(self, text: str) -> None:
        """Post one line in ANNOUNCE_CHANNEL, if set (a refresh that added articles)."""
        channel_id = self.settings.announce_channel
        if not channel_id:
            return
        channel = self.get_channel(channel_id) or await self.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("ANNOUNCE_CHANNEL %s is not a channel the bot can post in", channel_id)
            return
        await channel.send(text, allowed_mentions=NO_PINGS)

    async def _sync_commands(self) -> None:
        shard_ids = self.settings.discord_shard_ids
        if shard_ids and 0 not in shard_ids:
            log.info("slash commands are synced by the process that runs shard 0")
            return
        # A dev guild gets the commands at once; global commands can take a while to appear.
        dev_guild = self.settings.discord_dev_guild
        if dev_guild:
            self.tree.copy_global_to(guild=discord.Object(dev_guild))
        else:
            synced = await self.tree.sync()
            log.info("synced %d global slash commands", len(synced))
        for guild_id in dict.fromkeys([*([dev_guild] if dev_guild else []), *self.admin_guilds()]):
            try:
                synced = await self.tree.sync(guild=discord.Object(guild_id))
            except discord.HTTPException as error:  # e.g. the bot is not in that server
                log.warning("could not sync slash commands to guild %s: %s", guild_id, error)
            else:
                log.info("synced %d slash commands to guild %s", len(synced), guild_id)

    async def close(self) -> None:
        """Stop the scheduled refresh, then log out."""
        if self._refreshing is not None:
            self._refreshing.cancel()
        await super().close()

    async def on_ready(self) -> None:
        """Log who the bot is and where."""
        me = self.user
        log.info("logged in as %s (id %s) in %d servers", me, me and me.id, len(self.guilds))

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: questions in messages are handled by `AskCog`'s listener."""

    def _listed(self, channel: Channel) -> bool:
        """Whether the allow-list (empty: everything) names the channel, or a thread's channel."""
        allowed = self.settings.allowed_channels
        if not allowed or channel.id in allowed:
            return True
        return isinstance(channel, discord.Thread) and channel.parent_id in allowed

    def library_at(self, channel: Channel | None) -> Library | None:
        """The library for a server channel (a thread goes with its channel), if any."""
        if not _in_a_server(channel):
            return None
        guild = getattr(channel, "guild", None)
        guild_id = guild.id if guild is not None else getattr(channel, "guild_id", None)
        parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
        return self.libraries.route(guild_id, channel.id, parent_id)

    def channel_allowed(self, channel: Channel | None) -> bool:
        """Whether the bot serves this channel: never a DM; in a server, what the allow-list
        names, where a thread counts if it or its channel is listed, and a library answers."""
        return (
            _in_a_server(channel) and self._listed(channel) and self.library_at(channel) is not None
        )

    def check_channel(self, channel: Channel | None) -> Library:
        """The library answering in this channel, or `NotHereError` saying where the bot
        answers."""
        if not _in_a_server(channel):
            raise NotHereError("I only answer in servers, not in direct messages.")
        if not self._listed(channel):
            where = ", ".join(f"<#{c}>" for c in self.settings.allowed_channels)
            raise NotHereError(f"I only answer questions in {where}.")
        return self.library_here(channel)

    def library_here(self, channel: Channel | None) -> Library:
        """`library_at`, or `NotHereError` naming this server's channels that have one."""
        library = self.library_at(channel)
        if library is not None:
            return library
        guild = getattr(channel, "guild", None)
        here = [c for c in sorted(self.libraries.channels) if guild and guild.get_channel(c)]
        raise NotHereError(
            "No library of articles is set up for this channel"
            + (f"; ask in {', '.join(f'<#{c}>' for c in here)}." if here else ".")
        )

    async def run_guarded(
        self, target: discord.Interaction | discord.Message, work: Awaitable[None]
    ) -> None:
        """Run one user request; every failure ends in a short reply, and the bot goes on."""
        try:
            await work
        except Exception as error:
            await self.report(target, error)

    async def report(
        self, target: discord.Interaction | discord.Message, error: BaseException
    ) -> None:
        """The one error edge: a domain error's message, or an apology and a logged traceback."""
        if isinstance(error, CitebotError | app_commands.CheckFailure):
            text = str(error)
        else:
            where = (
                f"/{target.command.name}"
                if isinstance(target, discord.Interaction) and target.command
                else type(target).__name__.lower()
            )
            channel = target.channel.id if target.channel else None
            log.error("failed handling %s in channel %s", where, channel, exc_info=error)
            text = APOLOGY
        await self.tell(target, text)

    async def tell(self, target: discord.Interaction | discord.Message, text: str) -> None:
        """A short reply: ephemeral to an interaction, a reply to a message."""
        try:
            if isinstance(target, discord.Message):
                await target.reply(text, mention_author=False, allowed_mentions=NO_PINGS)
            elif target.response.is_done():
                await target.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
            else:
                await target.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            log.warning("could not tell the user: %s", text, exc_info=True)

    async def _on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await self.report(interaction, getattr(error, "original", error))


def _in_a_server(channel: Channel | None) -> TypeGuard[Channel]:
    """Whether a channel belongs to a server: not a DM nor a group DM."""
    if channel is None or isinstance(channel, discord.abc.PrivateChannel):
        return False
    # an uncached channel: a DM has no guild id
    return not isinstance(channel, discord.PartialMessageable) or channel.guild_id is not None


class ShardedCitebot(Citebot, commands.AutoShardedBot):
    """The same bot over several gateway connections (`DISCORD_SHARDS`, `DISCORD_SHARD_IDS`).

    Discord requires sharding from 2,500 servers on; each shard carries a share of the servers
    (`(guild_id >> 22) % shards`), and shards can be split over processes or machines, each
    with its own pipeline (share one index through a Chroma server).
    """

    async def on_shard_ready(self, shard_id: int) -> None:
        """Log each shard as it connects."""
        log.info("shard %d of %s ready", shard_id, self.shard_count)
