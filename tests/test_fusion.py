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

    def __init__(
        self,
        dense: list[str],
        cosine: dict[str, float] | None = None,
        scores: dict[str, float] | None = None,
    ) -> None:
        self.dense = dense
        self.cosine = cosine or {}
        self.scores = scores or {}  # dense scores by id; else 0.9 down by 0.01 a place

    def nearest_ids(self, qvec: np.ndarray, k: int) -> list[tuple[str, float]]:
        return [(i, self.scores.get(i, 0.9 - 0.01 * r)) for r, i in enumerate(self.dense[:k])]

    def embeddings(self, ids: list[str]) -> dict[str, np.ndarray]:
        c = self.cosine
        return {i: np.array([c.get(i, 0.1), 0.0], dtype=np.float32) for i in ids}

    def passages(self) -> list[Passage]:
        raise AssertionError("the snapshot is given its keyword index")


def retriever(passages: list[Passage], dense: list[str], **kw) -> HybridRetriever:
    index = SearchIndex.__new__(SearchIndex)  # no store: the snapshot is the whole index
    reader = ScriptedReader(dense, kw.pop("cosine", None), kw.pop("scores", None))
    index._snapshot = Snapshot(reader, KeywordIndex.of(passages))
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


def test_recency_does_not_lift_an_article_past_a_clearly_more_relevant_one() -> None:
    old = _passage("old", 0, "The ferry strike closed the harbour crossing.", day="2024-01-01")
    new = _passage("new", 0, "A strike was threatened.", day="2024-05-01")
    # first and second in both rankings, a tie for fusion; by their scores old is far ahead
    scores = {"old-0": 0.9, "new-0": 0.45}

    docs = retriever([old, new], dense=["old-0", "new-0"], scores=scores).search(
        "ferry strike harbour crossing", QVEC, None
    )

    assert _ids(docs)[0] == "old-0"


def test_the_most_relevant_article_keeps_a_place_among_newer_near_equals() -> None:
    # five newer reports each a little behind the old one, all within the recency margin
    old = _passage("old", 0, "The ferry strike continues.", day="2023-01-01")
    texts = [
        "Ferry strike talks stalled on Monday.",
        "Crews extend the ferry strike by a week.",
        "Island shops run low as the ferry strike drags on.",
        "Unions and owners trade blame over the ferry strike.",
        "Tourists stranded by the ferry strike take planes.",
    ]
    newer = [_passage(f"n{i}", 0, t, day="2024-05-01") for i, t in enumerate(texts)]
    dense = ["old-0", *(p.id for p in newer)]

    docs = retriever([old, *newer], dense=dense, k=4, per_article=1).search(
        "ferry strike", QVEC, None
    )

    assert "old-0" in _ids(docs)


def test_a_question_asking_for_the_latest_weighs_recency_more() -> None:
    # dense only (no word of either question is in a text): old first, new third; four days
    # apart, a bonus too small to close two places, and doubled, large enough
    old = _passage("old", 0, "Talks broke down at noon.", day="2024-04-27")
    filler = _passage("filler", 0, "Buses replaced the boats.", day="")
    new = _passage("new", 0, "Talks resume on Friday.", day="2024-05-01")
    r = retriever([old, filler, new], dense=["old-0", "filler-0", "new-0"], k=3, per_article=1)

    plain = r.search("What happened in the dispute?", QVEC, None)
    latest = r.search("What is the latest on the dispute?", QVEC, None)

    assert _ids(plain)[0] == "old-0"
    assert _ids(latest)[0] == "new-0"
