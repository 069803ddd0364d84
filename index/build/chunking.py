"""Sentence-aware chunks measured in the embedding model's own tokens, with stable ids."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from index.ingest.provenance import Article, HasProvenance, Provenance
from index.text.sentences import sentence_spans

# Bump when a change here moves chunk boundaries, so unchanged articles are chunked again.
CHUNKING_VERSION = 2
# all-MiniLM-L6-v2 reads 256 word pieces including [CLS] and [SEP] and silently drops the rest.
MODEL_WINDOW = 256
SPECIAL_TOKENS = 2
MAX_TITLE_TOKENS = 48

TokenCounter = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True)
class Chunk(HasProvenance):
    """A passage of one article: `text` is verbatim `article.text[start:end]`."""

    id: str
    provenance: Provenance  # the article's, shared
    text: str
    index: int
    start: int
    end: int
    heading: str = ""  # the title as embedded, when a very long one had to be shortened

    @property
    def embed_text(self) -> str:
        """What is embedded: the title gives a passage the context its own words may lack."""
        return f"{self.heading or self.title}\n{self.text}"

    def metadata(self) -> dict[str, str | int | bool]:
        """Flat metadata: the provenance and where in the article the chunk lies."""
        return {
            **self.provenance.metadata(),
            "chunk_index": self.index,
            "start": self.start,
            "end": self.end,
        }


def chunk_id(article_id: str, title: str, text: str, occurrence: int = 0) -> str:
    """Content-addressed id: an unchanged passage keeps its id, so a rebuild skips it."""
    h = hashlib.sha1(f"{article_id}\x00{title}\x00{text}\x00{occurrence}".encode()).hexdigest()
    return h[:24]


class _Unit(NamedTuple):
    """A run of the article that is never split: a sentence, or part of an over-long one."""

    start: int
    end: int
    tokens: int
    solo: bool = False  # a piece of one over-long word: a chunk of its own


def _fit(text: str, start: int, end: int, budget: int, count: TokenCounter) -> int:
    """The furthest cut in `text[start:end]` whose prefix fits in `budget` tokens (>= 1 char)."""
    lo, hi = start + 1, end
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count([text[start:mid]])[0] <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _word_windows(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[_Unit]:
    """Split one over-long sentence into runs of whole words of at most `budget` tokens.

    A single word over the budget (Chinese has no spaces; a scraped line of "=====" is a token
    per character) is cut into pieces that each make a chunk of their own: the word pieces of
    parts of a word need not add up to those of the parts joined again.
    """
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    counts = count([text[s:e] for s, e in words])
    out: list[_Unit] = []
    cur: list[tuple[int, int]] = []
    used = 0
    for (s, e), n in zip(words, counts, strict=True):
        if cur and (n > budget or used + n > budget):
            out.append(_Unit(cur[0][0], cur[-1][1], used))
            cur, used = [], 0
        if n <= budget:
            cur.append((s, e))
            used += n
            continue
        while s < e:
            cut = _fit(text, s, e, budget, count)
            out.append(_Unit(s, cut, count([text[s:cut]])[0], solo=True))
            s = cut
    if cur:
        out.append(_Unit(cur[0][0], cur[-1][1], used))
    return out


def _heading(title: str, count: TokenCounter) -> tuple[str, int]:
    """The title as embedded and its tokens: whole, or cut at a word to `MAX_TITLE_TOKENS`."""
    tokens = count([title])[0]
    if tokens <= MAX_TITLE_TOKENS:
        return title, tokens
    cut = _fit(title, 0, len(title), MAX_TITLE_TOKENS, count)
    space = title.rfind(" ", 0, cut + 1)
    heading = title[: space if space > 0 else cut].rstrip()
    return heading, count([heading])[0]


def chunk_article(
    article: Article, count: TokenCounter, max_tokens: int = 200, overlap_tokens: int = 40
) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `max_tokens` model tokens, title included.

    Consecutive chunks share up to `overlap_tokens` of trailing sentences so an answer that
    straddles a boundary is whole in at least one chunk.
    """
    title = article.title
    heading, title_tokens = _heading(title, count)
    title_tokens += 1  # the newline
    budget = max(16, min(max_tokens, MODEL_WINDOW - SPECIAL_TOKENS - title_tokens))
    overlap_tokens = min(overlap_tokens, budget // 2)
    text = article.text
    spans = sentence_spans(text)
    counts = count([text[s:e] for s, e in spans]) if spans else []
    units: list[_Unit] = []
    for (s, e), n in zip(spans, counts, strict=True):
        if n > budget:
            units.extend(_word_windows(text, s, e, budget, count))
        else:
            units.append(_Unit(s, e, n))

    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    i = 0
    while i < len(units):
        j, used = i, 0
        while j < len(units) and (
            j == i or (used + units[j].tokens <= budget and not (units[i].solo or units[j].solo))
        ):
            used += units[j].tokens
            j += 1
        start, end = units[i].start, units[j - 1].end
        body = text[start:end]
        occ = seen.get(body, 0)
        seen[body] = occ + 1
        chunks.append(
            Chunk(
                id=chunk_id(article.id, title, body, occ),
                provenance=article.provenance,
                text=body,
                index=len(chunks),
                start=start,
                end=end,
                heading="" if heading == title else heading,
            )
        )
        if j >= len(units):
            break
        # step back over trailing sentences that fit in the overlap, but always move forward
        k, back = j, 0
        while k - 1 > i and not units[j].solo and back + units[k - 1].tokens <= overlap_tokens:
            back += units[k - 1].tokens
            k -= 1
        i = k
    return chunks
