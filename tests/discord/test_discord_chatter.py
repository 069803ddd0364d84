"""Questions and small talk in the bot's threads, where nobody has to mention it."""

from __future__ import annotations

import pytest

from bot.discord.chatter import asks_something, thanks

QUESTIONS = [
    "And the year before?",
    "what did Putin say",
    "ok, how big was it in 2019",
    "Please explain the sanctions",
    "tell me more about the pipeline",
    "and the year before",  # goes on from the last answer
    "Russia China trade volume",  # three content words
    "is that the official figure",
    "any news on the gas deal",
]
SMALL_TALK = [
    "thanks, that's great!",
    "Thank you so much, really helpful answer",
    "lol",
    "lolll",
    "hahaha",
    "ok",
    "okkk thanksss",
    "👍",
    "🎉🎉 <:pog:123456789012345678>",
    "yes",
    "cool cool cool",
    "wow that's a lot",
    "and thanks again!",
    "",
]


@pytest.mark.parametrize("text", QUESTIONS)
def test_a_question_is_asked_without_a_mention(text):
    assert asks_something(text)


@pytest.mark.parametrize("text", SMALL_TALK)
def test_small_talk_asks_nothing(text):
    assert not asks_something(text)


def test_thanks_and_praise_are_told_from_other_small_talk():
    assert thanks("thanks, that's great!") and thanks("ty") and thanks("perfect, cheers")
    assert not thanks("lol") and not thanks("ok") and not thanks("👍")
