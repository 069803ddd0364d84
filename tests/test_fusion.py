"""Rank fusion, the recency prior and the per-article cap, with scripted rankings (no model)."""

from __future__ import annotations

from datetime import date

import numpy as np

from bot.answering.retrieval import HybridRetriever, KeywordIndex, SearchIndex, Snapshot
from index.store import Passage

QVEC = np.array([1.0, 0.0], dtype=np.float32)


def _passage(article: str, n: int, text: str, day: str = "2024-05-01") -> Passage:
    meta = {"article_id": article, "title": f"Article {article}", "date": day}
    return Passage(f"{article}-{n}", text, meta)


class ScriptedReader:
    """A generation whose dense ranking is given, and whose stored vectors are all QVEC-ish."""

    generation = "scripted"
    client = None

    def __init__(self, dense: list[str], cosine: dict[str, float] | None = None) -> None:
        self.dense = dense
        self.cosine = cosine or {}

    def nearest_ids(self, qvec: np.ndarray, k: int) -> list[tuple[str, float]]:
        return [(i, 0.9 - 0.01 * r) for r, i in enumerate(self.dense[:k])]

    def embeddings(self, ids: list[str]) -> dict[str, np.ndarray]:
        c = self.cosine
        return {i: np.array([c.get(i, 0.1), 0.0], dtype=np.float32) for i in ids}

    def passages(self) -> list[Passage]:
        raise AssertionError("the snapshot is given its keyword index")


def retriever(passages: list[Passage], dense: list[str], **kw) -> HybridRetriever:
    index = SearchIndex.__new__(SearchIndex)  # no store: the snapshot is the whole index
    index._snapshot = Snapshot(
        ScriptedReader(dense, kw.pop("cosine", None)), KeywordIndex.of(passages)
    )
    return HybridRetriever(index=index, embedder=None, **{"k": 4, "per_article": 2} | kw)


def _ids(docs) -> list[str]:
    return [d.metadata["chunk_id"] for d in docs]


def test_an_article_first_in_both_rankings_comes_first() -> None:
    passages = [
        _passage("a", 0, "The harbour ferry runs at night."),
        _passage("b", 0, "Ferry tickets cost more."),
        _passage("c", 0, "The night ferry starts in May from the harbour."),
    ]

    docs = retriever(passages, dense=["c-0", "a-0", "b-0"]).search(
        "night ferry harbour", QVEC, None
    )

    assert _ids(docs)[0] == "c-0"


def test_an_article_gives_at_most_per_article_passages() -> None:
    passages = [_passage("a", n, f"Ferry news part {n}.") for n in range(4)]
    passages.append(_passage("b", 0, "Ferry timetable."))

    docs = retriever(passages, dense=["a-0", "a-1", "a-2", "a-3", "b-0"]).search(
        "ferry", QVEC, None
    )

    assert [d.metadata["article_id"] for d in docs].count("a") == 2
    assert "b-0" in _ids(docs)


def test_articles_are_fused_on_their_best_chunk_not_their_count() -> None:
    # a's three chunks fill the top of the dense list, b is first in both lists
    passages = [_passage("a", n, f"Unrelated words {n}.") for n in range(3)]
    passages.append(_passage("b", 0, "The ferry timetable changes."))

    docs = retriever(passages, dense=["b-0", "a-0", "a-1", "a-2"]).search(
        "ferry timetable", QVEC, None
    )

    assert _ids(docs)[0] == "b-0"


def test_the_recency_prior_puts_the_newer_of_two_equals_first() -> None:
    old = _passage("old", 0, "The ferry strike continues.", day="2024-01-01")
    new = _passage("new", 0, "The ferry strike continues today.", day="2024-05-01")
    # old is first in dense, new first in BM25 (its extra word): a tie in fusion
    query = "ferry strike continues today"

    with_prior = retriever([old, new], dense=["old-0", "new-0"]).search(query, QVEC, None)
    without = retriever([old, new], dense=["old-0", "new-0"], recency_weight=0.0).search(
        query, QVEC, None
    )

    assert _ids(with_prior)[0] == "new-0"
    assert _ids(without)[0] == "old-0"


def test_asked_as_of_a_day_later_articles_are_left_out() -> None:
    old = _passage("old", 0, "The ferry strike began.", day="2024-01-01")
    new = _passage("new", 0, "The ferry strike ended.", day="2024-05-01")

    docs = retriever([old, new], dense=["new-0", "old-0"]).search(
        "ferry strike", QVEC, date(2024, 2, 1)
    )

    assert _ids(docs) == ["old-0"]


def test_a_keyword_only_hit_gets_its_cosine_from_the_stored_vector() -> None:
    passages = [_passage("a", 0, "Ferry"), _passage("b", 0, "The zeppelin landed.")]

    docs = retriever(passages, dense=["a-0"], cosine={"b-0": 0.42}).search("zeppelin", QVEC, None)

    by_id = {d.metadata["chunk_id"]: d.metadata for d in docs}
    assert by_id["b-0"]["dense"] == np.float32(0.42).item()
