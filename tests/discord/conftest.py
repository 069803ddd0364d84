"""Fixtures for the Discord bot: the real bot and the real sample pipeline inside SimCord."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
from simcord.actors import MemberActor
from simcord.builders import ChannelHandle, GuildHandle, RoleHandle

from bot.answering.answer import Answer
from bot.discord.app import make_bot as make_bot_of
from bot.discord.app import open_libraries
from bot.discord.client import Citebot, Shelf
from bot.serving.feedback import FeedbackLog
from index.settings import Settings
from tests.conftest import shelf

# The test server's id, pinned so that it can be named in ADMIN_GUILDS before it exists.
NEWSROOM_ID = 1_300_000_000_000_000_001


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bot_settings(**fields): Settings overrides for the bot under test"
    )


@pytest.fixture
def bot_settings(request: pytest.FixtureRequest, sample_index: Settings, tmp_path: Path):
    """The sample index's settings with this test's feedback log, the test server as the admin
    server, and any marker overrides."""
    marker = request.node.get_closest_marker("bot_settings")
    overrides = marker.kwargs if marker else {}
    defaults = {"feedback_db": tmp_path / "feedback.db", "admin_guilds": [NEWSROOM_ID]}
    return sample_index.model_copy(update={**defaults, **overrides})


@pytest.fixture
def pipeline(sample_pipeline):
    """What the bot answers with: the real pipeline, spied on."""
    return Spy(sample_pipeline)


@pytest.fixture
def make_bot(bot_settings: Settings, pipeline) -> Callable[[], Citebot]:
    """A fresh bot over the same settings, pipeline and feedback file (for restarts)."""
    return lambda: new_bot(bot_settings, shelf(bot_settings, pipeline))


def new_bot(settings: Settings, libraries: Shelf, feedback: FeedbackLog | None = None) -> Citebot:
    """The bot as `citebot run` makes it: its services built, then handed to it."""
    feedback = feedback or FeedbackLog.from_settings(settings.discord)
    return make_bot_of(
        settings.discord, open_libraries(settings.discord, libraries, feedback), feedback
    )


@pytest.fixture
def simcord_bot(make_bot):
    return make_bot()


@dataclass
class World:
    guild: GuildHandle
    general: ChannelHandle
    random: ChannelHandle
    alice: MemberActor
    bob: MemberActor
    admin: MemberActor
    librarian: MemberActor
    librarians: RoleHandle


@pytest.fixture
def world(simcord_env) -> World:
    """One server: #general and #random, two members, an admin and a member with a named role."""
    guild = simcord_env.create_guild("Newsroom", id=NEWSROOM_ID)
    managers = guild.create_role("Managers", permissions=discord.Permissions(manage_guild=True))
    librarians = guild.create_role("Librarian")
    return World(
        guild=guild,
        general=guild.create_text_channel("general"),
        random=guild.create_text_channel("random"),
        alice=guild.add_member(simcord_env.create_user("alice")),
        bob=guild.add_member(simcord_env.create_user("bob")),
        admin=guild.add_member(simcord_env.create_user("boss"), roles=[managers]),
        librarian=guild.add_member(simcord_env.create_user("libby"), roles=[librarians]),
        librarians=librarians,
    )


class Spy:
    """The real pipeline, recording every call; `fail`/`rewrite` change what `answer` does."""

    def __init__(self, real) -> None:
        self.real = real
        self.embedder = real.embedder
        self.asked: list[tuple[str, list[tuple[str, str]]]] = []
        self.answers: list[Answer] = []
        self.reindexed = 0
        self.fail: Exception | None = None
        self.rewrite: Callable[[Answer], Answer] | None = None
        self.on_reindex: Callable[[], None] | None = None

    def answer(self, question: str, history: Sequence[tuple[str, str]] = (), as_of=None) -> Answer:
        self.asked.append((question, list(history)))
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        answer = self.real.answer(question, history, as_of)
        self.answers.append(answer)
        return self.rewrite(answer) if self.rewrite else answer

    def sources(self):
        return self.real.sources()

    def reindex(self, sources=None) -> dict:
        self.reindexed += 1
        if self.on_reindex is not None:
            self.on_reindex()
        return self.real.reindex(sources)
