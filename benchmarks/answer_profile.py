"""Where one answer's time goes: each chain step timed, CPU per question, optional cProfile.

Runs the real pipeline over a question set against the eval's cached index of a corpus (the
one `citebot eval` builds), after a warm-up on three questions of no set:

    python benchmarks/answer_profile.py \\
        --questions ../shared/eval/realtimeqa-dev/questions.jsonl \\
        --corpus ../shared/eval/realtimeqa-dev/corpus.jsonl [--limit N] [--cprofile 25]

Prints wall ms per step (p50/p95 over the questions; the steps are the chain's runs as the
callbacks see them), the whole answer's p50/p95, and CPU ms per question (time.process_time:
every thread of the process, so both cores count).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = ["What happened this week?", "Who won the election?", "How much did prices rise?"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--repeat", type=int, default=1, help="measured passes over the questions")
    p.add_argument("--cprofile", type=int, default=0, help="print the top N functions")
    p.add_argument("--undated", action="store_true", help="ask without the question's date")
    p.add_argument("--slowest", type=int, default=5, help="list the N slowest answers")
    return p.parse_args(argv)


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else 0.0


def _step_timer() -> Any:
    """A callback handler timing each named chain step (condense, retrieve, …) per run."""
    from langchain_core.callbacks import BaseCallbackHandler

    class StepTimer(BaseCallbackHandler):
        def __init__(self) -> None:
            self.started: dict[UUID, tuple[str, float]] = {}
            self.spans: defaultdict[str, list[float]] = defaultdict(list)

        def on_chain_start(self, serialized, inputs, *, run_id, name=None, **kw) -> None:
            self.started[run_id] = (name or kw.get("name") or "chain", time.perf_counter())

        def on_chain_end(self, outputs, *, run_id, **kw) -> None:
            name, t = self.started.pop(run_id, ("?", time.perf_counter()))
            self.spans[name].append((time.perf_counter() - t) * 1000)

        def on_retriever_start(self, serialized, query, *, run_id, **kw) -> None:
            self.started[run_id] = ("retriever", time.perf_counter())

        def on_retriever_end(self, documents, *, run_id, **kw) -> None:
            name, t = self.started.pop(run_id, ("?", time.perf_counter()))
            self.spans[name].append((time.perf_counter() - t) * 1000)

    return StepTimer()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from bot.answering.pipeline import build_pipeline, load_default_embedder
    from bot.answering.retrieval import parse_date
    from bot.evaluation.evaluate import eval_settings, load_questions
    from index.build.builder import build_index
    from index.settings import Settings

    settings = Settings()
    index = eval_settings(settings.index, args.corpus)
    embedder = load_default_embedder(index)
    build_index(index, embedder, [args.corpus])  # cached: embeds nothing the second time
    pipeline = build_pipeline(index, settings.answering, embedder)
    questions = load_questions(args.questions, args.limit)
    asks = [
        (q["question"], None if args.undated else parse_date(q.get("question_date") or ""))
        for q in questions
    ]
    # warm-up: model sessions and first-call imports, on questions of no set so that the
    # per-text caches hold nothing of the measured ones (as a first asking finds them)
    for question in WARM_UP:
        pipeline.ask(question)

    timer = _step_timer()
    total: list[float] = []
    cpu: list[float] = []
    slow: list[tuple[float, float, str, dict[str, float]]] = []
    prof = cProfile.Profile() if args.cprofile else None
    for _ in range(args.repeat):
        for question, as_of in asks:
            before = {name: len(spans) for name, spans in timer.spans.items()}
            c, t = time.process_time(), time.perf_counter()
            if prof:
                prof.enable()
            pipeline.chain.invoke(
                {"question": question, "history": [], "as_of": as_of},
                {"callbacks": [timer]},
            )
            if prof:
                prof.disable()
            total.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            steps = {n: sum(v[before.get(n, 0) :]) for n, v in timer.spans.items()}
            slow.append((total[-1], cpu[-1], question, steps))

    n = len(total)
    print(f"{n} answers ({len(asks)} questions x {args.repeat}), {pipeline.answerer.name}")
    print(f"{'step':<22}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}")
    for name, spans in sorted(timer.spans.items(), key=lambda kv: -sum(kv[1])):
        print(
            f"{name:<22}{_pct(spans, 0.5):>9.2f}{_pct(spans, 0.95):>9.2f}"
            f"{statistics.fmean(spans):>9.2f}"
        )
    print(
        f"{'answer (whole)':<22}{_pct(total, 0.5):>9.2f}{_pct(total, 0.95):>9.2f}"
        f"{statistics.fmean(total):>9.2f}"
    )
    print(f"cpu_ms_per_question   {statistics.fmean(cpu):.1f} (process_time, all threads)")
    for wall, c, question, steps in sorted(slow, reverse=True)[: args.slowest]:
        parts = ", ".join(
            f"{n} {ms:.0f}" for n, ms in steps.items() if n not in ("RunnableSequence", "retriever")
        )
        print(f"slow: {wall:.0f} ms wall, {c:.0f} ms CPU ({parts}): {question[:60]}")
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(args.cprofile)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.cprofile)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
