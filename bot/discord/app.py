"""Running the Discord bot: the bot made for the settings, logging in with retries, serving
until a signal (`run`, the CLI's `citebot run`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import aiohttp
import discord

from bot.discord.client import MAX_QUESTION_CHARS, Citebot, ShardedCitebot, Shelf
from bot.serving.feedback import FeedbackLog
from bot.serving.libraries import Libraries
from bot.serving.refresh import Refresher
from index.errors import CitebotError, ConfigError
from index.library_config import load_libraries
from index.settings import DiscordSettings, Settings

log = logging.getLogger(__name__)

# Pauses before each new try when Discord cannot be reached at start; then the bot gives up
# (exit 1) and leaves further restarts to whatever runs it (systemd, Docker, a shell loop).
CONNECT_RETRY_DELAYS = (2.0, 5.0, 10.0)
# What a connection that never got through raises: refused, no route or DNS, timeout, 5xx.
_UNREACHABLE = (OSError, aiohttp.ClientError, asyncio.TimeoutError, discord.DiscordServerError)
TOKEN_HELP = (
    "DISCORD_TOKEN is not set. Create an application at "
    "https://discord.com/developers/applications, add a bot, reset and copy its token, and put "
    "DISCORD_TOKEN=<token> in .env (see README: Discord setup). "
    "Without a token, `citebot chat` answers in the terminal."
)


class DiscordUnreachableError(CitebotError):
    """Discord's API could not be reached at start, even after a few tries."""


def open_libraries(settings: DiscordSettings, shelf: Shelf, feedback: FeedbackLog) -> Libraries:
    """A conversation core per library, over the one answer log and one rate limit.

    Their thread pools keep model work and logging off the event loop (and apart from
    aiohttp's DNS, which uses the loop's default executor); `Libraries.close` ends them.
    """
    return Libraries.open(
        shelf,
        feedback,
        max_question_chars=MAX_QUESTION_CHARS,
        rate_limit_per_minute=settings.rate_limit_per_minute,
    )


def make_bot(settings: DiscordSettings, libraries: Libraries, feedback: FeedbackLog) -> Citebot:
    """The bot over these services, with its refresher; one gateway connection by default,
    shards when `DISCORD_SHARDS` is set."""
    refresher = Refresher(libraries)
    shards = settings.discord_shards
    bot = (
        Citebot(settings, libraries=libraries, refresher=refresher, feedback=feedback)
        if shards is None
        else ShardedCitebot(
            settings,
            libraries=libraries,
            refresher=refresher,
            feedback=feedback,
            shard_count=None if shards == "auto" else shards,
            shard_ids=settings.discord_shard_ids or None,
        )
    )
    # a refresh that added articles is said in ANNOUNCE_CHANNEL, through this bot
    refresher.announce = bot.announce
    return bot


def require_token(settings: DiscordSettings) -> str:
    """The bot token, or a `ConfigError` saying how to get one."""
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        raise ConfigError(TOKEN_HELP)
    return token


async def run_bot(settings: DiscordSettings, shelf: Shelf) -> None:
    """Log in and serve Discord until the bot is closed or this task is cancelled.

    Logging in is tried again after each of `CONNECT_RETRY_DELAYS` while Discord cannot be
    reached, then `DiscordUnreachableError`. Once connected, discord.py itself reconnects.
    """
    token = require_token(settings)
    feedback = FeedbackLog.from_settings(settings)
    with contextlib.closing(open_libraries(settings, shelf, feedback)) as libraries:
        await _log_in_and_serve(settings, token, libraries, feedback)


async def _log_in_and_serve(
    settings: DiscordSettings, token: str, libraries: Libraries, feedback: FeedbackLog
) -> None:
    tries = len(CONNECT_RETRY_DELAYS) + 1
    for attempt, delay in enumerate((*CONNECT_RETRY_DELAYS, None), start=1):
        # a fresh bot each time: a failed login leaves discord.py's HTTP session half set up
        async with make_bot(settings, libraries, feedback) as bot:
            try:
                await bot.login(token)
            except _UNREACHABLE as error:
                reason = str(error) or type(error).__name__
            except discord.LoginFailure:
                raise ConfigError(
                    "Discord rejected DISCORD_TOKEN; reset the bot's token in the developer "
                    "portal and update .env."
                ) from None
            else:
                await _connect(bot)
                return
        if delay is None:
            break
        log.warning(
            "could not reach Discord (%s); trying again in %g s (try %d of %d)",
            reason, delay, attempt + 1, tries,
        )  # fmt: skip
        await asyncio.sleep(delay)
    raise DiscordUnreachableError(
        f"could not reach Discord after {tries} tries ({reason}). Check that this machine is "
        "online and may reach discord.com on port 443 (DNS, proxy, firewall) and "
        "https://discordstatus.com, then start the bot again."
    )


async def _connect(bot: Citebot) -> None:
    try:
        await bot.connect()
    except discord.PrivilegedIntentsRequired:
        raise ConfigError(
            "Switch on the Message Content Intent under Bot → Privileged Gateway Intents in "
            "the developer portal, then start the bot again."
        ) from None


def run(settings: Settings) -> int:
    """`citebot run`: check the token, load every library's pipeline (one model for all),
    serve until SIGINT or SIGTERM."""
    require_token(settings.discord)
    from bot.serving.libraries import open_pipelines

    configs = load_libraries(settings.libraries_file, settings.index, settings.fetching)
    asyncio.run(_serve(settings.discord, open_pipelines(configs, settings.answering)))
    return 0


async def _serve(settings: DiscordSettings, libraries: Shelf) -> None:
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no loop signal handlers
            if main is not None:
                loop.add_signal_handler(sig, main.cancel)
    try:
        await run_bot(settings, libraries)
    except asyncio.CancelledError:
        log.info("stopped")
