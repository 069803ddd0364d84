"""The conversation core every front end shares, with a scripted answerer (no model needed)."""

from __future__ import annotations

import threading

import pytest

from bot.answering.answer import REFUSAL_TEXT, Answer
from bot.errors import BadQuestionError
from bot.serving.conversation import HISTORY_TURNS, ConversationService, MemoryLog
from bot.serving.feedback import FeedbackLog
from bot.serving.ratelimit import RateLimitedError


class Scripted:
    """Answers "A: <question>" (or refuses questions with "refuse"); records what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []
        self.threads: set[str] = set()

    def answer(self, question, history=(), as_of=None) -> Answer:
        self.calls.append((question, list(history)))
        self.threads.add(threading.current_thread().name)
        if "refuse" in question:
            return Answer(question, REFUSAL_TEXT, refused=True)
        return Answer(question, f"A: {question}")


def service(log=None, **kw) -> tuple[ConversationService, Scripted]:
    scripted = Scripted()
    options = {"max_question_chars": 50} | kw
    return ConversationService(scripted, log or MemoryLog(), **options), scripted


def test_admission_checks_the_question_against_the_front_ends_limit() -> None:
    chat, _ = service()

    assert chat.admit("u1", "  How   big was trade? ") == "How big was trade?"
    with pytest.raises(BadQuestionError, match="50"):
        chat.admit("u1", "x" * 51)
    with pytest.raises(BadQuestionError):
        chat.admit("u1", "   ")


def test_admission_counts_against_the_askers_rate_limit_only() -> None:
    chat, _ = service(rate_limit_per_minute=2)
    chat.admit("alice", "one?")
    chat.admit("alice", "two?")

    with pytest.raises(RateLimitedError):
        chat.admit("alice", "three?")
    assert chat.admit("bob", "one?") == "one?"


def test_a_followup_is_answered_with_the_conversations_public_history() -> None:
    chat, scripted = service()
    chat.ask_now("first?", "alice", "thread-1")
    chat.ask_now("please refuse this?", "alice", "thread-1")
    chat.ask_now("secret?", "bob", "thread-1", private=True)
    chat.ask_now("elsewhere?", "carol", "thread-2")

    chat.ask_now("and then?", "dave", "thread-1")

    assert scripted.calls[-1] == ("and then?", [("first?", "A: first?")])


def test_history_is_the_last_turns_only() -> None:
    chat, scripted = service()
    for i in range(HISTORY_TURNS + 2):
        chat.ask_now(f"q{i}?", "alice", "t")

    chat.ask_now("last?", "alice", "t")

    assert [q for q, _ in scripted.calls[-1][1]] == [f"q{i}?" for i in range(2, HISTORY_TURNS + 2)]


def test_private_answers_never_become_history_in_the_sqlite_log(tmp_path) -> None:
    chat, scripted = service(FeedbackLog(tmp_path / "log.sqlite3"))
    chat.ask_now("public?", "alice", 42)
    chat.ask_now("private?", "bob", 42, private=True)

    chat.ask_now("follow-up?", "carol", 42)

    assert scripted.calls[-1][1] == [("public?", "A: public?")]


@pytest.mark.asyncio
async def test_answers_run_off_the_event_loop_and_votes_are_recorded() -> None:
    chat, scripted = service()
    try:
        answered = await chat.ask("how big?", "alice", "t")

        assert answered.answer.text == "A: how big?"
        assert scripted.threads and all(t.startswith("citebot-answer") for t in scripted.threads)
        assert await chat.vote(answered.answer_id, "bob", 1) is None
        assert await chat.vote(answered.answer_id, "bob", -1) == 1
    finally:
        chat.close()


@pytest.mark.asyncio
async def test_an_answer_is_recorded_where_it_went() -> None:
    """Discord answers a question, then opens a thread for it: the thread holds the turn."""
    chat, scripted = service()
    try:
        answer = await chat.answer("opening?")
        await chat.record(answer, "new-thread")

        await chat.ask("follow-up?", "alice", "new-thread")

        assert scripted.calls[-1][1] == [("opening?", "A: opening?")]
    finally:
        chat.close()
