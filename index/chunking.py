"""Sentence-aware chunks measured in the embedding model's own tokens, with stable ids."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.articles import Article
from index.sentences import sentence_spans

# all-MiniLM-L6-v2 reads 256 word pieces including [CLS] and [SEP] and silently drops the rest.
MODEL_WINDOW = 256
SPECIAL_TOKENS = 2
MAX_TITLE_TOKENS = 48

TokenCounter = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True)
class Chunk:
    """A passage of one article: `text` is verbatim `article.text[start:end]`."""

    id: str
    article_id: str
    title: str
    text: str
    index: int
    start: int
    end: int
    source: str
    url: str
    date: str
    title_derived: bool

    @property
    def embed_text(self) -> str:
        """What is embedded: the title gives a passage the context its own words may lack."""
        return f"{self.title}\n{self.text}"

    def metadata(self) -> dict[str, str | int | bool]:
        """Flat provenance metadata, always present (Chroma stores no None)."""
        return {
            "article_id": self.article_id,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "date": self.date,
            "chunk_index": self.index,
            "start": self.start,
            "end": self.end,
            "title_derived": self.title_derived,
        }


def chunk_id(article_id: str, title: str, text: str, occurrence: int = 0) -> str:
    """Content-addressed id: an unchanged passage keeps its id, so a rebuild skips it."""
    h = hashlib.sha1(f"{article_id}\x00{title}\x00{text}\x00{occurrence}".encode()).hexdigest()
    return h[:24]


def _word_windows(text: str, start: int, end: int, budget: int, count: TokenCounter):
    """Split one over-long sentence into word runs of at most `budget` tokens."""
    words: list[tuple[int, int]] = []
    i = start
    for part in text[start:end].split():
        s = text.index(part, i)
        words.append((s, s + len(part)))
        i = s + len(part)
    counts = count([text[s:e] for s, e in words])
    out, cur, used = [], [], 0
    for (s, e), n in zip(words, counts, strict=True):
        if cur and used + n > budget:
            out.append((cur[0][0], cur[-1][1], used))
            cur, used = [], 0
        cur.append((s, e))
        used += n
    if cur:
        out.append((cur[0][0], cur[-1][1], used))
    return out


def chunk_article(
    article: Article, count: TokenCounter, max_tokens: int = 200, overlap_tokens: int = 40
) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `max_tokens` model tokens, title included.

    Consecutive chunks share up to `overlap_tokens` of trailing sentences so an answer that
    straddles a boundary is whole in at least one chunk.
    """
    title = article.title
    title_tokens = min(count([title])[0], MAX_TITLE_TOKENS) + 1  # +1 for the newline
    budget = max(16, min(max_tokens, MODEL_WINDOW - SPECIAL_TOKENS - title_tokens))
    overlap_tokens = min(overlap_tokens, budget // 2)
    text = article.text
    spans = sentence_spans(text)
    counts = count([text[s:e] for s, e in spans]) if spans else []
    units: list[tuple[int, int, int]] = []
    for (s, e), n in zip(spans, counts, strict=True):
        if n > budget:
            units.extend(_word_windows(text, s, e, budget, count))
        else:
            units.append((s, e, n))

    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    i = 0
    while i < len(units):
        j, used = i, 0
        while j < len(units) and (j == i or used + units[j][2] <= budget):
            used += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        body = text[start:end]
        occ = seen.get(body, 0)
        seen[body] = occ + 1
        chunks.append(
            Chunk(
                id=chunk_id(article.id, title, body, occ),
                article_id=article.id,
                title=title,
                text=body,
                index=len(chunks),
                start=start,
                end=end,
                source=article.source,
                url=article.url,
                date=article.date,
                title_derived=article.title_derived,
            )
        )
        if j >= len(units):
            break
        # step back over trailing sentences that fit in the overlap, but always move forward
        k, back = j, 0
        while k - 1 > i and back + units[k - 1][2] <= overlap_tokens:
            back += units[k - 1][2]
            k -= 1
        i = k
    return chunks
