"""The index store's generation protocol and the answering side's snapshots, without a model.

Vectors are made by hand (4 dimensions), so these tests are about the protocol, not the model:
what is written is what is read, the pointer moves in one step, pruning keeps what readers and
builds still use, and a question reads one generation from start to end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.answering.retrieval import HybridRetriever, SearchIndex
from index.errors import CitebotError, StoreUnreadableError
from index.store import IndexStore, acquire_lease, connect, read_pointer
from index.store.reader import GenerationReader

SIGNATURE = {"model": "hand-made", "chunk_tokens": 200, "chunk_overlap_tokens": 40}


def axis(i: int) -> np.ndarray:
    v = np.zeros(4, dtype=np.float32)
    v[i] = 1.0
    return v


def records(article: str, texts: list[str]) -> dict[str, tuple[str, dict]]:
    return {
        f"{article}-{n}": (text, {"article_id": article, "title": article, "date": "2024-05-01"})
        for n, text in enumerate(texts)
    }


@pytest.fixture
def store(tmp_path: Path) -> IndexStore:
    return IndexStore(
        connect(None, 0, tmp_path / "chroma"), "news", "a test store", files=tmp_path / "files"
    )


def publish(store: IndexStore, recs: dict[str, tuple[str, dict]]) -> str:
    """One complete build of `recs`, each record's vector an axis; returns the generation."""
    with store.build(SIGNATURE) as build:
        gen = build.create()
        vectors = np.stack([axis(i % 4) for i in range(len(recs))])
        build.write(list(recs), vectors, recs)
        build.switch(chunks=len(recs), articles=1)
    return gen


def test_switch_points_readers_at_what_was_written(store) -> None:
    recs = records("a", ["the harbour reopened", "ferries run again"])

    gen = publish(store, recs)

    reader = store.reader()
    assert store.pointer()["active"] == reader.generation == gen
    assert {p.id: p.text for p in reader.passages()} == {k: t for k, (t, _) in recs.items()}
    assert reader.nearest_ids(axis(1), 1)[0][0] == "a-1"


def test_a_later_build_finds_stored_vectors_and_reuses_them(store) -> None:
    recs = records("a", ["the harbour reopened", "ferries run again"])
    first = publish(store, recs)

    with store.build(SIGNATURE) as build:
        assert build.has_live and build.live_name == first
        assert all(build.has_vector(cid) for cid in recs)
        build.create()
        build.reuse(recs)
        build.switch(chunks=2, articles=1)

    assert store.reader().embeddings(["a-1"])["a-1"].tolist() == axis(1).tolist()


def test_a_build_of_another_signature_reuses_nothing(store) -> None:
    publish(store, records("a", ["the harbour reopened"]))

    with store.build({**SIGNATURE, "model": "another"}) as build:
        assert not build.has_live and not build.has_vector("a-0")


def test_switch_refuses_a_generation_missing_records(store) -> None:
    live = publish(store, records("a", ["the harbour reopened"]))
    recs = records("b", ["a storm closed the bridge", "the bridge reopened"])

    with store.build(SIGNATURE) as build:
        build.create()
        build.write(["b-0"], np.stack([axis(0)]), recs)
        with pytest.raises(CitebotError, match="holds 1 chunks, expected 2"):
            build.switch(chunks=2, articles=1)

    assert store.pointer()["active"] == live


def test_prune_keeps_the_pointers_generations_and_a_leased_one(store) -> None:
    first = publish(store, records("a", ["one"]))
    second = publish(store, records("a", ["two"]))
    with store.build(SIGNATURE) as build:  # an interrupted build: its generation is left over
        orphan = build.create()
    lease = acquire_lease(store.client, store.name)
    leased = f"{store.name}__g1"
    store.client.create_collection(leased, embedding_function=None)
    lease.note_generation(leased)

    store.prune(keep=set())

    assert set(store.generations()) == {first, second, leased}
    assert orphan not in store.generations()
    lease.release()
    store.prune(keep=set())
    assert set(store.generations()) == {first, second}


# ---- the answering side's snapshot --------------------------------------------------------


class AxisEmbedder:
    """Embeds every question as the first axis; `during` runs inside the call (mid-question)."""

    name = "axis"

    def __init__(self, during=None) -> None:
        self.during = during

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.during:
            self.during()
        return np.stack([axis(0) for _ in texts])


def test_a_snapshot_taken_before_a_switch_keeps_its_generation(store) -> None:
    old = publish(store, records("a", ["the harbour reopened after the storm"]))
    index = SearchIndex(store.reader())
    held = index.snapshot()
    new = publish(store, records("b", ["the harbour closed for the storm"]))

    assert index.refresh()

    assert index.snapshot().generation == new
    assert held.generation == old and [p.id for p in held.passages()] == ["a-0"]
    assert held.reader.nearest_ids(axis(0), 1)[0][0] == "a-0"  # the previous generation stays


def test_a_question_reads_one_generation_while_a_rebuild_switches(store) -> None:
    publish(store, records("a", ["the harbour reopened after the storm"]))
    index = SearchIndex(store.reader())
    switch_now = lambda: (  # noqa: E731
        publish(store, records("b", ["the harbour closed for the storm"])),
        index.refresh(),
    )
    retriever = HybridRetriever(index=index, embedder=AxisEmbedder(during=switch_now), k=4)

    docs = retriever.search("harbour storm")

    assert [d.metadata["chunk_id"] for d in docs] == ["a-0"]
    assert retriever.passages()[0].id == "b-0"  # the next question reads the new one


def test_a_snapshot_that_cannot_be_made_leaves_the_old_one_answering(store, monkeypatch) -> None:
    old = publish(store, records("a", ["the harbour reopened"]))
    index = SearchIndex(store.reader())
    new = publish(store, records("b", ["the harbour closed"]))
    files = GenerationReader.files

    def unreadable(self):
        raise CitebotError("the store went away")

    monkeypatch.setattr(GenerationReader, "files", unreadable)
    with pytest.raises(CitebotError):
        index.refresh()
    assert index.snapshot().generation == old

    monkeypatch.setattr(GenerationReader, "files", files)
    assert index.refresh() and index.snapshot().generation == new


def test_a_build_writes_the_files_readers_map_instead_of_the_store(store, monkeypatch) -> None:
    gen = publish(store, records("a", ["the harbour reopened", "ferries run again"]))
    assert (store.files / gen / "meta.json").exists()

    def no_store_reads(self):
        raise AssertionError("the answering side read every record from the store")

    monkeypatch.setattr(GenerationReader, "records", no_store_reads)
    retriever = HybridRetriever(index=SearchIndex(store.reader()), embedder=AxisEmbedder(), k=4)

    docs = retriever.search("ferries")
    assert docs[0].metadata["chunk_id"] == "a-1"
    assert docs[0].page_content == "ferries run again"
    assert docs[0].metadata["title"] == "a"


def test_a_reader_without_files_writes_them_once_from_the_store(store, monkeypatch) -> None:
    import shutil

    gen = publish(store, records("a", ["the harbour reopened"]))
    shutil.rmtree(store.files / gen)  # built on another machine, or by an older version

    first = SearchIndex(store.reader()).snapshot()
    assert (store.files / gen / "meta.json").exists()
    assert [p.id for p in first.passages()] == ["a-0"]

    def no_store_reads(self):
        raise AssertionError("the files were written again")

    monkeypatch.setattr(GenerationReader, "records", no_store_reads)
    assert SearchIndex(store.reader()).snapshot().keyword.search("harbour", 3)[0][0].id == "a-0"


def test_pruning_drops_the_files_of_dropped_generations(store) -> None:
    gens = [publish(store, records(a, [f"{a} text"])) for a in ("a", "b", "c")]
    (store.files / "other__g123").mkdir()  # another collection's files stay

    assert sorted(p.name for p in store.files.iterdir()) == sorted([*gens[1:], "other__g123"])


def test_a_build_reads_the_live_metadata_from_its_files(store, monkeypatch) -> None:
    from index.store import generations

    recs = records("a", ["the harbour reopened", "ferries run again"])
    gen = publish(store, recs)

    def paged(col):
        raise AssertionError("read every record's metadata from the store")

    monkeypatch.setattr(generations, "_metadata", paged)
    with store.build(SIGNATURE) as build:
        assert build.live_name == gen
        assert build.live_metadata == {cid: meta for cid, (_, meta) in recs.items()}


class UnreachableClient:
    """A Chroma client whose server went away: every call is refused."""

    def get_collection(self, name: str, embedding_function=None):
        raise ConnectionError("connection refused")


def test_a_store_never_built_has_an_empty_pointer(tmp_path) -> None:
    assert read_pointer(connect(None, 0, tmp_path / "chroma"), "articles") == {}


def test_a_store_that_cannot_be_read_is_not_taken_for_one_never_built() -> None:
    with pytest.raises(StoreUnreadableError, match="connection refused"):
        read_pointer(UnreachableClient(), "articles")


def test_a_build_leaves_a_collection_whose_name_begins_like_its_generations(store) -> None:
    other = IndexStore(store.client, "news__gtech", "a test store", files=store.files)
    publish(other, records("t", ["chips shipped late"]))

    publish(store, records("a", ["the harbour reopened"]))
    publish(store, records("a", ["the harbour reopened again"]))

    assert [p.text for p in other.reader().passages()] == ["chips shipped late"]
    assert all(g.startswith("news__g") and g[7:].isdigit() for g in store.generations())
