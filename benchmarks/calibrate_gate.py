"""Calibrate RELEVANCE_THRESHOLD: best-passage relevance of answerable vs unanswerable questions.

Answerable: the questions asked of their own corpus. Unanswerable: the same questions asked of
another corpus that can't answer them (by default the bundled sample articles). Prints both
distributions and, for candidate thresholds, the share of each that would be refused.

    python benchmarks/calibrate_gate.py --questions ../shared/eval/realtimeqa-dev/questions.jsonl \\
        --corpus ../shared/eval/realtimeqa-dev/corpus.jsonl
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = (0.25, 0.30, 0.35, 0.40, 0.45, 0.50)


def best_relevance(pipeline, question: str) -> float:
    """The gate's score for a question: the relevance of the best retrieved passage."""
    from bot.answering.gate import gate, normalise_question
    from bot.answering.passages import number_passages

    question = normalise_question(question)
    passages = number_passages(pipeline.retriever.search(question))
    return gate(question, passages, pipeline.retriever.idf).best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--unanswerable-corpus", type=Path, default=ROOT / "data" / "articles")
    args = p.parse_args(argv)

    from bot.answering.pipeline import build_pipeline, load_default_embedder
    from bot.evaluation.evaluate import eval_settings, load_questions
    from index.build.builder import build_index
    from index.settings import Settings

    settings = Settings()
    answerable_index = eval_settings(settings.index, args.corpus)
    embedder = load_default_embedder(answerable_index)
    build_index(answerable_index, embedder, [args.corpus])
    questions = [q["question"] for q in load_questions(args.questions, None)]
    own = build_pipeline(answerable_index, settings.answering, embedder)
    answerable = np.array([best_relevance(own, q) for q in questions])
    with tempfile.TemporaryDirectory() as tmp:
        other_index = settings.index.model_copy(
            update={"chroma_path": Path(tmp) / "chroma", "chroma_host": None}
        )
        build_index(other_index, embedder, [args.unanswerable_corpus])
        other = build_pipeline(other_index, settings.answering, embedder)
        unanswerable = np.array([best_relevance(other, q) for q in questions])

    pct = (0, 2, 5, 10, 50)
    print(f"{len(questions)} questions; percentiles {pct}")
    print("answerable   ", np.percentile(answerable, pct).round(3))
    print(
        "unanswerable ", np.percentile(unanswerable, [50, 90, 95, 98, 100]).round(3), "(p50..max)"
    )
    print("threshold  refuses answerable  refuses unanswerable")
    for t in THRESHOLDS:
        print(f"{t:9.2f}  {np.mean(answerable < t):17.3f}  {np.mean(unanswerable < t):20.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
