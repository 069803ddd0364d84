"""Numbered passages: what every answerer sees and every citation points back to."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.documents import Document

from index.ingest.provenance import HasProvenance, Provenance


@dataclass(frozen=True)
class NumberedPassage(HasProvenance):
    """Passage `[number]` of an answer's context, with its provenance and retrieval scores."""

    number: int
    chunk_id: str
    provenance: Provenance
    text: str
    dense: float = 0.0
    relevance: float = 0.0
    also_in: tuple[str, ...] = ()  # the other outlets that ran this story (wire copies)

    def as_context(self) -> dict:
        """What the answer's context lists of this passage (the eval and `--json`)."""
        return {
            "number": self.number,
            "chunk_id": self.chunk_id,
            "title": self.title,
            "url": self.url,
            "text": self.text,
            "score": round(self.relevance, 4),
        }


def number_passages(docs: list[Document]) -> list[NumberedPassage]:
    """Number retrieved documents 1..n in rank order."""
    return [
        NumberedPassage(
            number=i,
            chunk_id=d.metadata.get("chunk_id", d.id or ""),
            provenance=Provenance.from_metadata(d.metadata),
            text=d.page_content,
            dense=float(d.metadata.get("dense") or 0.0),
            relevance=float(d.metadata.get("relevance") or 0.0),
            also_in=tuple(d.metadata.get("also_in") or ()),
        )
        for i, d in enumerate(docs, start=1)
    ]
