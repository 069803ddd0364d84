"""The coverage report: what the answer log says the bot could not answer, and how it did.

Read from the log alone (`FeedbackLog`'s SQLite file, opened read-only) and the fetch state of
each library's fetched folder: refused questions grouped by meaning, answers voted down,
answers whose claims the check dropped, answer and refusal rates and votes per day, the
articles and feeds cited most, and feeds that fail or brought nothing new for a week.

The log holds no user ids and no mention ids; with `show_private=False` (what `/report` shows
in Discord) private answers are counted but none of their text is shown.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from index.errors import CitebotError
from index.ingest.feeds.archive import STATE_FILE, parse_when

# Refused questions whose embeddings are at least this close are one group. Not tuned on data
# yet: it groups the three rewordings of tests/test_coverage.py and keeps their other
# questions apart; a wrong merge shows as a group with more wordings than it should have.
SAME_MEANING = 0.75
# Only the most asked distinct wordings are embedded, so that a log of 100k answers reports in
# seconds; the rest are grouped by their exact wording alone.
MAX_EMBEDDED = 1000
# A feed that brought no new article for this long is listed.
STALE_AFTER = timedelta(days=7)
# Rows of each list section (groups, answers); the counts above them cover everything.
TOP = 20

Embed = Callable[[Sequence[str]], np.ndarray]

_MARKED = re.compile(r"([^\[\]]+?)\s*((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+)")


class ReportError(CitebotError):
    """The answer log can't be reported on: missing, not a log, or with nothing in it."""


@dataclass(frozen=True)
class Row:
    """One logged answer, as the report reads it."""

    id: int
    created: datetime
    question: str
    answer: str
    refused: bool
    private: bool
    library: str
    citations: str  # JSON, parsed only where a section needs it
    best_relevance: float | None
    dropped: str  # JSON
    up: int
    down: int


@dataclass
class RefusalGroup:
    """Refused questions of one meaning: how often, the most asked wording, the last time."""

    wording: str
    count: int
    newest: str
    wordings: int = 1
    best_relevance: float | None = None  # the highest gate score among them: how near it came


@dataclass
class Claim:
    """A claim of a logged answer and the citation numbers it carries."""

    text: str
    sources: list[int]


@dataclass
class Source:
    """A citation of a logged answer: its number, article title and url."""

    number: int
    title: str
    url: str


@dataclass
class DownVoted:
    """An answer voted down: its claims and the sources it cited (no text when private)."""

    id: int
    day: str
    question: str
    up: int
    down: int
    claims: list[Claim]
    sources: list[Source]
    private: bool = False


@dataclass
class DroppedClaim:
    """A claim the check dropped from a logged answer, and the rule that did."""

    claim: str
    rule: str
    detail: str
    score: float | None = None


@dataclass
class Dropped:
    """An answer some of whose claims the citation check dropped, and by which rule."""

    id: int
    day: str
    question: str
    refused: bool
    claims: list[DroppedClaim]
    private: bool = False


class _Rates:
    """Shares of the questions answered and refused."""

    questions: int
    answered: int
    refused: int

    @property
    def answer_rate(self) -> float:
        return self.answered / self.questions if self.questions else 0.0

    @property
    def refusal_rate(self) -> float:
        return self.refused / self.questions if self.questions else 0.0


@dataclass
class Day(_Rates):
    """One day of the log: questions, answers, refusals and votes."""

    day: str
    questions: int = 0
    answered: int = 0
    refused: int = 0
    up: int = 0
    down: int = 0


@dataclass
class Cited:
    """An article or feed and how often answers cited it."""

    name: str
    url: str
    count: int


@dataclass
class FeedProblem:
    """A configured feed that fails, or that brought nothing new for `STALE_AFTER`."""

    library: str
    feed: str
    problem: str


@dataclass
class FeedState:
    """One library's configured feeds and its fetched folder's state (empty: none yet)."""

    library: str
    feeds: Sequence[str]
    state: Mapping[str, Any]


@dataclass
class CoverageReport(_Rates):
    """Every section of the report; `as_dict` for `--json`."""

    generated: str
    since_days: int | None
    library: str | None
    questions: int
    answered: int
    refused: int
    private: int
    up: int
    down: int
    refusal_groups: list[RefusalGroup]
    grouped_by_wording_only: int  # distinct refused wordings beyond MAX_EMBEDDED
    private_refused: int  # refusals of private questions, when their text is not shown
    down_voted: list[DownVoted]
    down_voted_total: int
    dropped: list[Dropped]
    dropped_total: int
    dropped_by_rule: dict[str, int]
    days: list[Day]
    articles: list[Cited]
    feeds: list[Cited]
    feed_problems: list[FeedProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as `--json` prints it, its rates rounded."""
        out = asdict(self)
        out["answer_rate"] = round(self.answer_rate, 4)
        out["refusal_rate"] = round(self.refusal_rate, 4)
        for day, row in zip(self.days, out["days"], strict=True):
            row["answer_rate"] = round(day.answer_rate, 4)
            row["refusal_rate"] = round(day.refusal_rate, 4)
        return out


def read_log(
    path: Path,
    since_days: int | None = None,
    library: str | None = None,
    now: datetime | None = None,
) -> list[Row]:
    """The logged answers of the last `since_days` (all by default) of `library` (all by
    default), oldest first, with their vote counts; `ReportError` for a missing or bad log."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"no answer log at {path} (FEEDBACK_DB): the bot has logged nothing yet")
    where, args = [], []
    if since_days is not None:
        start = (now or datetime.now(UTC)) - timedelta(days=since_days)
        where.append("a.created >= ?")
        args.append(start.isoformat(timespec="seconds"))
    if library is not None:
        where.append("a.library = ?")
        args.append(library)
    sql = (
        "SELECT a.id, a.created, a.question, a.answer, a.refused, a.private, a.library,"
        " a.citations, a.best_relevance, a.dropped,"
        " COALESCE(v.up, 0), COALESCE(v.down, 0) FROM answers a LEFT JOIN"
        " (SELECT answer_id, SUM(vote = 1) AS up, SUM(vote = -1) AS down FROM votes"
        " GROUP BY answer_id) v ON v.answer_id = a.id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY a.id"
    )
    try:
        # read-only: a report never creates, migrates or locks the bot's log
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
            columns = {r[1] for r in db.execute("PRAGMA table_info(answers)")}
            if not columns:
                raise ReportError(f"{path} is not an answer log: it has no answers table")
            if "library" not in columns:
                raise ReportError(
                    f"{path} is an answer log from an older citebot: start the bot (or "
                    "`citebot ask`) once to bring it up to date, then report"
                )
            raw = db.execute(sql, args).fetchall()
    except sqlite3.DatabaseError as exc:
        raise ReportError(f"{path} is not a readable answer log ({exc})") from None
    try:
        return [
            Row(
                r[0],
                _when(r[1]),
                r[2],
                r[3],
                bool(r[4]),
                bool(r[5]),
                r[6],
                r[7],
                r[8],
                r[9],
                int(r[10]),
                int(r[11]),
            )
            for r in raw
        ]
    except ValueError as exc:
        raise ReportError(f"{path} holds a row that is not an answer ({exc})") from None


def read_fetch_state(fetched_dir: Path) -> dict[str, Any]:
    """The fetch state of a fetched folder; empty when there is none or it can't be read."""
    try:
        state = json.loads((Path(fetched_dir) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def build_report(
    rows: Sequence[Row],
    embed: Embed | None,
    fetch_states: Iterable[FeedState] = (),
    *,
    since_days: int | None = None,
    library: str | None = None,
    show_private: bool = True,
    now: datetime | None = None,
    top: int = TOP,
) -> CoverageReport:
    """The report over `rows`; `embed` groups refused questions by meaning (None: by wording).

    `ReportError` when there is nothing to report on.
    """
    now = now or datetime.now(UTC)
    if not rows:
        window = f" in the last {since_days} days" if since_days else ""
        of = f" of library {library}" if library else ""
        raise ReportError(f"the answer log has no answers{of}{window}: nothing to report yet")
    shown = [r for r in rows if show_private or not r.private]
    refused_shown = [r for r in shown if r.refused]
    groups, unembedded = group_refusals(refused_shown, embed)
    down_rows = sorted(
        (r for r in rows if r.down > 0), key=lambda r: (r.down - r.up, r.id), reverse=True
    )
    dropped_rows = [r for r in reversed(rows) if r.dropped not in ("", "[]")]
    dropped = [_dropped(r, show_private) for r in dropped_rows]
    by_rule = Counter(c.rule for d in dropped for c in d.claims)
    # a private answer's claims are not shown, but the rules that dropped them still count
    articles, feeds = cited_most(rows, [s.state for s in fetch_states], top)
    return CoverageReport(
        generated=now.isoformat(timespec="seconds"),
        since_days=since_days,
        library=library,
        questions=len(rows),
        answered=sum(not r.refused for r in rows),
        refused=sum(r.refused for r in rows),
        private=sum(r.private for r in rows),
        up=sum(r.up for r in rows),
        down=sum(r.down for r in rows),
        refusal_groups=groups[:top],
        grouped_by_wording_only=unembedded,
        private_refused=0 if show_private else sum(r.refused and r.private for r in rows),
        down_voted=[_down_voted(r, show_private) for r in down_rows[:top]],
        down_voted_total=len(down_rows),
        dropped=[d for d in dropped if d.claims][:top],
        dropped_total=len(dropped_rows),
        dropped_by_rule=dict(by_rule.most_common()),
        days=per_day(rows),
        articles=articles,
        feeds=feeds,
        feed_problems=[p for s in fetch_states for p in feed_problems(s, now)],
    )


def normalise(question: str) -> str:
    """A question as compared for exact repeats: case, spacing and final marks ignored."""
    return " ".join(question.casefold().split()).rstrip("?!. ")


def group_refusals(rows: Sequence[Row], embed: Embed | None) -> tuple[list[RefusalGroup], int]:
    """Refused questions grouped by meaning, most asked (then newest) first, and how many
    distinct wordings were grouped by their wording alone (beyond `MAX_EMBEDDED`)."""
    # distinct wordings first: a question asked 500 times is embedded once
    by_wording: dict[str, RefusalGroup] = {}
    for r in rows:
        key = normalise(r.question)
        g = by_wording.get(key)
        day = r.created.date().isoformat()
        if g is None:
            by_wording[key] = RefusalGroup(r.question, 1, day, 1, r.best_relevance)
        else:
            g.count += 1
            g.newest = max(g.newest, day)
            g.wording = r.question  # the latest spelling of it
            g.best_relevance = _max(g.best_relevance, r.best_relevance)
    ranked = sorted(by_wording.values(), key=lambda g: (g.count, g.newest), reverse=True)
    head, tail = ranked[:MAX_EMBEDDED], ranked[MAX_EMBEDDED:]
    if embed is None or len(head) < 2:
        return ranked, len(tail) if embed is not None else 0
    vectors = np.asarray(embed([g.wording for g in head]), dtype=np.float32)
    # greedy: each wording joins the first (most asked) group whose wording it is close to,
    # so a group's representative is its most asked wording
    leaders: list[int] = []
    merged: list[RefusalGroup] = []
    for i, g in enumerate(head):
        if leaders:
            sims = vectors[leaders] @ vectors[i]
            j = int(np.argmax(sims))
            if sims[j] >= SAME_MEANING:
                into = merged[j]
                into.count += g.count
                into.wordings += 1
                into.newest = max(into.newest, g.newest)
                into.best_relevance = _max(into.best_relevance, g.best_relevance)
                continue
        leaders.append(i)
        merged.append(RefusalGroup(g.wording, g.count, g.newest, 1, g.best_relevance))
    out = sorted(merged, key=lambda g: (g.count, g.newest), reverse=True) + tail
    return out, len(tail)


def claims_of(text: str) -> list[Claim]:
    """An answer's claims (the text before each run of `[n]` markers) and what they cite."""
    out = []
    for m in _MARKED.finditer(text):
        claim = m[1].strip().lstrip(".!?;: ").strip()
        if claim:
            out.append(Claim(claim, [int(n) for n in re.findall(r"\d+", m[2])]))
    return out


def per_day(rows: Iterable[Row]) -> list[Day]:
    """Questions, answers, refusals and votes per day (votes by their answer's day), oldest
    first, days without questions included."""
    days: dict[str, Day] = {}
    for r in rows:
        key = r.created.date().isoformat()
        d = days.get(key)
        if d is None:
            d = days[key] = Day(key)
        d.questions += 1
        d.refused += r.refused
        d.answered += not r.refused
        d.up += r.up
        d.down += r.down
    if not days:
        return []
    first = datetime.fromisoformat(min(days)).date()
    last = datetime.fromisoformat(max(days)).date()
    span = (last - first).days
    every = ((first + timedelta(days=i)).isoformat() for i in range(span + 1))
    return [days.get(d) or Day(d) for d in every]


def cited_most(
    rows: Iterable[Row], states: Sequence[Mapping[str, Any]], top: int = TOP
) -> tuple[list[Cited], list[Cited]]:
    """The articles cited most, and the feeds they came from (else their outlet, host or
    file)."""
    feed_of = _feed_of_url(states)
    articles: Counter[tuple[str, str]] = Counter()
    feeds: Counter[str] = Counter()
    for r in rows:
        if r.refused or r.citations in ("", "[]"):
            continue
        for c in json.loads(r.citations):
            url = c.get("url") or ""
            articles[(c.get("title") or url or "(untitled)", url)] += 1
            outlet = c.get("publisher") or urlsplit(url).hostname or c.get("source")
            feeds[feed_of.get(url) or outlet or "?"] += 1
    return (
        [Cited(title, url, n) for (title, url), n in articles.most_common(top)],
        [Cited(name, name if "://" in name else "", n) for name, n in feeds.most_common(top)],
    )


def feed_problems(feeds: FeedState, now: datetime) -> list[FeedProblem]:
    """Each configured feed that fails now, was never read, or brought nothing new for a
    week (by the time it last brought a new article, else by its newest stored article)."""
    state = feeds.state
    known = state.get("feeds", {}) if isinstance(state.get("feeds"), dict) else {}
    newest = _newest_article_per_feed(state)
    out = []
    for url in feeds.feeds:
        entry = known.get(url)
        if not entry:
            out.append(FeedProblem(feeds.library, url, "never read"))
            continue
        if entry.get("error"):
            since = _day(entry.get("failing_since"))
            out.append(FeedProblem(feeds.library, url, f"failing since {since}: {entry['error']}"))
            continue
        last_new = parse_when(entry.get("new_at")) or newest.get(url)
        if last_new is None:
            out.append(FeedProblem(feeds.library, url, "never brought an article"))
        elif now - last_new >= STALE_AFTER:
            days = (now - last_new).days
            out.append(
                FeedProblem(
                    feeds.library, url, f"nothing new for {days} days (since {_day(last_new)})"
                )
            )
    return out


def _feed_of_url(states: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Article URL (as listed, and as stored) → the feed that listed it."""
    out: dict[str, str] = {}
    for state in states:
        pages, articles = state.get("pages", {}), state.get("articles", {})
        for feed, meta in (state.get("feeds") or {}).items():
            for e in meta.get("entries", []) or []:
                url = e.get("url", "")
                out.setdefault(url, feed)
                article = (pages.get(url) or {}).get("article")
                stored = (articles.get(article) or {}).get("url") if article else None
                if stored:
                    out.setdefault(stored, feed)
    return out


def _newest_article_per_feed(state: Mapping[str, Any]) -> dict[str, datetime]:
    """Feed → when the newest article it listed was stored (for states from before `new_at`)."""
    pages, articles = state.get("pages", {}), state.get("articles", {})
    out: dict[str, datetime] = {}
    for feed, meta in (state.get("feeds") or {}).items():
        for e in meta.get("entries", []) or []:
            article = (pages.get(e.get("url", "")) or {}).get("article")
            when = parse_when((articles.get(article) or {}).get("stored")) if article else None
            if when and (feed not in out or when > out[feed]):
                out[feed] = when
    return out


def _down_voted(r: Row, show_private: bool) -> DownVoted:
    day = r.created.date().isoformat()
    if r.private and not show_private:
        return DownVoted(r.id, day, "", r.up, r.down, [], [], private=True)
    sources = [
        Source(int(c.get("number", 0)), c.get("title", ""), c.get("url", ""))
        for c in json.loads(r.citations or "[]")
    ]
    return DownVoted(r.id, day, r.question, r.up, r.down, claims_of(r.answer), sources, r.private)


def _dropped(r: Row, show_private: bool) -> Dropped:
    claims = [
        DroppedClaim(d.get("claim", ""), d.get("rule", "?"), d.get("detail", ""), d.get("score"))
        for d in json.loads(r.dropped)
    ]
    day = r.created.date().isoformat()
    if r.private and not show_private:
        claims = [DroppedClaim("", c.rule, "", c.score) for c in claims]
        return Dropped(r.id, day, "", r.refused, claims, private=True)
    return Dropped(r.id, day, r.question, r.refused, claims, r.private)


def _when(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _day(value: str | datetime | None) -> str:
    when = value if isinstance(value, datetime) else parse_when(value)
    return when.date().isoformat() if when else "?"


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)
