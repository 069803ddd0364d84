"""The eval counts a gold article that is a wire copy of a ranked passage, at its rank."""

from __future__ import annotations

from langchain_core.documents import Document

from bot.evaluation.evaluate import Known, retrieval_metrics


def test_a_gold_wire_copy_counts_at_the_rank_of_the_passage_standing_for_it() -> None:
    known = Known(
        doc_of={"a1": "doc-a", "b1": "doc-b", "c1": "doc-c"},
        chunk_article={"a1-0": "a1", "b1-0": "b1"},
        chunk_text={},
    )
    docs = [
        Document("", metadata={"chunk_id": "a1-0", "copies": ("c1",)}),
        Document("", metadata={"chunk_id": "b1-0"}),
    ]
    ranked = known.ranked_docs([d.metadata["chunk_id"] for d in docs])

    found = retrieval_metrics(ranked, known.standing_in(docs, {"doc-c"}), None)
    missed = retrieval_metrics(ranked, {"doc-c"}, None)

    assert ranked == ["doc-a", "doc-b"]  # the copy takes no rank of its own
    assert found["recall@1"] == 1.0 and found["mrr@10"] == 1.0
    assert missed["recall@10"] == 0.0
