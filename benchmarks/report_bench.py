"""How long `citebot report` takes on a large log: writes a synthetic log of N answers (default
100,000: answers, refusals, votes, dropped claims over 90 days) and times reading it, building
the report (with the real embedder grouping refused questions) and rendering text and HTML.

    .venv/bin/python benchmarks/report_bench.py [--answers 100000] [--log PATH]

Prints the figures; not a test.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.serving.coverage import build_report, read_log
from bot.serving.coverage_html import render_html
from bot.serving.coverage_text import format_text
from bot.serving.feedback import FeedbackLog
from index.build.embeddings import load_embedder
from index.settings import Settings

TOPICS = [
    "weather on Mars",
    "the 1998 world cup",
    "bitcoin's price",
    "the next eclipse",
    "the election in Peru",
    "the new iPhone",
    "interest rates in Japan",
    "a cure for flu",
]
FORMS = [
    "What about {}?",
    "Tell me about {}",
    "what do we know of {}",
    "Any news on {}?",
    "{} — what happened?",
    "Can you explain {}?",
]


def write_log(path: Path, answers: int, seed: int = 0) -> None:
    """A log of `answers` rows in the bot's schema, a third refused, some voted down."""
    FeedbackLog(path, "k" * 40)  # the schema, as the bot makes it
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=90)
    citation = [
        {
            "number": 1,
            "title": "Trade hits a record",
            "url": "https://news.example/1",
            "source": "news.jsonl",
            "publisher": "News",
            "quote": "Trade rose.",
            "score": 0.8,
        }
    ]
    rows, votes = [], []
    for i in range(1, answers + 1):
        refused = rng.random() < 0.33
        topic = rng.choice(TOPICS) + (
            f" in {rng.randint(1990, 2030)}" if rng.random() < 0.2 else ""
        )
        question = rng.choice(FORMS).format(topic)
        dropped = (
            [{"claim": "Trade rose 40%.", "rule": "number", "detail": "40%", "passage": 1}]
            if not refused and rng.random() < 0.05
            else []
        )
        created = start + timedelta(seconds=i * 90 * 86400 / answers)
        rows.append(
            (
                i,
                created.isoformat(timespec="seconds"),
                question,
                "I don't know." if refused else "Trade rose [1].",
                int(refused),
                "[]" if refused else json.dumps(citation),
                100.0,
                None,
                int(rng.random() < 0.1),
                "news",
                rng.random(),
                json.dumps(dropped),
            )
        )
        if not refused and rng.random() < 0.05:
            votes.append((i, f"u{i}", rng.choice((-1, 1)), created.isoformat()))
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO answers (id, created, question, answer, refused, citations, latency_ms,"
            " thread_key, private, library, best_relevance, dropped)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.executemany("INSERT INTO votes VALUES (?, ?, ?, ?)", votes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--log", type=Path, default=None, help="Write the log here (kept).")
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.log or Path(tmp) / "feedback.db"
        t0 = time.perf_counter()
        write_log(path, args.answers)
        t1 = time.perf_counter()
        embedder = load_embedder(
            settings.embedding_model, settings.embedding_backend, settings.model_cache
        )
        t2 = time.perf_counter()
        rows = read_log(path)
        t3 = time.perf_counter()
        report = build_report(rows, embedder.embed)
        t4 = time.perf_counter()
        text, page = format_text(report), render_html(report)
        t5 = time.perf_counter()
    print(f"cpu: {_cpu()}")
    print(f"log of {len(rows):,} answers written in {t1 - t0:.1f} s (not part of the report)")
    print(f"model loaded in {t2 - t1:.1f} s")
    print(f"read the log:     {t3 - t2:.2f} s")
    print(
        f"build the report: {t4 - t3:.2f} s "
        f"({len(report.refusal_groups)} groups of {report.refused:,} refusals shown)"
    )
    print(f"render text+HTML: {t5 - t4:.2f} s ({len(text):,} + {len(page):,} characters)")
    print(f"report total:     {t5 - t2:.2f} s")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
