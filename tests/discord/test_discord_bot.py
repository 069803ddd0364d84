"""The real bot, driven through SimCord, answering from the real sample pipeline."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import threading
from dataclasses import replace

import discord
import pytest

from bot.answering.answer import REFUSAL_TEXT, Answer
from bot.discord.client import APOLOGY
from bot.discord.render import MESSAGE_LIMIT, REPHRASE_HINT

pytestmark = [pytest.mark.asyncio, pytest.mark.simcord(settle_timeout=30)]

TRADE = "How much was trade between Russia and China last year?"
OFF_TOPIC = "Who won the 2018 FIFA World Cup?"


def from_bot(channel, env, viewer=None) -> list[discord.Message]:
    """The bot's messages in a channel or thread as `viewer` sees them; no system messages."""
    return [
        m
        for m in channel.history(viewer=viewer)
        if m.author.id == env.bot.user.id and not m.is_system()
    ]


def only_thread(channel):
    (thread,) = channel.threads
    return thread


def vote_id(message: discord.Message, vote: str) -> str:
    ids = [child.custom_id for row in message.components for child in row.children]
    return next(i for i in ids if i.endswith(f":{vote}"))


def answer_id(message: discord.Message) -> int:
    return int(vote_id(message, "up").split(":")[2])


def thought_first(env) -> bool:
    """Whether the bot's first reply to the interaction was "thinking…" (a deferral)."""
    callbacks = [r.json for r in env.http_requests if r.path.endswith("/callback")]
    return callbacks[0]["type"] == discord.InteractionResponseType.deferred_channel_message.value


def replies(result) -> list:
    """Everything a slash command answered: the (edited) deferred response, then followups."""
    return [m for m in [result.response, *result.followups] if m is not None]


# --- asking -------------------------------------------------------------------------------


async def test_slash_ask_answers_in_a_thread_on_the_question(simcord_env, world):
    result = await world.alice.slash(world.general, "ask", question=TRADE)

    assert thought_first(simcord_env) and not result.ephemeral
    assert TRADE in result.response.content
    thread = only_thread(world.general)
    assert thread.id == result.response.id
    (answer,) = from_bot(thread, simcord_env)
    assert "$240 billion" in answer.content
    assert re.search(r"\[1\]", answer.content)
    assert "**Sources**" in answer.content and "**[1]** Vladimir Putin" in answer.content
    assert vote_id(answer, "up") and vote_id(answer, "down")


async def test_private_ask_is_ephemeral_and_opens_no_thread(simcord_env, world):
    result = await world.alice.slash(world.general, "ask", question=TRADE, private=True)

    assert result.ephemeral
    text = "\n".join(m.content for m in replies(result))
    assert "$240 billion" in text and "**Sources**" in text
    assert world.general.threads == []
    assert world.general.history(viewer=world.bob) == []


async def test_a_mention_is_answered_in_a_thread_on_that_message(simcord_env, world):
    question = await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {TRADE}")

    thread = only_thread(world.general)
    assert thread.id == question.id
    (answer,) = from_bot(thread, simcord_env)
    assert "$240 billion" in answer.content


async def test_a_follow_up_in_the_thread_needs_no_mention_and_carries_the_history(
    simcord_env, world, pipeline
):
    await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {TRADE}")
    thread = only_thread(world.general)

    await world.bob.send(thread, "And what did Putin say about it?")

    assert len(from_bot(thread, simcord_env)) == 2
    question, history = pipeline.asked[-1]
    assert question == "And what did Putin say about it?"
    assert history == [(TRADE, pipeline.answers[0].text)]
    assert "$240 billion" in history[0][1]


async def test_ask_inside_a_thread_answers_there_with_its_history(simcord_env, world, pipeline):
    await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {TRADE}")
    thread = only_thread(world.general)

    result = await world.bob.slash(thread, "ask", question="And what did Putin say about it?")

    assert result.response.channel_id == thread.id
    assert vote_id(replies(result)[-1].message, "up")
    assert len(world.general.threads) == 1
    assert pipeline.asked[-1][1] == [(TRADE, pipeline.answers[0].text)]


async def test_messages_not_addressed_to_the_bot_are_ignored(simcord_env, world, pipeline):
    await world.alice.send(world.general, TRADE)
    await world.alice.send(world.general, f"{world.bob.mention} {TRADE}")

    assert pipeline.asked == []
    assert from_bot(world.general, simcord_env) == []


async def test_bots_are_ignored_even_when_they_mention_it(simcord_env, world, pipeline):
    other_bot = world.guild.add_member(simcord_env.create_user("otherbot", bot=True))

    await other_bot.send(world.general, f"{simcord_env.bot.user.mention} {TRADE}")

    assert pipeline.asked == []
    assert world.general.threads == []


async def test_a_refusal_says_so_and_suggests_rephrasing(simcord_env, world):
    await world.alice.slash(world.general, "ask", question=OFF_TOPIC)

    (answer,) = from_bot(only_thread(world.general), simcord_env)
    assert REFUSAL_TEXT in answer.content
    assert REPHRASE_HINT in answer.content
    assert "Sources" not in answer.content


# --- rendering limits and mentions ---------------------------------------------------------


async def test_a_long_answer_is_split_at_sentence_boundaries(simcord_env, world, pipeline):
    sentences = [f"Sentence number {i} says something about trade [1]." for i in range(120)]
    pipeline.rewrite = lambda a: replace(a, text=" ".join(sentences))

    await world.alice.slash(world.general, "ask", question=TRADE)

    parts = from_bot(only_thread(world.general), simcord_env)
    assert len(parts) >= 3
    assert all(len(m.content) <= MESSAGE_LIMIT for m in parts)
    body = " ".join(m.content for m in parts)
    assert all(s in body for s in sentences)
    assert all(m.content.endswith("[1].") for m in parts[:-1])
    assert [bool(m.components) for m in parts] == [False] * (len(parts) - 1) + [True]


async def test_everyone_in_a_question_or_an_article_pings_nobody(simcord_env, world, pipeline):
    role = world.guild.create_role("Editors", mentionable=True)
    loud = f"@everyone @here {world.bob.mention} {role.mention}"
    # whatever the noisy question retrieves, the answer cites an article that holds the pings
    cited = with_quote(pipeline.real.ask(TRADE), f"Trade hit $240 billion, {loud} said.")
    pipeline.rewrite = lambda a: replace(cited, question=a.question)

    await world.alice.slash(world.general, "ask", question=f"{loud} {TRADE}")
    await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {loud} {TRADE}")

    sent = from_bot(world.general, simcord_env)
    for thread in world.general.threads:
        sent += from_bot(thread, simcord_env)
    assert len(sent) == 3
    assert all("@everyone" in m.content for m in sent)
    for message in sent:
        # `mentions` lists everyone named in the text; who is *notified* is what counts
        stored = simcord_env.backend.get_message(message.channel.id, message.id)
        assert not message.mention_everyone
        assert stored.ping_user_ids == [] and stored.ping_role_ids == []


def with_quote(answer: Answer, quote: str) -> Answer:
    first, *rest = answer.citations
    return replace(answer, citations=[replace(first, quote=quote), *rest])


# --- feedback ------------------------------------------------------------------------------


async def test_votes_are_logged_once_per_user_and_can_change(simcord_env, world):
    await world.alice.slash(world.general, "ask", question=TRADE)
    (answer,) = from_bot(only_thread(world.general), simcord_env)
    feedback = simcord_env.bot.feedback

    up = await world.alice.click(answer, custom_id=vote_id(answer, "up"))
    again = await world.alice.click(answer, custom_id=vote_id(answer, "up"))
    assert up.ephemeral and "Thanks" in up.response.content
    assert "already" in again.response.content
    assert feedback.tally(answer_id(answer)) == (1, 0)

    down = await world.alice.click(answer, custom_id=vote_id(answer, "down"))
    await world.bob.click(answer, custom_id=vote_id(answer, "up"))
    assert "Changed your vote to 👎" in down.response.content
    assert feedback.tally(answer_id(answer)) == (1, 1)

    with sqlite3.connect(feedback.path) as db:
        question, text, citations, latency = db.execute(
            "SELECT question, answer, citations, latency_ms FROM answers"
        ).fetchone()
        users = [u for (u,) in db.execute("SELECT user_hash FROM votes")]
    assert question == TRADE and "$240 billion" in text and "$240 billion" in citations
    assert latency > 0
    assert len(users) == 2 and str(world.alice.id) not in users
    assert feedback.user_hash(world.alice.id) in users


async def test_vote_buttons_still_work_after_a_restart(simcord_env, world, make_bot):
    await world.bob.slash(world.general, "ask", question=TRADE)
    (answer,) = from_bot(only_thread(world.general), simcord_env)

    await simcord_env.restart_bot(make_bot())
    result = await world.alice.click(answer, custom_id=vote_id(answer, "down"))

    assert result.ephemeral and "Thanks" in result.response.content
    assert simcord_env.bot.feedback.tally(answer_id(answer)) == (0, 1)


# --- admin ---------------------------------------------------------------------------------


async def test_reindex_is_only_for_managers_and_the_configured_role(simcord_env, world, pipeline):
    simcord_env.bot.settings = simcord_env.bot.settings.model_copy(
        update={"reindex_role": str(world.librarians.id)}
    )

    refused = await world.alice.slash(world.general, "reindex")
    assert refused.ephemeral and "Manage Server" in refused.response.content
    assert f"<@&{world.librarians.id}>" in refused.response.content
    assert pipeline.reindexed == 0

    for member in (world.admin, world.librarian):
        started = await member.slash(world.general, "reindex")
        assert not started.ephemeral and "background" in started.response.content
        (summary,) = started.followups
        assert summary.content.startswith("Reindex done: 2 articles")
    assert pipeline.reindexed == 2


async def test_the_bot_keeps_answering_while_a_reindex_runs(simcord_env, world, pipeline):
    await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {TRADE}")
    thread = only_thread(world.general)
    loop = asyncio.get_running_loop()
    answered = threading.Event()

    def mark(answer: Answer) -> Answer:
        answered.set()
        return answer

    def ask_meanwhile() -> None:
        # runs in the build's worker thread: a member asks, and the build goes on only once the
        # bot has answered, which it can only do if reindexing leaves the bot free to answer
        pipeline.rewrite = mark
        loop.call_soon_threadsafe(
            simcord_env.backend.create_message, thread.id, world.bob.id, "And the year before?"
        )
        if not answered.wait(timeout=15):
            raise TimeoutError("no answer while reindexing")

    pipeline.on_reindex = ask_meanwhile
    result = await world.admin.slash(world.general, "reindex")

    assert result.followups[0].content.startswith("Reindex done")
    assert len(from_bot(thread, simcord_env)) == 2


# --- guardrails ----------------------------------------------------------------------------


@pytest.mark.bot_settings(rate_limit_per_minute=2)
async def test_asking_too_often_gets_a_polite_private_reply(simcord_env, world, pipeline):
    for _ in range(2):
        await world.alice.slash(world.general, "ask", question=TRADE)

    limited = await world.alice.slash(world.general, "ask", question=TRADE)
    others = await world.bob.slash(world.general, "ask", question=TRADE)

    assert limited.ephemeral and "try again in" in limited.response.content
    assert len(pipeline.asked) == 3
    assert not others.ephemeral

    await simcord_env.advance_time(61)
    later = await world.alice.slash(world.general, "ask", question=TRADE)
    assert not later.ephemeral and len(pipeline.asked) == 4


async def test_only_allowed_channels_get_answers(simcord_env, world, pipeline):
    simcord_env.bot.settings = simcord_env.bot.settings.model_copy(
        update={"allowed_channels": [world.general.id]}
    )

    elsewhere = await world.alice.slash(world.random, "ask", question=TRADE)
    await world.alice.send(world.random, f"{simcord_env.bot.user.mention} {TRADE}")
    assert elsewhere.ephemeral
    assert elsewhere.response.content == f"I only answer questions in <#{world.general.id}>."
    assert pipeline.asked == [] and from_bot(world.random, simcord_env) == []

    await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {TRADE}")
    await world.alice.send(only_thread(world.general), "And the year before?")
    assert len(pipeline.asked) == 2


async def test_a_question_over_1000_characters_is_declined_politely(simcord_env, world, pipeline):
    long_question = "Why " + "really " * 170 + "?"

    result = await world.alice.slash(world.general, "ask", question=long_question)
    await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {long_question}")

    assert result.ephemeral and "please keep it under 1,000" in result.response.content
    (reply,) = from_bot(world.general, simcord_env, viewer=world.bob)
    assert "please keep it under 1,000" in reply.content
    assert pipeline.asked == []


async def test_a_failing_answerer_gets_an_apology_and_the_bot_goes_on(
    simcord_env, world, pipeline, caplog
):
    pipeline.fail = RuntimeError("the model fell over")

    with caplog.at_level(logging.ERROR, logger="bot.discord"):
        failed = await world.alice.slash(world.general, "ask", question=TRADE)

    assert failed.response.content == APOLOGY
    (record,) = [r for r in caplog.records if r.exc_info]
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "/ask" in record.getMessage()

    pipeline.fail = RuntimeError("again")
    await world.alice.send(world.general, f"{simcord_env.bot.user.mention} {TRADE}")
    assert [m.content for m in from_bot(world.general, simcord_env)] == [APOLOGY, APOLOGY]

    await world.bob.slash(world.general, "ask", question=TRADE)
    assert "$240 billion" in from_bot(only_thread(world.general), simcord_env)[0].content


async def test_a_question_without_words_gets_the_pipelines_reason_privately(
    simcord_env, world, pipeline
):
    result = await world.alice.slash(world.general, "ask", question="?!")
    await world.alice.send(world.general, simcord_env.bot.user.mention)

    assert result.ephemeral and "words" in result.response.content
    (reply,) = from_bot(world.general, simcord_env, viewer=world.bob)
    assert reply.content.startswith("Please ask a question")
    assert pipeline.asked == []


# --- library -------------------------------------------------------------------------------


async def test_sources_lists_the_indexed_articles(simcord_env, world):
    result = await world.alice.slash(world.general, "sources")

    assert result.ephemeral
    assert "2 indexed articles" in result.response.content
    assert "Vladimir Putin Celebrates Record Trade" in result.response.content


async def test_sources_pages_through_a_long_library(simcord_env, world, pipeline):
    from bot.answering.pipeline import ArticleInfo

    many = [
        ArticleInfo(f"Article {i:02}", f"https://news.example/{i}", "Wire", 2) for i in range(25)
    ]
    pipeline.sources = lambda: many

    result = await world.alice.slash(world.general, "sources")
    assert "Article 00" in result.response.content and "Article 10" not in result.response.content
    assert "Page 1 of 3" in result.response.content

    await world.alice.click(result.response, label="▶")
    page = result.response
    assert "Article 10" in page.content and "Page 2 of 3" in page.content
    assert "[Article 10](<https://news.example/10>)" in page.content

    await simcord_env.advance_time(301)
    assert all(b.disabled for row in result.response.message.components for b in row.children)


async def test_help_lists_the_commands(simcord_env, world):
    result = await world.alice.slash(world.general, "help")

    assert result.ephemeral
    for name in ("/ask", "/sources", "/reindex", "/help"):
        assert name in result.response.content
