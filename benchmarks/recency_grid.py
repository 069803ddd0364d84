"""Sweep the retrieval depth and the recency prior: recall of the gold articles per setting.

For every combination of RETRIEVAL_CANDIDATES, RECENCY_WEIGHT and RECENCY_DAYS, asks every
question through the real hybrid retriever, undated and (when the question carries a
`question_date`) as of its day, and prints R@1/R@5/R@10 of both. Retrieval only: no answers.

    python benchmarks/recency_grid.py --questions ../shared/eval/realtimeqa-dev/questions.jsonl \\
        --corpus ../shared/eval/realtimeqa-dev/corpus.jsonl
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def recalls(retriever, questions, known, dated: bool) -> list[float]:
    """R@1/5/10 of the gold articles over the questions, as `citebot eval` counts them."""
    from bot.answering.retrieval import parse_date
    from bot.evaluation.evaluate import KS, retrieval_metrics

    rows = []
    for q in questions:
        as_of = parse_date(q.get("question_date") or "") if dated else None
        docs = retriever.search(q["question"], as_of=as_of)
        ranked = known.ranked_docs([d.metadata["chunk_id"] for d in docs])
        rows.append(retrieval_metrics(ranked, set(q.get("evidence_doc_ids") or []), None))
    return [sum(r[f"recall@{k}"] for r in rows) / max(1, len(rows)) for k in KS]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--candidates", default="20,40,80,150")
    p.add_argument("--weights", default="0.2,0.5,0.7,1.0")
    p.add_argument("--days", default="30,60,120,365")
    args = p.parse_args(argv)

    from bot.answering.pipeline import build_pipeline, load_default_embedder
    from bot.evaluation.evaluate import Known, eval_settings, load_questions
    from index.build.builder import build_index
    from index.settings import Settings

    settings = Settings()
    index = eval_settings(settings.index, args.corpus)
    embedder = load_default_embedder(index)
    build_index(index, embedder, [args.corpus])
    pipeline = build_pipeline(index, settings.answering, embedder)
    questions = load_questions(args.questions, None)
    known = Known.of(pipeline, args.corpus)
    dated = any(q.get("question_date") for q in questions)
    print(f"{len(questions)} questions; R@1 / R@5 / R@10, undated" + (" | dated" if dated else ""))
    print(f"{'candidates':>10} {'weight':>6} {'days':>5}  figures")
    grid = itertools.product(
        [int(v) for v in args.candidates.split(",")], _floats(args.weights), _floats(args.days)
    )
    for cand, weight, days in grid:
        deep = pipeline.retriever.model_copy(
            update={"k": 30, "candidates": cand, "recency_weight": weight, "recency_days": days}
        )
        cols = [recalls(deep, questions, known, False)]
        if dated:
            cols.append(recalls(deep, questions, known, True))
        figures = " | ".join(" ".join(f"{v:.3f}" for v in col) for col in cols)
        print(f"{cand:>10} {weight:>6.2f} {days:>5.0f}  {figures}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
