"""`citebot run` in a subprocess against a fake Discord, until it has answered its question."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from fake_discord import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]

# The product has no test switch: the test points discord.py's two base URLs at the fake first.
LAUNCH = """\
import sys, yarl, discord.http, discord.gateway
discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
from bot.cli import main
sys.exit(main(["run"]))
"""


async def run_until_answered(
    fake: FakeDiscord, env: dict[str, str], cwd: Path, timeout: float = 120
) -> tuple[int | None, str]:
    """Run the bot with `env` until the fake got an answer (or the bot exited); exit code, logs."""
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, fake.api_base, fake.gateway_url,
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output = asyncio.create_task(bot.communicate())
    try:
        # until the answer arrives, or the bot exits early (the caller's assertions show its logs)
        answered = asyncio.create_task(fake.answered.wait())
        await asyncio.wait({answered, output}, timeout=timeout, return_when="FIRST_COMPLETED")
        answered.cancel()
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(output, timeout=30)
    return bot.returncode, (out + err).decode()
