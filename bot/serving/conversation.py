"""The conversation core every front end shares: admit a question, recall the conversation,
answer it off the event loop, log the answer, count votes.

A front end (Discord, the terminal chat, a Slack or web adapter) only receives questions,
shows "thinking…", renders and sends: it calls `admit` before any visible work, so that a
refused question stays between the asker and the bot, then `answer` and, once it knows where
the answer went (a new thread, say), `record`; or `ask` for all three.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Protocol, TypeVar

from bot.answering.answer import Answer
from bot.answering.questions import clean_question
from bot.serving.ratelimit import RateLimiter

T = TypeVar("T")

# Turns of a conversation that a follow-up is read with ("and the year before?").
HISTORY_TURNS = 4
# Threads answering at once. Extractive answers are CPU-bound (more threads than cores only
# add contention); an LLM answerer mostly waits on the network and is served by the same count.
ANSWER_WORKERS = 4

History = list[tuple[str, str]]


class AnswerSource(Protocol):
    """What the conversation needs of the pipeline: an answer to a clean question (blocking)."""

    def answer(
        self, question: str, history: Sequence[tuple[str, str]] = (), as_of: date | None = None
    ) -> Answer:
        """The answer to a clean question, given the conversation so far (blocking)."""


class AnswerLog(Protocol):
    """Where answers and votes are kept; the Discord bot's is `FeedbackLog` (SQLite)."""

    # positional: each log names the conversation its own way (a Discord thread id, a chat)
    def record_answer(
        self,
        answer: Answer,
        conversation: Hashable | None = None,
        private: bool = False,
        library: str = "",
        /,
    ) -> int:
        """Keep an answer (of the named library); returns its id, for the votes."""

    def thread_history(self, conversation: Hashable, turns: int = HISTORY_TURNS, /) -> History:
        """The last turns of a conversation, (question, answer), oldest first."""

    def vote(self, answer_id: int, user_id: Hashable, vote: int, /) -> int | None:
        """Record a vote; returns the voter's previous vote on that answer, if any."""


@dataclass(frozen=True)
class Answered:
    """An answer as given, and the id its votes are recorded under."""

    answer: Answer
    answer_id: int


@dataclass
class MemoryLog:
    """An `AnswerLog` in memory, for a front end that keeps nothing (the terminal chat)."""

    answers: list[tuple[Answer, Hashable | None, bool]] = field(default_factory=list)
    votes: dict[tuple[int, Hashable], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_answer(
        self,
        answer: Answer,
        conversation: Hashable | None = None,
        private: bool = False,
        library: str = "",
    ) -> int:
        """Keep an answer; returns its id, for the votes."""
        with self._lock:
            self.answers.append((answer, conversation, private))
            return len(self.answers)

    def thread_history(self, conversation: Hashable, turns: int = HISTORY_TURNS) -> History:
        """The last turns of a conversation, (question, answer), oldest first."""
        with self._lock:
            mine = [
                (a.question, a.text)
                for a, c, private in self.answers
                if c == conversation and not private and not a.refused
            ]
        return mine[-turns:] if turns else []

    def vote(self, answer_id: int, user_id: Hashable, vote: int) -> int | None:
        """Record a vote; returns the voter's previous vote on that answer, if any."""
        if not 1 <= answer_id <= len(self.answers):
            raise KeyError(answer_id)
        with self._lock:
            previous = self.votes.get((answer_id, user_id))
            self.votes[(answer_id, user_id)] = vote
        return previous


class ConversationService:
    """Admission (one question check, the rate limit), history, the answer pool, the log.

    `rate_limit_per_minute=None` admits without a limit (a terminal has one asker);
    `rate_limiter` instead shares one limiter between services (a user's questions to several
    libraries count together). `library` names the library in the log, so that a report can
    be read per library of a log they share.
    """

    def __init__(
        self,
        answerer: AnswerSource,
        log: AnswerLog,
        *,
        max_question_chars: int,
        rate_limit_per_minute: int | None = None,
        rate_limiter: RateLimiter | None = None,
        history_turns: int = HISTORY_TURNS,
        answer_workers: int = ANSWER_WORKERS,
        library: str = "",
    ) -> None:
        self.answerer = answerer
        self.library = library
        self.log = log
        self.max_question_chars = max_question_chars
        self.history_turns = history_turns
        if rate_limiter is None and rate_limit_per_minute:
            rate_limiter = RateLimiter(rate_limit_per_minute)
        self.rate_limiter = rate_limiter
        # Model work gets its own threads, and the log one more, so that logging an answer or
        # a vote never queues behind a crowd of questions.
        self.answer_pool = ThreadPoolExecutor(answer_workers, thread_name_prefix="citebot-answer")
        self.log_pool = ThreadPoolExecutor(1, thread_name_prefix="citebot-log")

    def admit(self, asker: Hashable, question: str) -> str:
        """The question as it will be asked, or a `CitebotError` saying why it can't be.

        Counts against the asker's rate limit; cheap, so a front end calls it before it shows
        any sign of work.
        """
        clean = clean_question(question, self.max_question_chars)
        if self.rate_limiter is not None:
            self.rate_limiter.hit(asker)
        return clean

    def reply(
        self, question: str, conversation: Hashable | None = None, as_of: date | None = None
    ) -> Answer:
        """The answer to an admitted question, read with its conversation's history (blocking)."""
        history = (
            self.log.thread_history(conversation, self.history_turns)
            if conversation is not None
            else []
        )
        return self.answerer.answer(question, history, as_of=as_of)

    async def answer(
        self, question: str, conversation: Hashable | None = None, as_of: date | None = None
    ) -> Answer:
        """`reply` in the answer pool, off the event loop."""
        return await self._in(self.answer_pool, self.reply, question, conversation, as_of)

    async def record(
        self, answer: Answer, conversation: Hashable | None = None, private: bool = False
    ) -> int:
        """Log an answer as given (in the log pool); returns the id its votes are kept under.

        The conversation may be new (a thread opened for this answer). A private answer is
        logged outside any conversation: it never becomes history for anyone else's
        follow-up, nor is it sent to an LLM with theirs.
        """
        return await self._in(
            self.log_pool, self.log.record_answer, answer, conversation, private, self.library
        )

    async def ask(
        self,
        question: str,
        asker: Hashable,
        conversation: Hashable | None = None,
        private: bool = False,
        as_of: date | None = None,
    ) -> Answered:
        """`admit`, `answer` and `record` in one, for a front end with nothing in between."""
        answer = await self.answer(self.admit(asker, question), conversation, as_of)
        return Answered(answer, await self.record(answer, conversation, private))

    def ask_now(
        self,
        question: str,
        asker: Hashable,
        conversation: Hashable | None = None,
        private: bool = False,
        as_of: date | None = None,
    ) -> Answered:
        """`ask` for a front end without an event loop (the terminal chat); blocks."""
        answer = self.reply(self.admit(asker, question), conversation, as_of)
        return Answered(answer, self.log.record_answer(answer, conversation, private, self.library))

    async def vote(self, answer_id: int, voter: Hashable, vote: int) -> int | None:
        """Record a +1/-1 vote; returns the voter's previous vote on that answer, if any."""
        return await self._in(self.log_pool, self.log.vote, answer_id, voter, vote)

    def close(self) -> None:
        """Stop the thread pools (work still queued is dropped)."""
        self.answer_pool.shutdown(wait=False, cancel_futures=True)
        self.log_pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    async def _in(pool: ThreadPoolExecutor, fn, *args) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, partial(fn, *args))
