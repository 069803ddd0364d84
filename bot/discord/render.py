"""An `Answer` as Discord messages: within 2,000 characters each, never cut mid-word."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import discord
from discord.utils import escape_markdown

from bot.answer import Answer, Citation
from index.sentences import sentence_spans

# every message the bot sends: text from users or articles must never ping anyone
NO_PINGS = discord.AllowedMentions.none()
MESSAGE_LIMIT = 2000
QUOTE_LIMIT = 300
TITLE_LIMIT = 150
THREAD_NAME_LIMIT = 100
REPHRASE_HINT = "Try rephrasing, or ask about something the articles cover (`/sources` lists them)."

_SPACE = re.compile(r"\s+")
_LAST_SPACE = re.compile(r"\s(?=\S*$)")


def render_answer(answer: Answer, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The answer text, a note, then `[n] Title` and its quoted passage, packed into messages."""
    blocks = [answer.text.strip()]
    if answer.refused:
        blocks.append(REPHRASE_HINT)
    if answer.note:
        blocks.append(f"-# {escape_markdown(_one_line(answer.note))}")
    if answer.citations:
        blocks.append("\n**Sources**")
        blocks += [render_citation(c) for c in answer.citations]
    return pack(blocks, limit)


def render_citation(c: Citation) -> str:
    """`**[n]** Title` (a link when there is a url), its publisher or file and date, the quote."""
    title = _escape_link_text(shorten(c.title, TITLE_LIMIT) or "Untitled")
    head = f"**[{c.number}]** {f'[{title}](<{c.url}>)' if _linkable(c.url) else title}"
    where = c.publisher or c.source
    origin = " · ".join(escape_markdown(_one_line(s)) for s in (where, c.date) if s)
    if origin:
        head += f" — {origin}"
    # one line: a quote that spans paragraphs would otherwise leave the "> " block
    quote = escape_markdown(shorten(_one_line(c.quote), QUOTE_LIMIT))
    return f"{head}\n> {quote}" if quote else head


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut at a word boundary with an ellipsis when longer than `limit`."""
    text = _one_line(text)
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = _LAST_SPACE.search(head)
    # a single word longer than the limit has no boundary to cut at
    head = head[: cut.start()] if cut and cut.start() > 0 else head
    return head.rstrip(" ,;:-–—") + "…"


def thread_name(question: str) -> str:
    """A thread title from the question (Discord allows 100 characters)."""
    return shorten(question, THREAD_NAME_LIMIT) or "Question"


def pack(blocks: Iterable[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Blocks joined by newlines into as few messages as fit; long blocks split by `split_text`.

    A block starting with a newline gets a blank line before it (unless it opens a message).
    """
    messages: list[str] = []
    current = ""
    for block in blocks:
        sep = "\n\n" if block.startswith("\n") else "\n"
        for piece in split_text(block, limit):
            joined = f"{current}{sep}{piece}" if current else piece
            sep = "\n"
            if len(joined) <= limit:
                current = joined
            else:
                messages.append(current.strip())
                current = piece.strip()
    if current.strip():
        messages.append(current.strip())
    return messages


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut after a sentence, else between words."""
    pieces: list[str] = []
    rest = text.strip("\n ")
    while len(rest) > limit:
        cut = _sentence_cut(rest, limit) or _word_cut(rest, limit) or limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _sentence_cut(text: str, limit: int) -> int:
    ends = [end for _, end in sentence_spans(text) if end <= limit]
    return max(ends, default=0)


def _word_cut(text: str, limit: int) -> int:
    cut = _LAST_SPACE.search(text[: limit + 1])
    return cut.start() if cut else 0


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text or "").strip()


def _escape_link_text(text: str) -> str:
    return escape_markdown(text).replace("[", "\\[").replace("]", "\\]")


def _linkable(url: str) -> bool:
    return url.startswith(("https://", "http://")) and not re.search(r"[\s<>]", url)


def source_pages(articles: Sequence[Any], per_page: int = 10, limit: int = 1800) -> list[str]:
    """The article list (`title`, `url`, `source`, `chunks`) as pages of message text."""
    head = f"**{len(articles)} indexed article{'s' if len(articles) != 1 else ''}**"
    pages: list[list[str]] = [[]]
    for i, a in enumerate(articles, 1):
        title = _escape_link_text(shorten(a.title, TITLE_LIMIT) or "Untitled")
        line = f"{i}. {f'[{title}](<{a.url}>)' if _linkable(a.url) else title}"
        if a.source:
            line += f" — {escape_markdown(_one_line(a.source))}"
        line += f" · {a.chunks} passage{'s' if a.chunks != 1 else ''}"
        page = pages[-1]
        if page and (len(page) >= per_page or len("\n".join([head, *page, line])) > limit):
            pages.append(page := [])
        page.append(shorten(line, limit - len(head) - 1))
    return ["\n".join([head, *page]) for page in pages]


def reindex_summary(report: dict[str, Any]) -> str:
    """One line on what a reindex did, and the files it had to skip."""
    r = report
    text = (
        f"Reindex done: {r.get('articles', 0)} articles, {r.get('chunks', 0)} passages "
        f"({r.get('embedded', 0)} new, {r.get('unchanged', 0)} unchanged, "
        f"{r.get('removed', 0)} removed) in {float(r.get('seconds', 0)):.1f} s."
    )
    skipped = r.get("skipped_files") or []
    if skipped:
        names = ", ".join(
            escape_markdown(str(s.get("file", s)) if isinstance(s, dict) else str(s))
            for s in skipped[:5]
        )
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        text += f"\nSkipped {len(skipped)} file{'s' if len(skipped) != 1 else ''}: {names}{more}."
    return shorten_block(text)


def shorten_block(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to one message at a word boundary, line breaks kept."""
    return text if len(text) <= limit else split_text(text, limit - 1)[0] + "…"
