"""The local SQLite log of answers given and the 👍/👎 votes on them.

Answers are logged when they are sent, so a vote (whose button carries only the answer id)
can be stored with its question, answer, citations and latency even after a restart, and so a
thread's earlier questions are at hand for follow-ups.

Nothing in the log leads back to a person: voters and threads (whose ids are those of the
question's message) are stored as HMACs under a key kept *outside* the log, mention ids are
taken out of stored text, and private answers belong to no thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sqlite3
from collections.abc import Hashable
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bot.answering.answer import Answer
from index.errors import CitebotError, ConfigError
from index.settings import DiscordSettings

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    refused INTEGER NOT NULL,
    citations TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    thread_key TEXT,
    private INTEGER NOT NULL DEFAULT 0,
    library TEXT NOT NULL DEFAULT '',
    best_relevance REAL,
    dropped TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id INTEGER NOT NULL REFERENCES answers (id),
    user_hash TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    updated TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_hash)
);
"""

# user, nickname, role and channel mentions: `<@1>`, `<@!1>`, `<@&1>`, `<#1>`
# Columns added since the first logs, with what an older row reads as: a log written before
# them stays readable (its answers count for no library, with no gate score or dropped claims).
_ADDED_COLUMNS = {
    "library": "TEXT NOT NULL DEFAULT ''",
    "best_relevance": "REAL",
    "dropped": "TEXT NOT NULL DEFAULT '[]'",
}

_MENTION = re.compile(r"<(@!?|@&|#)\d+>")
_MENTION_AS = {"@": "@user", "@!": "@user", "@&": "@role", "#": "#channel"}


class UnknownAnswerError(CitebotError):
    """A vote for an answer the log no longer holds."""


def scrub_mentions(text: str) -> str:
    """`text` with Discord mention ids replaced by what they stand for ("@user", "#channel")."""
    return _MENTION.sub(lambda m: _MENTION_AS[m[1]], text)


def key_path(db_path: Path) -> Path:
    """Where the log's HMAC key lives unless `FEEDBACK_KEY` is set: beside the log."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".key")


class FeedbackLog:
    """Answers and votes in one SQLite file; each call opens its own connection (thread-safe).

    `key` (the `FEEDBACK_KEY` setting) keys the hashes; without it a random key is kept in
    `<log>.key`, created owner-only. A log from before the key moved out is migrated on open.
    """

    def __init__(self, path: Path, key: str | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'user_salt'").fetchone()
        legacy = bytes.fromhex(row[0]) if row else None
        if key:
            if legacy is not None:
                log.warning(
                    "FEEDBACK_KEY replaces the key stored in %s: votes cast before now are "
                    "keyed differently, so a member may vote once more on those answers",
                    self.path,
                )
            self._key = key.encode()
        else:
            self._key = _file_key(key_path(self.path), legacy)
        self._migrate()

    @classmethod
    def from_settings(cls, settings: DiscordSettings) -> FeedbackLog:
        """The log at FEEDBACK_DB, keyed by FEEDBACK_KEY when it is set."""
        key = settings.feedback_key.get_secret_value() if settings.feedback_key else None
        return cls(settings.feedback_db, key)

    @contextmanager
    def _db(self):
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            yield db

    def _migrate(self) -> None:
        """Bring a log from before keyed threads up to date, then drop its in-file key."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")  # one process migrates; others then find it done
            columns = {row[1] for row in db.execute("PRAGMA table_info(answers)")}
            rewritten = "thread_id" in columns
            if rewritten:
                db.create_function("keyed_thread", 1, self._thread_key, deterministic=True)
                db.create_function("scrub", 1, scrub_mentions, deterministic=True)
                db.execute("DROP INDEX IF EXISTS answers_by_thread")
                db.execute("ALTER TABLE answers ADD COLUMN thread_key TEXT")
                db.execute("ALTER TABLE answers ADD COLUMN private INTEGER NOT NULL DEFAULT 0")
                db.execute(
                    "UPDATE answers SET thread_key = keyed_thread(thread_id),"
                    " question = scrub(question), answer = scrub(answer)"
                )
                db.execute("ALTER TABLE answers DROP COLUMN thread_id")
                columns = {row[1] for row in db.execute("PRAGMA table_info(answers)")}
            for name, declaration in _ADDED_COLUMNS.items():
                if name not in columns:
                    db.execute(f"ALTER TABLE answers ADD COLUMN {name} {declaration}")
            db.execute(
                "CREATE INDEX IF NOT EXISTS answers_by_thread ON answers (thread_key, private, id)"
            )
            # the coverage report reads a window of days
            db.execute("CREATE INDEX IF NOT EXISTS answers_by_time ON answers (created)")
            db.execute("PRAGMA secure_delete = ON")
            dropped = db.execute("DELETE FROM meta WHERE key = 'user_salt'").rowcount
        if rewritten or dropped:
            # deleted rows linger in free pages and the WAL until both are rewritten
            with closing(sqlite3.connect(self.path, timeout=10)) as db:
                db.execute("VACUUM")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            log.info("feedback log %s migrated: ids keyed, key kept apart", self.path)

    def record_answer(
        self,
        answer: Answer,
        thread_id: Hashable | None = None,
        private: bool = False,
        library: str = "",
    ) -> int:
        """Log an answer as sent; returns its id (the one the vote buttons carry).

        A private answer is logged for its votes but in no thread: it never becomes history.
        The gate's score and the claims the check dropped are kept for the coverage report.
        """
        citations = [
            {k: v for k, v in c.as_dict().items() if k != "score"} | {"score": float(c.score)}
            for c in answer.citations
        ]
        dropped = [
            {k: scrub_mentions(v) if isinstance(v, str) else v for k, v in d.items()}
            for d in answer.dropped_claims
        ]
        thread_key = None if private or thread_id is None else self._thread_key(thread_id)
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO answers (created, thread_key, private, question, answer, refused,"
                " citations, latency_ms, library, best_relevance, dropped)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    thread_key,
                    int(private),
                    scrub_mentions(answer.question),
                    scrub_mentions(answer.text),
                    int(answer.refused),
                    json.dumps(citations, ensure_ascii=False),
                    float(answer.latency_ms),
                    library,
                    answer.relevance,
                    json.dumps(dropped, ensure_ascii=False),
                ),
            )
            return int(cur.lastrowid)

    def thread_history(self, thread_id: Hashable, turns: int = 4) -> list[tuple[str, str]]:
        """The thread's last answered public (question, answer) pairs, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT question, answer FROM answers"
                " WHERE thread_key = ? AND private = 0 AND refused = 0 ORDER BY id DESC LIMIT ?",
                (self._thread_key(thread_id), turns),
            ).fetchall()
        return [(q, a) for q, a in reversed(rows)]

    def vote(self, answer_id: int, user_id: Hashable, vote: int) -> int | None:
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

    def user_hash(self, user_id: Hashable) -> str:
        """The key under which a user's votes are stored."""
        return hmac.new(self._key, str(user_id).encode(), hashlib.sha256).hexdigest()

    def _thread_key(self, thread_id: Hashable | None) -> str | None:
        # a prefix keeps thread keys apart from user hashes made with the same key
        if thread_id is None:
            return None
        return hmac.new(self._key, f"thread:{thread_id}".encode(), hashlib.sha256).hexdigest()


def _file_key(path: Path, legacy: bytes | None) -> bytes:
    """The key in `path`; created first (from a legacy in-log key, or at random) if missing."""
    if not path.exists():
        _create_key_file(path, legacy or secrets.token_bytes(32))
    mode = path.stat().st_mode & 0o777
    if os.name == "posix" and mode & 0o077:
        log.warning("%s is readable by others (mode %o); run: chmod 600 %s", path, mode, path)
    try:
        return bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise ConfigError(
            f"{path} (the feedback log's key) is not a hex key: restore it, or delete it to "
            "start a new key (earlier votes then count as another member's)"
        ) from None


def _create_key_file(path: Path, key: bytes) -> None:
    """Write `key` to `path` owner-only and all at once; a key another process wrote first wins."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(key.hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        # a link never replaces an existing file, unlike os.replace
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink(missing_ok=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
