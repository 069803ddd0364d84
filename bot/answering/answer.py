"""The answer contract shared by every answerer and every front end (terminal, Discord)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from index.ingest.provenance import HasProvenance, Provenance

REFUSAL_TEXT = "I don't know: the indexed articles don't answer that."


@dataclass(frozen=True)
class Citation(HasProvenance):
    """One numbered source: the article it came from and the verbatim passage quoted."""

    number: int
    provenance: Provenance
    quote: str
    chunk_id: str
    score: float
    # the other outlets that ran the same story (wire copies, collapsed into this one)
    also_in: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Flat, as `--json` and the feedback log give it: every provenance field by name."""
        md = self.provenance.metadata()
        return {
            "number": self.number,
            "title": md.pop("title"),
            "quote": self.quote,
            "chunk_id": self.chunk_id,
            "score": self.score,
            **md,
            "also_in": self.also_in,
        }


@dataclass
class Answer:
    """Text with `[n]` markers, the citations they point to, or a refusal."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    # one line for the user when something degraded (e.g. the LLM was down)
    note: str = ""
    # the passages that were given to the answerer: number → chunk id, title, text, score
    context: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: float = 0.0
    standalone_question: str = ""
    # claims the citation check removed: claim, rule ("number", "name", …), detail, passage
    dropped_claims: list[dict[str, Any]] = field(default_factory=list)
    # the relevance gate: the best passage's relevance and RELEVANCE_THRESHOLD (below it the
    # answer is the refusal); None where no gate ran
    relevance: float | None = None
    relevance_threshold: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready data (the eval's and `--json`'s form)."""
        return asdict(self) | {"citations": [c.as_dict() for c in self.citations]}
