"""Load check for the Discord bot: N members @mention it at the same moment.

The real bot code (`Citebot`) and the real pipeline run against SimCord's in-process Discord;
the script reports how many questions were answered, answer latency (p50/p95/max, from the
question to the bot's answer message) and the longest event-loop stall while they were being
answered (target: at most 100 ms).

    python benchmarks/bot_load.py                      # 50 questions over data/articles
    python benchmarks/bot_load.py -n 100 --articles my/articles --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STALL_TARGET_MS = 100.0
QUESTIONS = [
    "How much was trade between Russia and China last year?",
    "What did Putin say about the partnership with China?",
    "Where did Putin visit in the northeast of China?",
    "How often will Xi and Putin visit each other's countries?",
    "What does the no limits partnership mean for Ukraine?",
    "Who won the 2018 FIFA World Cup?",
    "How has China helped Russia with Western sanctions?",
    "What are the two leaders focusing on during the visit?",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--questions", type=int, default=50, help="questions asked at once")
    p.add_argument("--articles", type=Path, default=ROOT / "data" / "articles")
    p.add_argument("--questions-file", type=Path, help="one question per line (default: built-in)")
    p.add_argument("--model-cache", type=Path, default=ROOT / ".citebot" / "models")
    p.add_argument("--work", type=Path, help="folder for the index and logs (default: a temp dir)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p.parse_args(argv)


def build(args: argparse.Namespace, work: Path):
    """Settings, a fresh index of `--articles` and the real pipeline."""
    from bot.answering.pipeline import build_pipeline, load_default_embedder
    from index.build.builder import build_index
    from index.settings import Settings

    settings = Settings(
        _env_file=None,
        ARTICLES_DIR=args.articles,
        CHROMA_PATH=work / "chroma",
        MODEL_CACHE=args.model_cache,
        FEEDBACK_DB=work / "feedback.sqlite3",
    )
    embedder = load_default_embedder(settings.index)
    build_index(settings.index, embedder)
    return settings, build_pipeline(settings.index, settings.answering, embedder)


class StallWatch:
    """The longest time the event loop failed to wake a 5 ms sleeper on schedule."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.worst = max(self.worst, time.perf_counter() - start - self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    def stop(self) -> None:
        self._task.cancel()


async def load(settings, pipeline, questions: list[str]) -> dict:
    """Ask every question at once, each from its own member; wait until all are answered."""
    import simcord

    from bot.discord.app import make_bot, open_libraries
    from bot.serving.feedback import FeedbackLog
    from index.library_config import implicit_library

    shelf = [(implicit_library(settings.index, settings.fetching), pipeline)]
    feedback = FeedbackLog(settings.feedback_db)
    bot = make_bot(settings.discord, open_libraries(settings.discord, shelf, feedback), feedback)
    async with simcord.run(bot, settle_timeout=600) as env:
        guild = env.create_guild("Load")
        channel = guild.create_text_channel("general")
        members = [guild.add_member(env.create_user(f"user{i}")) for i in range(len(questions))]
        await env.settle()
        asked: dict[str, float] = {}
        answered: dict[str, float] = {}

        def on_event(event: str, payload) -> None:
            # an answer is the bot's message carrying the vote buttons, in the question's thread
            if (
                event == "MESSAGE_CREATE"
                and payload["author"]["id"] == str(env.bot.user.id)
                and payload.get("components")
                and payload["channel_id"] in asked
            ):
                answered.setdefault(payload["channel_id"], time.perf_counter())

        env.backend.subscribers.append(on_event)
        watch = StallWatch()
        watch.start()
        started, cpu = time.perf_counter(), time.process_time()
        for member, question in zip(members, questions, strict=True):
            # straight into the simulated Discord, so all questions are in flight together
            message = env.backend.create_message(
                channel.id, member.id, f"{env.bot.user.mention} {question}"
            )
            asked[str(message.id)] = time.perf_counter()
        await env.settle(timeout=600)
        wall = time.perf_counter() - started
        # every thread of the process (the model's, the simulated Discord's): what a server pays
        cpu_s = time.process_time() - cpu
        watch.stop()

    latencies = sorted((answered[k] - asked[k]) * 1000 for k in answered)
    return {
        "questions": len(questions),
        "answered": len(answered),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(_percentile(latencies, 95), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "wall_s": round(wall, 2),
        "cpu_ms_per_question": round(cpu_s * 1000 / len(answered), 1) if answered else None,
        "longest_stall_ms": round(watch.worst * 1000, 1),
        "stall_target_ms": STALL_TARGET_MS,
    }


def _percentile(sorted_values: list[float], pct: float) -> float:
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # discord.py's voice warnings and SimCord's intent-less probe client are noise here
    logging.getLogger("discord").setLevel(logging.ERROR)
    pool = (
        [q for q in args.questions_file.read_text().splitlines() if q.strip()]
        if args.questions_file
        else QUESTIONS
    )
    questions = [pool[i % len(pool)] for i in range(args.questions)]
    with tempfile.TemporaryDirectory(prefix="citebot-load-") as tmp:
        work = args.work or Path(tmp)
        settings, pipeline = build(args, work)
        report = asyncio.run(load(settings, pipeline, questions))
    ok = report["answered"] == report["questions"] and (
        report["longest_stall_ms"] <= STALL_TARGET_MS
    )
    if args.json:
        print(json.dumps(report | {"ok": ok}))
    else:
        print(
            f"{report['answered']}/{report['questions']} answered in {report['wall_s']} s; "
            f"latency p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms, "
            f"max {report['max_ms']} ms; CPU {report['cpu_ms_per_question']} ms per question "
            f"(both cores, Discord simulation included); longest event-loop stall "
            f"{report['longest_stall_ms']} ms (target ≤ {STALL_TARGET_MS:.0f} ms): "
            + ("OK" if ok else "NOT MET")
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
