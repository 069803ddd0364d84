"""What an answer costs: one question's scoring asks for each of its terms' idf once."""

from __future__ import annotations

from collections import Counter

from bot.answerers.extractive import ExtractiveAnswerer
from bot.text import content_terms
from tests.test_answer_caches import _passages


def test_scoring_the_sentences_weighs_each_question_term_once(embedder) -> None:
    asked: Counter[str] = Counter()

    def idf(term: str) -> float:
        asked[term] += 1
        return 1.0

    question = "How many homes will the floating solar farm supply?"
    ExtractiveAnswerer(embedder, idf).rank(question, _passages(), embedder.embed([question])[0])

    assert set(asked) == set(content_terms(question))
    assert max(asked.values()) == 1
