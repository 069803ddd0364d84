"""The Discord front end: `run(settings)` for the CLI, `run_bot` and `Citebot` for embedding."""

from bot.discord.app import Citebot, run, run_bot

__all__ = ["Citebot", "run", "run_bot"]
