"""Sentence vectors by late chunking: pooled from the chunk's own forward pass at build time.

The extractive answerer scores a passage's sentences by their similarity to the question. The
build already runs every chunk's "title + text" through the model; pooling that pass's token
outputs over each sentence's tokens gives every sentence a vector that has read its title and
neighbours, at no model run when a question comes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.build.chunking import Chunk
from index.text.sentences import sentence_spans


@dataclass(frozen=True)
class SentenceVectors:
    """One chunk's sentences: `spans[i]` is (start, end) in the chunk's text (`Chunk.text`, as
    `sentence_spans` gives them), `vectors[i]` its L2-normalised float32 vector."""

    spans: np.ndarray  # (n, 2) int32
    vectors: np.ndarray  # (n, dim) float32

    def by_span(self) -> dict[tuple[int, int], np.ndarray]:
        """The sentence vectors by (start, end) in the chunk's text."""
        return {(int(s), int(e)): v for (s, e), v in zip(self.spans, self.vectors, strict=True)}


def embed_chunks(embedder, chunks: Sequence[Chunk]) -> tuple[np.ndarray, list[SentenceVectors]]:
    """Each chunk's vector (as `embedder.embed` of its `embed_text`) and its sentences' vectors,
    from one forward pass. A sentence the model's window cut off has no vector."""
    texts, spans = [], []
    for c in chunks:
        text = c.embed_text
        shift = len(text) - len(c.text)  # the title and its newline come first
        texts.append(text)
        spans.append([(s + shift, e + shift) for s, e in sentence_spans(c.text)])
    vectors, pooled = embedder.embed_with_spans(texts, spans)
    out = []
    for c, own, vecs in zip(chunks, spans, pooled, strict=True):
        shift = len(c.embed_text) - len(c.text)
        seen = np.linalg.norm(vecs, axis=1) > 0
        kept = np.array([(s - shift, e - shift) for s, e in own], dtype=np.int32).reshape(-1, 2)
        out.append(SentenceVectors(kept[seen], vecs[seen].astype(np.float32, copy=False)))
    return vectors, out
