"""The entry points over real sockets: `citebot run` in a subprocess against a fake Discord."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
from pathlib import Path

import discord
import discord.http
import pytest
from fake_discord import CHANNEL_ID, GUILD_ID, FakeDiscord

from bot.discord.app import run, run_bot
from bot.discord.client import bot_intents
from index.errors import ConfigError
from index.settings import Settings
from tests.conftest import shelf

ROOT = Path(__file__).resolve().parents[2]
TRADE = "How much was trade between Russia and China last year?"

# The product has no test switch: the test points discord.py's two base URLs at the fake first.
LAUNCH = """\
import sys, yarl, discord.http, discord.gateway
discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
from bot.cli import main
sys.exit(main(["run"]))
"""


def process_env(sample_index: Settings, tmp_path: Path, token: str, **more: str) -> dict:
    """The environment of a `citebot run` process over the sample index."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": token,
        "ARTICLES_DIR": str(sample_index.articles_dir),
        "CHROMA_PATH": str(sample_index.chroma_path),
        "MODEL_CACHE": str(sample_index.model_cache),
        "FEEDBACK_DB": str(tmp_path / "feedback.db"),
        **more,
    }


@pytest.mark.asyncio
async def test_citebot_run_answers_a_mention_with_citations(sample_index: Settings, tmp_path):
    token = f"fake.{secrets.token_hex(16)}"
    env = process_env(sample_index, tmp_path, token, LOG_LEVEL="DEBUG")
    async with FakeDiscord(token, TRADE) as fake:
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LAUNCH, fake.api_base, fake.gateway_url,
            cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        output = asyncio.create_task(bot.communicate())
        try:
            # until the answer arrives, or the bot exits early (the assertions then show its logs)
            answered = asyncio.create_task(fake.answered.wait())
            await asyncio.wait({answered, output}, timeout=120, return_when="FIRST_COMPLETED")
            answered.cancel()
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(output, timeout=30)

    logs = (out + err).decode()
    assert fake.answered.is_set(), logs
    assert bot.returncode == 0, logs
    (thread,) = fake.threads
    assert thread["parent_id"] == str(CHANNEL_ID)
    (answer,) = [m for m in fake.posted if m["channel_id"] == thread["id"]]
    assert "$240 billion" in answer["content"] and "[1]" in answer["content"]
    assert "**Sources**" in answer["content"]
    assert answer["allowed_mentions"]["parse"] == []
    buttons = [c["custom_id"] for row in answer["components"] for c in row["components"]]
    assert buttons == ["citebot:vote:1:up", "citebot:vote:1:down"]
    assert fake.bad_auth == []
    # admin commands only where ADMIN_GUILDS (or the dev guild) say: here, nowhere
    assert "synced 3 global slash commands" in logs and "/reindex and /report are off" in logs
    assert fake.synced == {"global": ["ask", "help", "sources"]}
    assert "PyNaCl" not in logs and "voice will NOT be supported" not in logs, [
        line for line in logs.splitlines() if "PyNaCl" in line
    ]
    assert token not in logs


@pytest.mark.asyncio
async def test_citebot_run_without_discord_says_so_in_one_line_and_exits_1(
    sample_index: Settings, tmp_path
):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # two quick retries instead of the real pauses
    launch = LAUNCH.replace(
        "from bot.cli import main",
        "import bot.discord.app\nbot.discord.app.CONNECT_RETRY_DELAYS = (0.1, 0.2)\n"
        "from bot.cli import main",
    )
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-c", launch,
        f"http://127.0.0.1:{port}/api/v10", f"ws://127.0.0.1:{port}/gateway",
        cwd=tmp_path, env=process_env(sample_index, tmp_path, "t"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(bot.communicate(), timeout=120)

    logs = (out + err).decode()
    lines = logs.splitlines()
    assert bot.returncode == 1, logs
    (error,) = [line for line in lines if line.startswith("error:")]
    assert error.startswith("error: could not reach Discord after 3 tries (")
    assert "discord.com" in error and "discordstatus.com" in error
    retries = [line for line in lines if "could not reach Discord" in line and "WARNING" in line]
    assert [r.split("trying again in ")[1] for r in retries] == [
        "0.1 s (try 2 of 3)",
        "0.2 s (try 3 of 3)",
    ]
    assert "Traceback" not in logs and "PyNaCl" not in logs and "voice" not in logs
    assert "Unclosed" not in logs


def test_without_a_token_run_says_how_to_get_one(tmp_path):
    settings = Settings(_env_file=None, FEEDBACK_DB=tmp_path / "feedback.db")

    with pytest.raises(ConfigError, match="DISCORD_TOKEN is not set") as raised:
        run(settings)

    assert "discord.com/developers/applications" in str(raised.value)
    assert not settings.feedback_db.exists()


@pytest.mark.asyncio
async def test_a_rejected_token_is_a_config_error(sample_pipeline, tmp_path, monkeypatch):
    settings = Settings(_env_file=None, DISCORD_TOKEN="wrong", FEEDBACK_DB=tmp_path / "f.db")
    async with FakeDiscord("right", TRADE) as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)

        with pytest.raises(ConfigError, match="Discord rejected DISCORD_TOKEN"):
            await run_bot(settings.discord, shelf(settings, sample_pipeline))

    assert fake.bad_auth == ["/api/v10/users/@me"]


@pytest.fixture
def fake_urls(monkeypatch):
    """Point discord.py's REST and gateway base URLs at a fake (the product has no test switch)."""
    import discord.gateway
    import yarl

    def point(fake: FakeDiscord) -> None:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
        )

    return point


async def serve_until_answered(
    settings: Settings, pipeline, fake_urls, **fake_options
) -> FakeDiscord:
    """Run the bot in this process until it has answered the fake's mention; the fake's record."""
    async with FakeDiscord("t", TRADE, **fake_options) as fake:
        fake_urls(fake)
        serving = asyncio.create_task(run_bot(settings.discord, shelf(settings, pipeline)))
        try:
            await asyncio.wait_for(fake.answered.wait(), timeout=60)
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
    return fake


@pytest.mark.asyncio
async def test_a_missing_message_content_intent_says_where_to_switch_it_on(
    sample_pipeline, tmp_path, fake_urls
):
    settings = Settings(_env_file=None, DISCORD_TOKEN="t", FEEDBACK_DB=tmp_path / "f.db")
    without_content = bot_intents().value & ~discord.Intents(message_content=True).value
    async with FakeDiscord("t", TRADE, allowed_intents=without_content) as fake:
        fake_urls(fake)

        with pytest.raises(ConfigError, match="Message Content Intent"):
            await asyncio.wait_for(
                run_bot(settings.discord, shelf(settings, sample_pipeline)), timeout=60
            )

    assert fake.posted == []


@pytest.mark.asyncio
async def test_a_dev_guild_gets_the_commands_and_still_answers(
    sample_pipeline, tmp_path, fake_urls
):
    settings = Settings(
        _env_file=None,
        DISCORD_TOKEN="t",
        DISCORD_DEV_GUILD=str(GUILD_ID),
        FEEDBACK_DB=tmp_path / "f.db",
    )
    fake = await serve_until_answered(settings, sample_pipeline, fake_urls)

    assert fake.synced == {str(GUILD_ID): ["ask", "help", "reindex", "report", "sources"]}
    assert any("$240 billion" in m["content"] for m in fake.posted)


@pytest.mark.asyncio
async def test_a_process_runs_only_its_shards_and_leaves_command_sync_to_shard_0(
    sample_pipeline, tmp_path, fake_urls
):
    settings = Settings(
        _env_file=None,
        DISCORD_TOKEN="t",
        DISCORD_SHARDS="2",
        DISCORD_SHARD_IDS="1",
        FEEDBACK_DB=tmp_path / "f.db",
    )
    fake = await serve_until_answered(settings, sample_pipeline, fake_urls)

    assert (GUILD_ID >> 22) % 2 == 1  # the fake's one server is on shard 1 of 2
    assert fake.identified == [[1, 2]]
    assert fake.synced == {}
    assert any("$240 billion" in m["content"] for m in fake.posted)


@pytest.mark.asyncio
async def test_auto_sharding_takes_discords_recommended_count(sample_pipeline, tmp_path, fake_urls):
    settings = Settings(
        _env_file=None, DISCORD_TOKEN="t", DISCORD_SHARDS="auto", FEEDBACK_DB=tmp_path / "f.db"
    )
    # discord.py waits 5 s between two shards' IDENTIFYs, as Discord asks
    fake = await serve_until_answered(settings, sample_pipeline, fake_urls, recommended_shards=2)

    assert fake.identified == [[0, 2], [1, 2]]
    assert fake.synced == {"global": ["ask", "help", "sources"]}
    assert any("$240 billion" in m["content"] for m in fake.posted)
