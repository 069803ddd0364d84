"""Sentence boundaries as character spans, shared by the chunker and the extractive answerer."""

from __future__ import annotations

import re

# Abbreviations after which a full stop does not end a sentence.
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "col", "lt", "sgt", "st", "jr",
    "sr", "inc", "ltd", "co", "corp", "vs", "etc", "no", "fig", "u.s", "u.k", "u.n", "e.g", "i.e",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt",
}  # fmt: skip
_BOUNDARY = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])|\n\s*\n|\n(?=\S)")
_WORD_BEFORE = re.compile(r"([A-Za-z.]+)[.]$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, trimmed of surrounding white space."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.start()
        # A boundary right after "Dr." or "U.S." (followed by a capital) is not one.
        head = text[start:end].rstrip('"”’)]')
        w = _WORD_BEFORE.search(head[-12:])
        if w and "\n" not in m.group(0):
            word = w.group(1).lower().rstrip(".")
            if word in _ABBREV or (len(word) == 1 and word.isalpha()):
                continue
        # keep closing quotes with the sentence they close
        close = len(m.group(0)) - len(m.group(0).lstrip('"”’)]'))
        _push(spans, text, start, end + close)
        start = m.end()
    _push(spans, text, start, len(text))
    return spans


def _push(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    seg = text[start:end]
    lead = len(seg) - len(seg.lstrip())
    trail = len(seg) - len(seg.rstrip())
    s, e = start + lead, end - trail
    if e > s:
        spans.append((s, e))


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, verbatim."""
    return [text[s:e] for s, e in sentence_spans(text)]
