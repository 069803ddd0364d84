"""The answer and vote log, and the per-user rate limit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from contextlib import closing

import pytest
from pydantic import ValidationError

from bot.answering.answer import Answer, Citation
from bot.serving.feedback import FeedbackLog, UnknownAnswerError, key_path
from bot.serving.ratelimit import RateLimitedError, RateLimiter
from index.ingest.provenance import Provenance
from index.settings import Settings


@pytest.fixture
def log(tmp_path) -> FeedbackLog:
    return FeedbackLog(tmp_path / "nested" / "feedback.db")


def answer(question: str = "q?", text: str = "a [1].", refused: bool = False) -> Answer:
    citation = Citation(1, Provenance(title="Title"), "a quote", "chunk-1", 0.8)
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


# --- what the log keeps, and where its key lives --------------------------------------------

# the log as it was before its key moved out: the key in `meta`, raw thread ids
OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE answers (id INTEGER PRIMARY KEY, created TEXT NOT NULL, thread_id INTEGER,
    question TEXT NOT NULL, answer TEXT NOT NULL, refused INTEGER NOT NULL,
    citations TEXT NOT NULL, latency_ms REAL NOT NULL);
CREATE INDEX answers_by_thread ON answers (thread_id, id);
CREATE TABLE votes (answer_id INTEGER NOT NULL REFERENCES answers (id), user_hash TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)), updated TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_hash));
"""
THREAD = 1_234_567_890_123_456_789
KEY = "k" * 40


def log_bytes(path) -> bytes:
    """Everything SQLite keeps of the log on disk: the file, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.suffix != ".key")


def test_the_key_is_kept_apart_from_the_log_owner_only(log):
    log.vote(log.record_answer(answer()), 42, 1)

    key_file = key_path(log.path)
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = bytes.fromhex(key_file.read_text())
    assert log.user_hash(42) == hmac.new(key, b"42", hashlib.sha256).hexdigest()
    with sqlite3.connect(log.path) as db:
        assert db.execute("SELECT * FROM meta").fetchall() == []
    assert key.hex().encode() not in log_bytes(log.path) and key not in log_bytes(log.path)


def test_the_feedback_key_setting_wins_and_no_key_file_is_made(tmp_path):
    settings = Settings(_env_file=None, FEEDBACK_DB=tmp_path / "f.db", FEEDBACK_KEY=KEY)

    log = FeedbackLog.from_settings(settings.discord)

    assert log.user_hash(42) == hmac.new(KEY.encode(), b"42", hashlib.sha256).hexdigest()
    assert not key_path(log.path).exists()


def test_a_short_feedback_key_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(_env_file=None, FEEDBACK_KEY="hunter2")


def test_a_log_with_its_key_inside_is_migrated_and_keeps_its_votes_and_threads(tmp_path):
    path = tmp_path / "feedback.db"
    salt = secrets.token_hex(16)
    voter = hmac.new(bytes.fromhex(salt), b"42", hashlib.sha256).hexdigest()
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO meta VALUES ('user_salt', ?)", (salt,))
        db.execute(
            "INSERT INTO answers VALUES (1, 'then', ?, 'ask <@!987654321987654321>', 'a', 0,"
            " '[]', 1.0)",
            (THREAD,),
        )
        db.execute("INSERT INTO votes VALUES (1, ?, 1, 'then')", (voter,))

    log = FeedbackLog(path)

    assert key_path(path).read_text().strip() == salt
    assert log.vote(1, 42, 1) == 1  # the same member, recognised: their vote stays one
    assert log.thread_history(THREAD) == [("ask @user", "a")]
    stored = log_bytes(path)
    for gone in (salt, str(THREAD), "987654321987654321"):
        assert gone.encode() not in stored
    assert FeedbackLog(path).user_hash(42) == voter  # opening it again changes nothing


def test_stored_text_has_no_mention_ids(log):
    ids = ("1" * 18, "2" * 18, "3" * 18, "4" * 18)
    question = "<@{}> <@!{}> <@&{}> in <#{}>?".format(*ids)
    log.record_answer(answer(question, f"Said <@{ids[0]}> [1]."), thread_id=THREAD)

    with sqlite3.connect(log.path) as db:
        row = db.execute("SELECT * FROM answers").fetchone()
    assert "@user @user @role in #channel?" in row and "Said @user [1]." in row
    assert not any(i in str(row) for i in ids)
    assert str(THREAD) not in str(row)


def test_a_private_answer_is_no_threads_history(log):
    log.record_answer(answer("public", "p"), thread_id=THREAD)
    log.record_answer(answer("private", "secret"), thread_id=THREAD, private=True)

    assert log.thread_history(THREAD) == [("public", "p")]
