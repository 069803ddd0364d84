"""The local SQLite log of answers given and the 👍/👎 votes on them.

Answers are logged when they are sent, so a vote (whose button carries only the answer id)
can be stored with its question, answer, citations and latency even after a restart, and so a
thread's earlier questions are at hand for follow-ups. Users are kept only as a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bot.answer import Answer
from index.errors import CitebotError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    thread_id INTEGER,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    refused INTEGER NOT NULL,
    citations TEXT NOT NULL,
    latency_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_thread ON answers (thread_id, id);
CREATE TABLE IF NOT EXISTS votes (
    answer_id INTEGER NOT NULL REFERENCES answers (id),
    user_hash TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    updated TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_hash)
);
"""


class UnknownAnswerError(CitebotError):
    """A vote for an answer the log no longer holds."""


class FeedbackLog:
    """Answers and votes in one SQLite file; each call opens its own connection (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            # a per-install key, so a leaked log does not reveal user ids by brute force
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('user_salt', ?)",
                (secrets.token_hex(16),),
            )
            (salt,) = db.execute("SELECT value FROM meta WHERE key = 'user_salt'").fetchone()
        self._salt = bytes.fromhex(salt)

    @contextmanager
    def _db(self):
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            yield db

    def record_answer(self, answer: Answer, thread_id: int | None = None) -> int:
        """Log an answer as sent; returns its id (the one the vote buttons carry)."""
        citations = [
            {k: v for k, v in asdict(c).items() if k != "score"} | {"score": float(c.score)}
            for c in answer.citations
        ]
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO answers (created, thread_id, question, answer, refused, citations,"
                " latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    thread_id,
                    answer.question,
                    answer.text,
                    int(answer.refused),
                    json.dumps(citations, ensure_ascii=False),
                    float(answer.latency_ms),
                ),
            )
            return int(cur.lastrowid)

    def thread_history(self, thread_id: int, turns: int = 4) -> list[tuple[str, str]]:
        """The thread's last answered (question, answer) pairs, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT question, answer FROM answers WHERE thread_id = ? AND refused = 0"
                " ORDER BY id DESC LIMIT ?",
                (thread_id, turns),
            ).fetchall()
        return [(q, a) for q, a in reversed(rows)]

    def vote(self, answer_id: int, user_id: int, vote: int) -> int | None:
        """Set this user's vote (+1 or -1) on an answer; returns their previous vote, if any."""
        if vote not in (1, -1):
            raise ValueError(f"a vote is +1 or -1, not {vote!r}")
        user = self.user_hash(user_id)
        with self._db() as db:
            if db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                raise UnknownAnswerError("I no longer have that answer on record, sorry.")
            row = db.execute(
                "SELECT vote FROM votes WHERE answer_id = ? AND user_hash = ?", (answer_id, user)
            ).fetchone()
            db.execute(
                "INSERT INTO votes (answer_id, user_hash, vote, updated) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (answer_id, user_hash)"
                " DO UPDATE SET vote = excluded.vote, updated = excluded.updated",
                (answer_id, user, vote, _now()),
            )
        return row[0] if row else None

    def tally(self, answer_id: int) -> tuple[int, int]:
        """(👍, 👎) counts for an answer."""
        with self._db() as db:
            up, down = db.execute(
                "SELECT COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0)"
                " FROM votes WHERE answer_id = ?",
                (answer_id,),
            ).fetchone()
        return int(up), int(down)

    def user_hash(self, user_id: int) -> str:
        """The key under which a user's votes are stored."""
        return hmac.new(self._salt, str(user_id).encode(), hashlib.sha256).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
