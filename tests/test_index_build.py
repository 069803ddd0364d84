"""The incremental build on the real model and a real Chroma in tmp_path."""

from __future__ import annotations

import errno
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import chromadb.errors
import pytest
from chromadb.api.client import Client as ChromaClient
from chromadb.api.models.Collection import Collection

from index.build.builder import build_index, chunk_all, index_stats
from index.errors import BuildConflictError, CitebotError, StoreWriteError
from index.ingest.articles import load_articles
from index.settings import Settings
from index.store import (
    BuildLease,
    IndexStore,
    acquire_lease,
    make_client,
    open_index,
)
from index.text.sentences import split_sentences
from tests.conftest import make_settings

FORMATS = Path(__file__).resolve().parent / "data" / "formats"
TRADE_QUESTION = "How large is the yearly trade between Russia and China?"


class Spy:
    """The real embedder, recording every text it is asked to embed or to measure."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.texts: list[str] = []
        self.measured: list[str] = []

    def embed(self, texts):
        self.texts.extend(texts)
        return self.inner.embed(texts)

    def embed_with_spans(self, texts, spans):
        self.texts.extend(texts)
        return self.inner.embed_with_spans(texts, spans)

    def count_tokens(self, texts):
        self.measured.extend(texts)
        return self.inner.count_tokens(texts)


class Crashing(Spy):
    """The real embedder, failing on its n-th call: a build that dies halfway."""

    def __init__(self, inner, on_call: int) -> None:
        super().__init__(inner)
        self.on_call, self.calls = on_call, 0

    def embed(self, texts):
        self.calls += 1
        if self.calls == self.on_call:
            raise RuntimeError("embedding worker crashed")
        return super().embed(texts)

    def embed_with_spans(self, texts, spans):
        self.calls += 1
        if self.calls == self.on_call:
            raise RuntimeError("embedding worker crashed")
        return super().embed_with_spans(texts, spans)


def ctrl_c_midway(done: int, total: int) -> None:
    """A progress callback that presses Ctrl-C between two embedding batches."""
    if 0 < done < total:
        raise KeyboardInterrupt


def expected_chunks(settings: Settings, embedder) -> dict:
    """The chunks the article folder should produce, by id, chunked independently of a build."""
    articles = load_articles([settings.articles_dir]).articles
    return {c.id: c for c in chunk_all(articles, embedder, settings.index)}


def stored(settings: Settings) -> dict:
    """Every passage of the live index, by id."""
    return {p.id: p for p in open_index(settings.index).passages()}


def answers(settings: Settings, embedder, question: str = TRADE_QUESTION) -> list[str]:
    """The ids of the passages the live index returns first for a question."""
    reader = open_index(settings.index)
    return [p.id for p, _ in reader.dense_search(embedder.embed([question])[0], 3)]


def snapshot(settings: Settings, embedder) -> tuple:
    """What a reader sees: the live generation, its passages and its answer to a question."""
    reader = open_index(settings.index)
    return reader.generation, sorted(stored(settings)), answers(settings, embedder)


def write_wire(folder: Path, n: int, seed: int = 3) -> None:
    """A .jsonl of `n` articles made of the sample's sentences in another order."""
    sample = load_articles([folder]).articles
    sentences = [s for a in sample for s in split_sentences(a.text)]
    rng = random.Random(seed)
    with open(folder / "wire.jsonl", "w") as fh:
        for i in range(n):
            body = " ".join(rng.sample(sentences, 12))
            fh.write(json.dumps({"title": f"Trade digest number {i}", "text": body}) + "\n")


@pytest.fixture
def small_chunks(tmp_path: Path, model_cache: Path) -> Settings:
    """Settings whose builds embed in several batches (64 chunks each) of small chunks."""
    settings = make_settings(tmp_path, model_cache, CHUNK_TOKENS=32, EMBEDDING_BATCH_SIZE=1)
    shutil.copytree(
        Path(__file__).resolve().parent.parent / "data" / "articles", tmp_path / "articles"
    )
    return settings


# ---- a first build and what it stores ----------------------------------------------------


def test_first_build_embeds_every_chunk(settings, sample_articles, embedder) -> None:
    spy = Spy(embedder)

    report = build_index(settings.index, spy)

    chunks = expected_chunks(settings, embedder)
    assert (report.articles, report.chunks, report.embedded) == (2, len(chunks), len(chunks))
    assert (report.unchanged, report.removed, report.skipped_files) == (0, 0, [])
    assert report.switched
    assert sorted(spy.texts) == sorted(c.embed_text for c in chunks.values())
    assert sorted(stored(settings)) == sorted(chunks)


def test_stored_passages_are_verbatim_article_text(settings, sample_articles, embedder) -> None:
    build_index(settings.index, embedder)
    articles = {a.id: a for a in load_articles([settings.articles_dir]).articles}

    for passage in stored(settings).values():
        meta = passage.metadata
        assert passage.text == articles[meta["article_id"]].text[meta["start"] : meta["end"]]


def test_stored_passages_carry_flat_provenance(settings, sample_articles, embedder) -> None:
    build_index(settings.index, embedder)

    for passage in stored(settings).values():
        assert set(passage.metadata) == {
            "article_id",
            "title",
            "source",
            "url",
            "date",
            "chunk_index",
            "start",
            "end",
            "title_derived",
            "publisher",
            "doc_id",
            "article_hash",
        }
        assert passage.metadata["source"] == "articles-sample.txt"


def test_dense_search_finds_the_passage_that_answers(settings, sample_articles, embedder) -> None:
    build_index(settings.index, embedder)

    top = [stored(settings)[i].text for i in answers(settings, embedder)]

    # top 3, not top 1: the "$240 billion last year" passage is a near-tie (within 0.01 cosine)
    # whose order flips between AVX2 and AVX-512 int8 kernels
    assert any("$200 billion per year" in text for text in top)


def test_nearest_ids_rank_as_dense_search_does(settings, sample_articles, embedder) -> None:
    build_index(settings.index, embedder)
    reader = open_index(settings.index)
    vector = embedder.embed(["How much was trade between Russia and China last year?"])[0]

    full = [(p.id, score) for p, score in reader.dense_search(vector, 5)]

    assert reader.nearest_ids(vector, 5) == full and len(full) == 5


# ---- incremental builds ------------------------------------------------------------------


def test_second_build_embeds_nothing(settings, sample_articles, embedder) -> None:
    first = build_index(settings.index, embedder)
    spy = Spy(embedder)

    report = build_index(settings.index, spy)

    assert spy.texts == []
    assert (report.embedded, report.unchanged, report.removed) == (0, first.chunks, 0)
    assert not report.switched
    assert report.collection == first.collection


def test_second_build_does_not_chunk_again(settings, sample_articles, embedder) -> None:
    build_index(settings.index, embedder)
    spy = Spy(embedder)

    build_index(settings.index, spy)

    assert spy.measured == []


def test_build_of_files_unchanged_since_the_live_one_reads_no_article(
    settings, sample_articles, embedder, monkeypatch
) -> None:
    """Once a build has recorded what it read, the next one with the same files only hashes
    them: at 300k chunks parsing would take most of a no-change build."""
    (sample_articles / "scan.txt").write_bytes(b"%PDF-1.7\n\x00\x00binary")
    build_index(settings.index, embedder)
    confirmed = build_index(settings.index, embedder)  # a build that keeps the live one records too
    import index.build.builder

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed the articles again")

    monkeypatch.setattr(index.build.builder, "load_articles", no_parsing)
    again = build_index(settings.index, embedder)

    assert {**again.as_dict(), "seconds": 0} == {**confirmed.as_dict(), "seconds": 0}
    assert [s["file"] for s in again.skipped_files] == ["scan.txt"]

    # any change of what is read, or of how it is read, parses again
    monkeypatch.undo()
    article = sample_articles / "articles-sample.txt"
    article.write_text(article.read_text() + "\nThe port reopened on Monday.\n")
    assert build_index(settings.index, embedder).switched
    monkeypatch.setattr(index.build.builder, "load_articles", no_parsing)
    with pytest.raises(AssertionError, match="parsed"):
        build_index(settings.index.model_copy(update={"max_article_chars": 5000}), embedder)


def test_edit_chunks_only_the_edited_article_again(settings, sample_articles, embedder) -> None:
    build_index(settings.index, embedder)
    path = sample_articles / "articles-sample.txt"
    path.write_text(path.read_text().replace("peace plan in 2023", "peace plan in February 2023"))
    first, second = load_articles([sample_articles]).articles
    spy = Spy(embedder)

    build_index(settings.index, spy)

    assert spy.measured
    assert all(t in second.text or t == second.title for t in spy.measured)
    assert not any(t in first.text for t in spy.measured if len(t) > 40)


def test_edited_article_reembeds_only_its_changed_chunks(
    settings, sample_articles, embedder
) -> None:
    build_index(settings.index, embedder)
    before = expected_chunks(settings, embedder)
    path = sample_articles / "articles-sample.txt"
    path.write_text(path.read_text().replace("peace plan in 2023", "peace plan in February 2023"))
    after = expected_chunks(settings, embedder)
    new = [after[i] for i in after.keys() - before.keys()]
    spy = Spy(embedder)

    report = build_index(settings.index, spy)

    assert 1 <= len(new) < len(after)
    assert {c.article_id for c in new} == {load_articles([sample_articles]).articles[1].id}
    assert sorted(spy.texts) == sorted(c.embed_text for c in new)
    assert (report.embedded, report.unchanged) == (len(new), len(after) - len(new))
    assert report.removed == len(before.keys() - after.keys())
    assert sorted(stored(settings)) == sorted(after)
    assert any("February 2023" in p.text for p in stored(settings).values())


def test_deleted_article_is_pruned(settings, sample_articles, embedder) -> None:
    build_index(settings.index, embedder)
    path = sample_articles / "articles-sample.txt"
    gone = load_articles([sample_articles]).articles[1]
    path.write_text(path.read_text().split("+++++")[0])
    spy = Spy(embedder)

    report = build_index(settings.index, spy)

    assert spy.texts == []
    assert report.removed >= 1
    assert report.articles == 1
    assert gone.id not in {p.metadata["article_id"] for p in stored(settings).values()}
    assert sorted(stored(settings)) == sorted(expected_chunks(settings, embedder))


def test_deleted_file_is_pruned(settings, sample_articles, embedder) -> None:
    shutil.copy(FORMATS / "library.html", sample_articles)
    build_index(settings.index, embedder)
    (sample_articles / "library.html").unlink()

    report = build_index(settings.index, embedder)

    assert report.removed >= 1
    assert {p.metadata["source"] for p in stored(settings).values()} == {"articles-sample.txt"}


def test_new_file_embeds_only_its_own_chunks(settings, sample_articles, embedder) -> None:
    build_index(settings.index, embedder)
    shutil.copy(FORMATS / "wire.jsonl", sample_articles)
    spy = Spy(embedder)

    report = build_index(settings.index, spy)

    wire = [c for c in expected_chunks(settings, embedder).values() if c.source == "wire.jsonl"]
    assert sorted(spy.texts) == sorted(c.embed_text for c in wire)
    assert (report.articles, report.embedded, report.removed) == (5, len(wire), 0)


def test_changed_date_updates_the_index_without_embedding(
    settings, sample_articles, embedder
) -> None:
    shutil.copy(FORMATS / "wire.jsonl", sample_articles)
    first = build_index(settings.index, embedder)
    wire = sample_articles / "wire.jsonl"
    wire.write_text(wire.read_text().replace('"2024-09-02"', '"2024-09-03"'))
    spy = Spy(embedder)

    report = build_index(settings.index, spy)

    assert spy.texts == []
    assert (report.embedded, report.unchanged, report.removed) == (0, first.chunks, 0)
    assert report.switched
    dates = {p.metadata["date"] for p in stored(settings).values()}
    assert "2024-09-03" in dates
    assert "2024-09-02" not in dates


def test_moved_text_updates_its_offsets(settings, sample_articles, embedder) -> None:
    build_index(settings.index, embedder)
    before = expected_chunks(settings, embedder)
    article = load_articles([sample_articles]).articles[1]
    chunks = sorted(
        (c for c in before.values() if c.article_id == article.id), key=lambda c: c.index
    )
    # a paragraph break between two chunks that share no sentence, made a line break: every
    # later offset moves while no chunk's text changes
    gap = next(b.start for a, b in itertools.pairwise(chunks) if b.start > a.end)
    around = article.text[gap - 40 : gap + 40]
    assert around.count("\n\n") == 1
    path = sample_articles / "articles-sample.txt"
    path.write_text(path.read_text().replace(around, around.replace("\n\n", "\n")))
    spy = Spy(embedder)

    build_index(settings.index, spy)

    assert spy.texts == []
    assert sorted(stored(settings)) == sorted(before)
    articles = {a.id: a for a in load_articles([sample_articles]).articles}
    for passage in stored(settings).values():
        meta = passage.metadata
        assert passage.text == articles[meta["article_id"]].text[meta["start"] : meta["end"]]


def test_full_rebuild_embeds_everything_again(settings, sample_articles, embedder) -> None:
    first = build_index(settings.index, embedder)
    spy = Spy(embedder)

    report = build_index(settings.index, spy, full=True)

    assert report.embedded == len(spy.texts) == first.chunks
    assert report.switched
    assert sorted(stored(settings)) == sorted(expected_chunks(settings, embedder))


def test_sources_argument_overrides_the_articles_folder(settings, embedder) -> None:
    report = build_index(settings.index, embedder, sources=[FORMATS])

    assert report.articles == 6
    assert {p.metadata["source"] for p in stored(settings).values()} == {
        "harbour.md",
        "library.html",
        "wire.jsonl",
    }


def trade_roots(tmp_path: Path) -> list[Path]:
    """Two article folders that each hold a `trade.txt` with the same title."""
    roots = []
    for name, figure in (("news", "$200 billion"), ("wire", "$240 billion")):
        root = tmp_path / name
        root.mkdir()
        (root / "trade.txt").write_text(
            f"Trade Report\n\nTrade between Russia and China reached {figure} a year.\n"
        )
        roots.append(root)
    return roots


def test_same_file_under_two_roots_is_indexed_twice_and_stats_agree(
    settings, embedder, tmp_path
) -> None:
    report = build_index(settings.index, embedder, sources=trade_roots(tmp_path))

    assert report.articles == 2
    assert index_stats(settings.index)["articles"] == 2
    assert sorted(p.metadata["source"] for p in stored(settings).values()) == [
        "news/trade.txt",
        "wire/trade.txt",
    ]


def test_edit_of_one_of_two_same_named_files_is_indexed(settings, embedder, tmp_path) -> None:
    roots = trade_roots(tmp_path)
    build_index(settings.index, embedder, sources=roots)
    edited = roots[0] / "trade.txt"
    edited.write_text(edited.read_text().replace("$200 billion", "$300 billion"))

    report = build_index(settings.index, embedder, sources=roots)

    assert report.switched
    assert sorted(p.text for p in stored(settings).values()) == [
        "Trade between Russia and China reached $240 billion a year.",
        "Trade between Russia and China reached $300 billion a year.",
    ]


def test_copies_of_an_article_are_indexed_once(settings, sample_articles, embedder) -> None:
    for name in ("copy-1.txt", "copy-2.txt", "copy-3.txt"):
        shutil.copy(sample_articles / "articles-sample.txt", sample_articles / name)

    report = build_index(settings.index, embedder)

    assert report.articles == 2
    assert {p.metadata["source"] for p in stored(settings).values()} == {"articles-sample.txt"}
    assert report.skipped_files == [
        {"file": name, "reason": "2 articles duplicate those of articles-sample.txt; indexed once"}
        for name in ("copy-1.txt", "copy-2.txt", "copy-3.txt")
    ]


def test_article_longer_than_max_article_chars_is_skipped_and_reported(
    tmp_path, model_cache, sample_articles, embedder
) -> None:
    settings = make_settings(tmp_path, model_cache, MAX_ARTICLE_CHARS=20_000)
    (sample_articles / "long.txt").write_text("Long Story\n\n" + "The ferry sailed. " * 2000)

    report = build_index(settings.index, embedder)

    assert report.articles == 2
    assert [s["file"] for s in report.skipped_files] == ["long.txt"]
    assert "more than MAX_ARTICLE_CHARS (20,000)" in report.skipped_files[0]["reason"]
    assert "long.txt" not in {p.metadata["source"] for p in stored(settings).values()}


# ---- bad files ---------------------------------------------------------------------------

BAD_FILES = {
    "binary": ("scan.txt", b"%PDF-1.7\n\x00\x00\x01\x02binary", "binary file (NUL bytes)"),
    "undecodable": (
        "legacy.txt",
        "Caf\u00e9 news\n\nThe caf\u00e9 closed.".encode("cp1252"),
        "not UTF-8",
    ),
    "empty": ("draft.md", b"\n \n", "empty file"),
    "unknown extension": ("notes.docx", b"PK\x03\x04 word file", "unsupported file type .docx"),
    "malformed json line": (
        "feed.jsonl",
        b'{"title": "Ferry", "text": "The ferry runs."}\n{"title": "Cut", "text": "half a line\n',
        "malformed JSON",
    ),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_file_is_reported_and_the_build_goes_on(
    settings, sample_articles, embedder, kind: str
) -> None:
    first = build_index(settings.index, embedder)
    name, content, reason = BAD_FILES[kind]
    (sample_articles / name).write_bytes(content)
    shutil.copy(FORMATS / "library.html", sample_articles)

    report = build_index(settings.index, embedder)

    assert len(report.skipped_files) == 1
    assert report.skipped_files[0]["file"].startswith(name)
    assert reason in report.skipped_files[0]["reason"]
    assert report.switched and report.embedded >= 1  # the good new file was indexed
    assert report.removed == 0
    assert set(stored(settings)) >= set(expected_chunks(settings, embedder))
    assert report.chunks == first.chunks + report.embedded


@pytest.mark.parametrize("kind", ["binary", "undecodable", "empty"])
def test_indexed_file_that_turns_bad_keeps_its_articles(
    settings, sample_articles, embedder, kind: str
) -> None:
    build_index(settings.index, embedder)
    before = snapshot(settings, embedder)
    (sample_articles / "articles-sample.txt").write_bytes(BAD_FILES[kind][1])
    shutil.copy(FORMATS / "library.html", sample_articles)

    report = build_index(settings.index, embedder)

    assert report.skipped_files[0]["file"] == "articles-sample.txt"
    assert report.removed == 0
    assert report.articles == 3
    assert set(stored(settings)) >= set(before[1])
    assert answers(settings, embedder) == before[2]


def test_bad_json_line_keeps_the_article_it_held(settings, embedder) -> None:
    shutil.copy(FORMATS / "wire.jsonl", settings.articles_dir)
    build_index(settings.index, embedder)
    wire = settings.articles_dir / "wire.jsonl"
    lines = wire.read_text().splitlines()
    wire.write_text("\n".join([lines[0], lines[1][:40], lines[2]]) + "\n")

    report = build_index(settings.index, embedder)

    assert report.skipped_files[0]["file"] == "wire.jsonl:2"
    assert report.removed == 0
    assert any("Hallberg glacier" in p.text for p in stored(settings).values())


def test_folder_of_only_bad_files_leaves_the_index_as_it_was(
    settings, sample_articles, embedder
) -> None:
    build_index(settings.index, embedder)
    before = snapshot(settings, embedder)
    (sample_articles / "articles-sample.txt").unlink()
    (sample_articles / "scan.txt").write_bytes(BAD_FILES["binary"][1])

    with pytest.raises(CitebotError, match="no articles found"):
        build_index(settings.index, embedder)

    assert snapshot(settings, embedder) == before


# ---- interrupted builds ------------------------------------------------------------------


def test_embedder_crash_mid_build_leaves_the_old_index_answering(
    settings, sample_articles, embedder
) -> None:
    build_index(settings.index, embedder)
    before = snapshot(settings, embedder)
    for name in ("library.html", "wire.jsonl"):
        shutil.copy(FORMATS / name, sample_articles)
    path = sample_articles / "articles-sample.txt"
    path.write_text(path.read_text().replace("$200 billion", "$240 billion"))

    with pytest.raises(RuntimeError, match="embedding worker crashed"):
        build_index(settings.index, Crashing(embedder, on_call=1))

    assert snapshot(settings, embedder) == before
    # the half-written generation exists, but no reader is pointed at it
    assert len(IndexStore.open(settings.index).generations()) == 2


def test_keyboard_interrupt_leaves_the_old_index_answering(small_chunks, embedder) -> None:
    build_index(small_chunks.index, embedder)
    before = snapshot(small_chunks, embedder)
    write_wire(small_chunks.articles_dir, 8)

    with pytest.raises(KeyboardInterrupt):
        build_index(small_chunks.index, embedder, progress=ctrl_c_midway)

    assert snapshot(small_chunks, embedder) == before


def test_next_build_after_an_interrupt_completes_and_reuses_its_work(
    small_chunks, embedder
) -> None:
    build_index(small_chunks.index, embedder)
    write_wire(small_chunks.articles_dir, 8)
    seen: list[tuple[int, int]] = []

    def ctrl_c(done: int, total: int) -> None:
        seen.append((done, total))
        ctrl_c_midway(done, total)

    with pytest.raises(KeyboardInterrupt):
        build_index(small_chunks.index, embedder, progress=ctrl_c)
    spy = Spy(embedder)

    report = build_index(small_chunks.index, spy)

    done, total = seen[-1]
    assert report.switched
    assert report.embedded == len(spy.texts) == total - done
    assert sorted(stored(small_chunks)) == sorted(expected_chunks(small_chunks, embedder))


def kept_sentences(settings: Settings) -> dict[str, dict]:
    """The sentence vectors the live generation's files keep, by chunk id."""
    files = open_index(settings.index).live.files()
    return {cid: files.sentence_vectors(row) for cid, row in files.row_of.items()}


def test_each_chunk_keeps_its_sentences_vectors_from_its_own_pass(small_chunks, embedder) -> None:
    from index.build.late_chunking import embed_chunks

    build_index(small_chunks.index, embedder)
    kept = kept_sentences(small_chunks)
    chunks = list(expected_chunks(small_chunks, embedder).values())

    assert kept.keys() == {c.id for c in chunks} and all(kept.values())
    _, fresh = embed_chunks(embedder, chunks[:5])
    for chunk, own in zip(chunks[:5], fresh, strict=True):
        assert list(kept[chunk.id]) == [tuple(map(int, span)) for span in own.spans]
        for span, vec in zip(own.spans, own.vectors, strict=True):
            assert float(kept[chunk.id][tuple(map(int, span))] @ vec) > 0.999  # float16 kept


def test_vectors_reused_after_an_interrupt_keep_their_sentences(small_chunks, embedder) -> None:
    build_index(small_chunks.index, embedder)
    write_wire(small_chunks.articles_dir, 8)
    with pytest.raises(KeyboardInterrupt):
        build_index(small_chunks.index, embedder, progress=ctrl_c_midway)

    report = build_index(small_chunks.index, Spy(embedder))

    assert report.switched and report.embedded < report.chunks
    kept = kept_sentences(small_chunks)
    assert len(kept) == report.chunks and all(kept.values())


def test_articles_removed_and_restored_keep_their_sentence_vectors(
    small_chunks, embedder, caplog
) -> None:
    path = small_chunks.articles_dir / "articles-sample.txt"
    whole = path.read_text()
    build_index(small_chunks.index, embedder)
    path.write_text(whole.split("+++++")[0])
    build_index(small_chunks.index, embedder)
    path.write_text(whole)

    report = build_index(small_chunks.index, Spy(embedder))

    kept = kept_sentences(small_chunks)
    assert len(kept) == report.chunks and all(kept.values())
    assert report.embedded + report.unchanged == report.chunks
    assert "INDEX_FILES_PATH" not in caplog.text


def live_files(settings: Settings) -> Path:
    return Path(f"{settings.chroma_path}-files") / open_index(settings.index).generation


def spoil_a_byte(path: Path) -> None:
    """One byte of a file turned into one that no UTF-8 text holds."""
    data = bytearray(path.read_bytes())
    data[5] = 0xFF
    path.write_bytes(bytes(data))


def test_a_bad_byte_in_the_live_files_is_caught_and_they_are_written_again(
    settings, sample_articles, embedder
) -> None:
    build_index(settings.index, embedder)
    spoil_a_byte(live_files(settings) / "texts.bin")

    files = open_index(settings.index).live.files()
    assert {cid: files.text(row) for cid, row in files.row_of.items()} == {
        cid: p.text for cid, p in stored(settings).items()
    }


def test_a_truncated_live_file_is_not_read_as_cut_passages(
    settings, sample_articles, embedder
) -> None:
    build_index(settings.index, embedder)
    texts = live_files(settings) / "texts.bin"
    texts.write_bytes(texts.read_bytes()[:-40])

    files = open_index(settings.index).live.files()
    assert {cid: files.text(row) for cid, row in files.row_of.items()} == {
        cid: p.text for cid, p in stored(settings).items()
    }


def test_a_build_that_cannot_read_the_live_files_embeds_again_and_rebuilds_them(
    small_chunks, embedder
) -> None:
    build_index(small_chunks.index, embedder)
    spoil_a_byte(live_files(small_chunks) / "texts.bin")
    write_wire(small_chunks.articles_dir, 2)

    report = build_index(small_chunks.index, embedder)

    assert report.switched and report.embedded == report.chunks
    kept = kept_sentences(small_chunks)
    assert len(kept) == report.chunks and all(kept.values())


def test_a_full_build_never_reads_the_live_files(settings, sample_articles, embedder, monkeypatch):
    from index.store import generations

    build_index(settings.index, embedder)

    def unreadable(folder, generation):
        raise AssertionError(f"a full build read the files of {generation}")

    monkeypatch.setattr(generations, "open_files", unreadable)
    assert build_index(settings.index, embedder, full=True).switched


def test_build_interrupted_before_the_switch_loses_no_work(small_chunks, embedder) -> None:
    build_index(small_chunks.index, embedder)
    before = snapshot(small_chunks, embedder)
    write_wire(small_chunks.articles_dir, 2)

    def ctrl_c_at_the_end(done: int, total: int) -> None:
        if done == total:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(small_chunks.index, embedder, progress=ctrl_c_at_the_end)
    assert snapshot(small_chunks, embedder) == before
    spy = Spy(embedder)

    report = build_index(small_chunks.index, spy)

    assert spy.texts == []
    assert report.switched
    assert sorted(stored(small_chunks)) == sorted(expected_chunks(small_chunks, embedder))


def test_completed_build_drops_the_interrupted_generation(small_chunks, embedder) -> None:
    build_index(small_chunks.index, embedder)
    write_wire(small_chunks.articles_dir, 8)

    with pytest.raises(KeyboardInterrupt):
        build_index(small_chunks.index, embedder, progress=ctrl_c_midway)
    store = IndexStore.open(small_chunks.index)
    assert len(store.generations()) == 2

    build_index(small_chunks.index, embedder)

    pointer = store.pointer()
    assert store.generations() == sorted([pointer["previous"], pointer["active"]])


def test_killed_build_process_leaves_the_old_index_answering(small_chunks, embedder) -> None:
    build_index(small_chunks.index, embedder)
    before = snapshot(small_chunks, embedder)
    write_wire(small_chunks.articles_dir, 8)
    script = (
        "import os, signal\n"
        "from index.build.builder import build_index\n"
        "from index.build.embeddings import load_embedder\n"
        "from index.settings import Settings\n"
        "s = Settings()\n"
        "e = load_embedder(s.embedding_model, s.embedding_backend, s.model_cache)\n"
        "def kill(done, total):\n"
        "    if 0 < done < total:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "build_index(s.index, e, progress=kill)\n"
    )
    env = {
        **os.environ,
        "ARTICLES_DIR": str(small_chunks.articles_dir),
        "CHROMA_PATH": str(small_chunks.chroma_path),
        "MODEL_CACHE": str(small_chunks.model_cache),
        "CHUNK_TOKENS": str(small_chunks.chunk_tokens),
        "EMBEDDING_BATCH_SIZE": str(small_chunks.embedding_batch_size),
    }
    cwd = small_chunks.articles_dir.parent  # no .env there
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=cwd, timeout=180)

    assert proc.returncode == -signal.SIGKILL
    assert snapshot(small_chunks, embedder) == before
    report = build_index(small_chunks.index, embedder)
    assert report.switched
    assert sorted(stored(small_chunks)) == sorted(expected_chunks(small_chunks, embedder))


def test_live_index_answers_during_a_build(small_chunks, embedder) -> None:
    build_index(small_chunks.index, embedder)
    before = snapshot(small_chunks, embedder)
    write_wire(small_chunks.articles_dir, 8)
    during: list[tuple] = []

    def look(done: int, total: int) -> None:
        if 0 < done < total:
            during.append(snapshot(small_chunks, embedder))

    build_index(small_chunks.index, embedder, progress=look)

    assert during and all(seen == before for seen in during)
    assert snapshot(small_chunks, embedder)[0] != before[0]


def test_second_build_while_one_runs_is_refused(settings, sample_articles, embedder) -> None:
    errors: list[str] = []

    def start_another(done: int, total: int) -> None:
        if done == 0:
            with pytest.raises(CitebotError) as exc:
                build_index(settings.index, embedder)
            errors.append(str(exc.value))

    build_index(settings.index, embedder, progress=start_another)

    assert len(errors) == 1
    assert errors[0].startswith(f"another build of {settings.collection!r} is running (")


# ---- a full disk -------------------------------------------------------------------------

# what Chroma raises when its SQLite file cannot grow, and what a file write raises
DISK_FULL = {
    "sqlite": "Query error: Database error: error returned from database: (code: 13) "
    "database or disk is full",
    "os": "[Errno 28] No space left on device",
}


def disk_full(kind: str) -> Exception:
    if kind == "os":
        return OSError(errno.ENOSPC, "No space left on device")
    return chromadb.errors.InternalError(DISK_FULL[kind])


def fill_the_disk_midway(monkeypatch, kind: str, deletes_fail: bool = False) -> None:
    """Chroma writes fail from the second upsert on, as they do once the disk is full."""
    upsert = Collection.upsert
    calls = {"n": 0}

    def failing_upsert(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 2:
            raise disk_full(kind)
        return upsert(self, *args, **kwargs)

    def failing_delete(self, *args, **kwargs):
        raise disk_full(kind)

    monkeypatch.setattr(Collection, "upsert", failing_upsert)
    if deletes_fail:
        monkeypatch.setattr(ChromaClient, "delete_collection", failing_delete)


@pytest.mark.parametrize("kind", DISK_FULL)
def test_full_disk_mid_build_is_one_clear_error_and_the_live_index_stays(
    small_chunks, embedder, monkeypatch, kind: str
) -> None:
    build_index(small_chunks.index, embedder)
    before = snapshot(small_chunks, embedder)
    write_wire(small_chunks.articles_dir, 8)
    fill_the_disk_midway(monkeypatch, kind)

    with pytest.raises(StoreWriteError) as failed:
        build_index(small_chunks.index, embedder)

    message = str(failed.value)
    assert "\n" not in message
    assert "the live index is unchanged" in message and DISK_FULL[kind] in message
    assert "disk holding the index is full" in message
    monkeypatch.undo()
    assert snapshot(small_chunks, embedder) == before
    # the half-written generation is gone; only the live one is left
    assert IndexStore.open(small_chunks.index).generations() == [before[0]]


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
def test_generation_left_unreadable_by_a_full_disk_is_dropped_by_the_next_build(
    small_chunks, embedder, monkeypatch, full: bool
) -> None:
    build_index(small_chunks.index, embedder)
    before = snapshot(small_chunks, embedder)
    wire = small_chunks.articles_dir / "wire.jsonl"
    write_wire(small_chunks.articles_dir, 8)
    fill_the_disk_midway(monkeypatch, "sqlite", deletes_fail=True)
    with pytest.raises(StoreWriteError):
        build_index(small_chunks.index, embedder)
    monkeypatch.undo()
    store = IndexStore.open(small_chunks.index)
    (broken,) = set(store.generations()) - {before[0]}
    get = Collection.get

    def unreadable(self, *args, **kwargs):  # as Chroma answers for a half-compacted collection
        if self.name == broken:
            raise chromadb.errors.InternalError(
                "Error executing plan: Error sending backfill request to compactor: "
                "Failed to apply logs to the metadata segment"
            )
        return get(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "get", unreadable)
    wire.unlink()  # nothing left to do

    report = build_index(small_chunks.index, embedder, full=full)

    assert report.switched is full
    assert broken not in store.generations()
    monkeypatch.undo()
    assert sorted(stored(small_chunks)) == before[1]


# ---- the build lease ---------------------------------------------------------------------


def lease_from_another_host(settings: Settings, seconds: float) -> BuildLease:
    """A build lease as a builder on another machine holds it (or held it, when `seconds` < 0)."""
    lease = acquire_lease(make_client(settings.index), settings.collection, seconds)
    lease.collection.modify(
        metadata={**lease.meta, "host": "builder-2", "machine": "builder-2/0", "pid": 4242}
    )
    return lease


def test_build_while_another_host_holds_the_lease_fails_fast(
    settings, sample_articles, embedder
) -> None:
    build_index(settings.index, embedder)
    before = snapshot(settings, embedder)
    shutil.copy(FORMATS / "library.html", sample_articles)
    lease_from_another_host(settings, seconds=60)
    spy = Spy(embedder)

    with pytest.raises(BuildConflictError, match="another build of 'articles' is running") as e:
        build_index(settings.index, spy)

    assert "builder-2 pid 4242" in str(e.value)
    assert spy.texts == [] and spy.measured == []
    assert snapshot(settings, embedder) == before


def test_expired_lease_of_a_crashed_builder_is_taken_over(
    settings, sample_articles, embedder
) -> None:
    build_index(settings.index, embedder)
    stale = lease_from_another_host(settings, seconds=-1)
    shutil.copy(FORMATS / "library.html", sample_articles)

    report = build_index(settings.index, embedder)

    assert report.switched and report.embedded >= 1
    with pytest.raises(BuildConflictError, match="lost its lease"):
        stale.verify()


def test_builder_that_stalled_past_its_lease_does_not_switch(small_chunks, embedder) -> None:
    build_index(small_chunks.index, embedder)
    write_wire(small_chunks.articles_dir, 8)
    other: list = []

    def stall_then_let_another_build_run(done: int, total: int) -> None:
        if 0 < done < total and not other:
            time.sleep(0.6)  # the lease of 0.5 s runs out
            other.append(build_index(small_chunks.index, embedder))

    with pytest.raises(BuildConflictError, match="lost its lease"):
        build_index(
            small_chunks, embedder, progress=stall_then_let_another_build_run, lease_seconds=0.5
        )

    store = IndexStore.open(small_chunks.index)
    pointer = store.pointer()
    assert other[0].switched and pointer["active"] == other[0].collection
    assert pointer["active"] in store.generations()
    assert sorted(stored(small_chunks)) == sorted(expected_chunks(small_chunks, embedder))
