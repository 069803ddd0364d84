"""What an answer costs: one question's scoring asks for each of its terms' idf once."""

from __future__ import annotations

from collections import Counter

from bot.answering.answerers.extractive import ExtractiveAnswerer
from bot.answering.text import content_terms
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


def test_the_answerer_reads_the_sentence_terms_the_gate_stemmed(embedder, monkeypatch) -> None:
    import bot.answering.text
    from bot.answering.gate import gate

    stemmed: list[str] = []
    stem = bot.answering.text.stemmed_terms
    monkeypatch.setattr(
        bot.answering.text, "stemmed_terms", lambda text: stemmed.append(text) or stem(text)
    )
    bot.answering.text._cached_terms.cache_clear()
    question = "What did the operator say the floating solar farm will supply?"
    gated = gate(question, _passages(), lambda t: 1.0).passages
    stemmed.clear()

    ExtractiveAnswerer(embedder, lambda t: 1.0).rank(question, gated, embedder.embed([question])[0])

    assert not [t for t in stemmed if any(t in p.text for p in gated if t)]


def test_a_passage_holds_the_terms_of_its_text_and_of_its_plain_spelling() -> None:
    from bot.answering.gate import _held

    title, text = "U.S.-China talks", "Russia-China trade grew. The U.S. envoy met them in Vienna."

    _, terms = _held(title, text)

    whole = f"{title}\n{text}"
    plain = "US China talks\nRussia China trade grew. The US envoy met them in Vienna."
    assert terms == frozenset(content_terms(whole)) | frozenset(content_terms(plain))
    assert {"us", "russia", "china", "vienna"} <= terms
