"""The answer and vote log, and the per-user rate limit."""

from __future__ import annotations

import time

import pytest

from bot.answer import Answer, Citation
from bot.discord.feedback import FeedbackLog, UnknownAnswerError
from bot.discord.ratelimit import RateLimitedError, RateLimiter


@pytest.fixture
def log(tmp_path) -> FeedbackLog:
    return FeedbackLog(tmp_path / "nested" / "feedback.db")


def answer(question: str = "q?", text: str = "a [1].", refused: bool = False) -> Answer:
    citation = Citation(1, "Title", "a quote", "chunk-1", 0.8)
    return Answer(question, text, [citation], refused=refused, latency_ms=12.5)


def test_a_vote_can_be_changed_but_counts_once(log):
    aid = log.record_answer(answer())

    assert log.vote(aid, 42, 1) is None
    assert log.vote(aid, 42, 1) == 1
    assert log.vote(aid, 42, -1) == 1
    assert log.tally(aid) == (0, 1)


def test_votes_for_unknown_answers_are_refused(log):
    with pytest.raises(UnknownAnswerError):
        log.vote(999, 42, 1)


def test_user_hashes_are_stable_per_log_and_differ_between_logs(log, tmp_path):
    other = FeedbackLog(tmp_path / "other.db")

    assert log.user_hash(42) == FeedbackLog(log.path).user_hash(42)
    assert log.user_hash(42) != other.user_hash(42)


def test_thread_history_is_the_last_answered_turns_oldest_first(log):
    for i in range(6):
        log.record_answer(answer(f"q{i}", f"a{i}"), thread_id=7)
    log.record_answer(answer("refused", "no", refused=True), thread_id=7)
    log.record_answer(answer("elsewhere", "x"), thread_id=8)

    assert log.thread_history(7, turns=3) == [("q3", "a3"), ("q4", "a4"), ("q5", "a5")]
    assert log.thread_history(9) == []


def test_the_rate_limit_counts_per_user_in_a_rolling_window(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    limiter = RateLimiter(limit=2, window=60)

    limiter.hit(1)
    limiter.hit(1)
    limiter.hit(2)
    with pytest.raises(RateLimitedError, match="try again in 60 s"):
        limiter.hit(1)

    now[0] += 30
    with pytest.raises(RateLimitedError, match="try again in 30 s"):
        limiter.hit(1)
    now[0] += 30
    limiter.hit(1)
