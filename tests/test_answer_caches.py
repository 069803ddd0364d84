"""The caches that make an answer cheap: kept per text or per generation, never stale, and
an answer the same whether they are cold or warm."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import zlib

import numpy as np

from bot.answering.answerers.extractive import ExtractiveAnswerer
from bot.answering.claimcheck import _analyse, _sentences, violation
from bot.answering.gate import _held, gate
from bot.answering.passages import NumberedPassage
from bot.answering.retrieval import KeywordIndex, _may_copy
from bot.answering.text import _cached_terms, content_terms, stemmed_terms
from bot.answering.wire import WIRE_JACCARD, is_copy, shingles
from index.ingest.provenance import Provenance
from index.store import Passage

SOLAR = (
    "The largest floating solar farm in the region opened on Lake Ardent on Monday. The farm "
    "has a capacity of 47 megawatts and covers 60 hectares of the reservoir. Once connected, "
    "it will supply electricity to about 12,000 homes, the operator said. Construction took "
    "two years and cost 55 million euros."
)
WIND = (
    "A wind farm off the coast of Brindle will add 300 megawatts to the grid by next spring. "
    "The developer said the turbines were the tallest ever installed in the bay. Fishermen "
    "worried that the cables would disturb the crab grounds near the harbour."
)


class CountingEmbedder:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.name, self.dim = embedder.name, embedder.dim
        self.texts: list[str] = []

    def embed(self, texts):
        self.texts.extend(texts)
        return self.embedder.embed(texts)

    def count_tokens(self, texts):
        return self.embedder.count_tokens(texts)


def _passages() -> list[NumberedPassage]:
    return [
        NumberedPassage(1, "solar-0", Provenance(title="Floating solar farm opens"), SOLAR, 0.6),
        NumberedPassage(2, "wind-0", Provenance(title="Wind farm for Brindle"), WIND, 0.4),
    ]


def test_a_sentence_is_embedded_once_across_questions(embedder) -> None:
    counting = CountingEmbedder(embedder)
    answerer = ExtractiveAnswerer(counting, lambda term: 1.0)
    question = "How many homes will the floating solar farm supply?"
    qvec = embedder.embed([question])[0]

    first = answerer.answer(question, _passages(), qvec)
    embedded = len(counting.texts)
    second = answerer.answer(question, _passages(), qvec)

    assert embedded > 0 and len(counting.texts) == embedded  # the second answer embeds nothing
    assert second.text == first.text


def test_a_kept_vector_is_the_vector_of_the_text_alone(embedder) -> None:
    answerer = ExtractiveAnswerer(embedder, lambda term: 1.0)
    texts = ["Floating solar farm opens\nThe farm covers 60 hectares.", "Wind\nTurbines rose."]

    answerer.sentence_vectors(texts)  # now kept
    kept = answerer.sentence_vectors(texts)

    for text, vec in zip(texts, kept, strict=True):
        assert np.array_equal(vec, embedder.embed([text])[0])


def test_answers_are_the_same_from_a_cold_and_a_warm_answerer(embedder) -> None:
    warm = ExtractiveAnswerer(embedder, lambda term: 1.0)
    questions = [
        "How much did the floating solar farm cost?",
        "What worried the fishermen about the wind farm?",
        "How many homes will the floating solar farm supply?",
    ]
    qvecs = embedder.embed(questions)
    for q, v in zip(questions, qvecs, strict=True):
        warm.answer(q, _passages(), v)

    for q, v in zip(questions, qvecs, strict=True):
        cold = ExtractiveAnswerer(embedder, lambda term: 1.0)
        assert warm.answer(q, _passages(), v) == cold.answer(q, _passages(), v)


def test_terms_are_kept_by_text_and_never_shared_as_a_list() -> None:
    terms = content_terms("Floating farms opened")
    terms.append("mutated")  # a caller's list is its own

    assert content_terms("Floating farms opened") == stemmed_terms("Floating farms opened")
    assert content_terms("Floating farms closed") != content_terms("Floating farms opened")


def test_the_per_text_analyses_give_what_a_fresh_analysis_gives() -> None:
    passages = _passages()
    claim = "The farm will supply electricity to about 12,000 homes."
    question = "How many homes will the Ardent solar farm supply in 2031?"
    warm = (gate(question, passages, lambda t: 1.0), violation(claim, SOLAR))
    for cache in (_cached_terms, _held, _analyse, _sentences):
        cache.cache_clear()

    assert (gate(question, passages, lambda t: 1.0), violation(claim, SOLAR)) == warm
    assert warm[0].missing == ("2031",)


def test_a_quoted_claim_is_checked_without_the_full_analysis() -> None:
    passage = WIND + " The harbour master said the work would start in May."
    misses = _analyse.cache_info().misses

    assert violation("The developer said the turbines were the tallest ever.", passage) is None
    assert _analyse.cache_info().misses == misses  # only its sentences were read
    assert violation("The turbines will add 500 megawatts.", passage).rule == "number"
    assert _analyse.cache_info().misses == misses + 1


def test_idf_is_kept_per_generation() -> None:
    def index(texts: list[str]) -> KeywordIndex:
        return KeywordIndex.of(
            [Passage(f"a{i}", t, {"article_id": f"a{i}", "title": ""}) for i, t in enumerate(texts)]
        )

    before = index(["solar farm opens", "wind farm opens", "harbour crab grounds"])
    rare = before.idf("solar")
    after = index(["solar farm opens", "solar wind farm", "solar harbour"])  # a rebuild

    assert after.idf("solar") < rare
    assert before.idf("solar") == rare  # the older generation keeps its own figures
    n, df = 3, 3
    assert after.idf("solar") == np.log(1 + (n - df + 0.5) / (df + 0.5))


def test_the_size_filter_never_rules_out_a_copy() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        a = frozenset(rng.sample(range(60), rng.randint(0, 40)))
        b = frozenset(rng.sample(range(60), rng.randint(0, 40)))
        if is_copy(a, b):
            assert _may_copy(a, b)
    nine, ten = frozenset(range(9)), frozenset(range(10))  # Jaccard exactly 0.9
    assert is_copy(nine, ten, WIRE_JACCARD) and _may_copy(nine, ten)


def test_shingles_are_the_hashed_five_word_runs() -> None:
    def stable(words: list[str]) -> int:  # CRC-32 of each word, a polynomial over them
        h = 0
        for w in words:
            h = (h * 0x100000001B3 + zlib.crc32(w.encode()) + 1) % 2**64
        return h

    for n in range(8):
        text = " ".join(f"w{i}" for i in range(n))
        words = text.split()
        k = min(5, len(words))
        expected = {stable(words[j : j + k]) for j in range(len(words) - k + 1)} if n else {0}
        assert shingles([Passage("p", text, {"chunk_index": 1})]) == expected


def test_shingles_are_the_same_in_every_process() -> None:
    """The build stores them and answering processes compare them: no per-process hash seed."""
    code = f"from index.text.shingles import article_shingles as a; print(a([{SOLAR!r}]).tolist())"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert runs == {f"{sorted(shingles([Passage('p', SOLAR, {})]))}\n"}


def test_an_answer_from_a_built_index_embeds_only_the_question(
    settings, sample_articles, embedder
) -> None:
    """The build kept every sentence's vector (late chunking): no answer embeds a sentence."""
    from bot.answering.pipeline import build_pipeline
    from index.build.builder import build_index

    build_index(settings.index, embedder)
    counting = CountingEmbedder(embedder)
    pipeline = build_pipeline(settings.index, settings.answering, counting)
    counting.texts.clear()  # the warm-up's

    answer = pipeline.ask("How much was trade between Russia and China last year?")

    assert answer.citations and not answer.refused
    assert len(counting.texts) == 1  # the question
