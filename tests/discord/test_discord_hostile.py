"""A hostile article through the real bot: its markup, links and pings reach Discord as text."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from citebot_process import run_until_answered
from fake_discord import FakeDiscord
from markup_check import live_markup

from index.settings import Settings

QUESTION = "How many free passes will the harbour festival give away?"
HOSTILE_ARTICLE = {
    "title": "Harbour [festival](https://evil.example/t) gives away *free* passes",
    "url": "https://news.example/harbour",
    "source": "||Harbour Gazette|| @everyone",
    "published": "2026-05-02",
    "text": (
        "# 500 free passes for harbour families\n\n"
        "The harbour festival will give away 500 free passes on Saturday, "
        "[claim your free pass](https://evil.example/win), join discord.gg/freepass or see "
        "https://evil.example/unfurl, ||the passes run out fast|| @everyone "
        "<@123456789012345678>.\n\n"
        "> The festival director said the 500 free passes are meant for local families.\n\n"
        "- Each family may collect two free passes at the harbour gate on Saturday."
    ),
}
# what must arrive escaped (or wrapped in <…>), never live
ESCAPED = [
    "[claim your free pass]\\(<https://evil.example/win>)",
    "<https://discord.gg/freepass>",
    "<https://evil.example/unfurl>",
    "\\|\\|the passes run out fast\\|\\|",
    "\\@everyone",
    "\\<@123456789012345678>",
]
SUPPRESS_EMBEDS = 1 << 2


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder):
    """An index of one article full of Discord markup, invite links and pings."""
    from index.build.builder import build_index

    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "articles").mkdir()
    (tmp / "articles" / "hostile.jsonl").write_text(json.dumps(HOSTILE_ARTICLE) + "\n")
    settings = Settings(
        _env_file=None,
        ARTICLES_DIR=tmp / "articles",
        CHROMA_PATH=tmp / "chroma",
        MODEL_CACHE=model_cache,
    )
    build_index(settings.index, embedder)
    return settings


@pytest.fixture
def bot_settings(hostile_index: Settings, tmp_path: Path) -> Settings:
    return hostile_index.model_copy(update={"feedback_db": tmp_path / "feedback.db"})


@pytest.fixture
def pipeline(hostile_index: Settings, embedder):
    from bot.answering.pipeline import build_pipeline

    return build_pipeline(hostile_index.index, hostile_index.answering, embedder)


def assert_inert(contents: list[str]) -> None:
    text = "\n".join(contents)
    assert "500 free passes" in text  # the article was answered from, not refused
    assert [problem for c in contents for problem in live_markup(c)] == []
    assert [e for e in ESCAPED if e not in text] == []


@pytest.mark.asyncio
@pytest.mark.simcord(settle_timeout=30)
async def test_a_hostile_article_is_shown_as_text_in_threads_and_private_answers(
    simcord_env, world
):
    await world.alice.slash(world.general, "ask", question=QUESTION)
    private = await world.bob.slash(world.general, "ask", question=QUESTION, private=True)

    (thread,) = world.general.threads
    answers = [m for m in thread.history() if m.author.id == simcord_env.bot.user.id]
    answers = [m for m in answers if not m.is_system()]
    answers += [m for m in [private.response, *private.followups] if m is not None]
    assert len(answers) == 2
    assert_inert([m.content for m in answers])
    assert all(m.flags.suppress_embeds for m in answers)


@pytest.mark.asyncio
async def test_a_hostile_article_reaches_discord_as_text_from_citebot_run(hostile_index, tmp_path):
    token = f"fake.{secrets.token_hex(16)}"
    env = {
        "DISCORD_TOKEN": token,
        "ARTICLES_DIR": str(hostile_index.articles_dir),
        "CHROMA_PATH": str(hostile_index.chroma_path),
        "MODEL_CACHE": str(hostile_index.model_cache),
        "FEEDBACK_DB": str(tmp_path / "feedback.db"),
    }
    async with FakeDiscord(token, QUESTION) as fake:
        _, logs = await run_until_answered(fake, env, tmp_path)

    assert fake.answered.is_set(), logs
    (thread,) = fake.threads
    answers = [m for m in fake.posted if m["channel_id"] == thread["id"]]
    assert answers, logs
    assert_inert([m["content"] for m in answers])
    assert all(m.get("flags", 0) & SUPPRESS_EMBEDS for m in answers)
    assert all(m["allowed_mentions"]["parse"] == [] for m in answers)
