"""An `Answer` as Discord messages: within 2,000 characters each, never cut mid-word."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.answering.answer import Answer, Citation
from index.text.sentences import sentence_spans
from index.text.urls import safe_url

if TYPE_CHECKING:
    from index.build.builder import BuildReport

# every message the bot sends: text from users or articles must never ping anyone
NO_PINGS = discord.AllowedMentions.none()
MESSAGE_LIMIT = 2000
QUOTE_LIMIT = 300
TITLE_LIMIT = 150
THREAD_NAME_LIMIT = 100
REPHRASE_HINT = "Try rephrasing, or ask about something the articles cover (`/sources` lists them)."

_SPACE = re.compile(r"\s+")
_LAST_SPACE = re.compile(r"\s(?=\S*$)")

# Article and model text is data. Discord would link a bare url and preview it, show a card for
# an invite, mask a link as `[text](url)`, and turn `<@id>`, `<#id>`, `<t:…>` tags into live
# mentions and widgets; urls are therefore kept whole inside `<…>` (shown as links, never
# previewed), everything else is escaped.
_URL = re.compile(
    r"<(?P<wrapped>https?://[^\s<>]+)>"
    r"|(?P<url>(?:https?://|(?<![\w.@/-])(?:discord(?:app)?\.com/invite|discord\.gg)/)[^\s<>]+)",
    re.IGNORECASE,
)
_URL_TRAIL = ".,:;!?'\"*_~|`"
_INLINE = re.compile(
    r"[\\*_~|`]"  # emphasis, spoilers, code, and the escape character itself
    r"|(?<=\])\("  # `](` opens a masked link; `[n]` markers stay as they are
    r"|@(?=(?:everyone|here)\b)"
    r"|<(?=[@#/:]|a:|t:|id:)"  # user, role, channel, command, emoji, timestamp tags
)
# where a line starts: headings (and `-#` small print), block quotes, list items
_LINE_START = re.compile(r"^(\s*)([#>+*-])", re.MULTILINE)
_ORDERED_ITEM = re.compile(r"^(\s*\d+)\.(?=\s)", re.MULTILINE)


def render_answer(answer: Answer, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The answer text, a note, then `[n] Title` and its quoted passage, packed into messages."""
    blocks = [escape_text(answer.text.strip())]
    if answer.refused:
        blocks.append(REPHRASE_HINT)
    if answer.note:
        blocks.append(f"-# {escape_text(_one_line(answer.note))}")
    if answer.citations:
        blocks.append("\n**Sources**")
        for c in answer.citations:
            block = render_citation(c, limit - 1)
            # too long for one message (a very long url): head and quote go apart, each whole,
            # never a link cut in two
            blocks += block.split("\n", 1) if len(block) > limit - 1 else [block]
    return pack(blocks, limit)


def render_citation(c: Citation, limit: int = MESSAGE_LIMIT - 1) -> str:
    """`**[n]** Title` (a link when there is a url), its publisher or file and date, the quote.

    The first line fits in `limit`: a title is shortened to make room for a long url, and a
    url too long for any message is not linked (Discord would show a cut link)."""
    where = c.publisher or c.source
    origin = " · ".join(escape_text(_one_line(s)) for s in (where, c.date) if s)
    tail = f" — {origin}" if origin else ""
    if c.also_in:  # the same story from other outlets (wire copies), cited once
        also = ", ".join(escape_text(_one_line(x)) for x in c.also_in)
        tail += f" · also in {also}"
    url = safe_url(c.url)
    plain = _escape_link_text(shorten(c.title, TITLE_LIMIT) or "Untitled")
    head = f"**[{c.number}]** {plain}"
    if _linkable(url):
        room = TITLE_LIMIT
        while room >= 20:
            title = _escape_link_text(shorten(c.title, room) or "Untitled")
            linked = f"**[{c.number}]** [{title}](<{url}>)"
            if len(linked + tail) <= limit:
                head = linked
                break
            room = min(room, limit - len(linked + tail) + len(title)) - 1
    head += tail
    # one line: a quote that spans paragraphs would otherwise leave the "> " block
    quote = escape_text(shorten(_one_line(c.quote), QUOTE_LIMIT))
    return f"{head}\n> {quote}" if quote else head


def escape_text(text: str) -> str:
    """`text` as Discord shows it literally: no markup, masked links, mentions, previews or cards.

    Urls stay whole (escaping would break them) and go inside `<…>`; `[n]` markers stay plain.
    """
    out: list[str] = []
    pos = 0
    for m in _URL.finditer(text):
        url, trail = (m["wrapped"], "") if m["wrapped"] else _split_url(m["url"])
        if not url.lower().startswith("http"):
            url = f"https://{url}"  # an invite written without a scheme
        out += [_escape_inline(text[pos : m.start()]), f"<{safe_url(url)}>", _escape_inline(trail)]
        pos = m.end()
    out.append(_escape_inline(text[pos:]))
    return _escape_line_starts("".join(out))


def _escape_inline(text: str) -> str:
    return _INLINE.sub(r"\\\g<0>", text)


def _escape_line_starts(text: str) -> str:
    return _ORDERED_ITEM.sub(r"\1\\.", _LINE_START.sub(r"\1\\\2", text))


def _split_url(url: str) -> tuple[str, str]:
    """A url without the punctuation that ends the sentence around it (or an unmatched `)`)."""
    end = len(url)
    while end:
        last = url[end - 1]
        unmatched = last in ")]" and url.count(last, 0, end) > url.count(
            "(" if last == ")" else "[", 0, end
        )
        if last not in _URL_TRAIL and not unmatched:
            break
        end -= 1
    return url[:end], url[end:]


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
        # one character spare: a piece cut from mid-line may need its first one escaped
        for i, piece in enumerate(split_text(block, limit - 1)):
            piece = _as_mid_line(piece) if i else piece
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


def _as_mid_line(piece: str) -> str:
    """A piece cut from the middle of a line now starts one: keep it from opening markup there."""
    first, newline, rest = piece.partition("\n")
    return _escape_line_starts(first) + newline + rest


def _escape_link_text(text: str) -> str:
    # brackets would end the link text early; `escape_text` leaves them alone
    return escape_text(text).replace("[", "\\[").replace("]", "\\]")


def _linkable(url: str) -> bool:
    """An http(s) URL already passed through `safe_url` (nothing in it can end the link)."""
    return url.startswith(("https://", "http://"))


def source_pages(articles: Sequence[Any], per_page: int = 10, limit: int = 1800) -> list[str]:
    """The article list (`title`, `url`, `source`, `chunks`, `date`) as pages of message text."""
    head = f"**{len(articles)} indexed article{'s' if len(articles) != 1 else ''}**"
    pages: list[list[str]] = [[]]
    for i, a in enumerate(articles, 1):
        title = _escape_link_text(shorten(a.title, TITLE_LIMIT) or "Untitled")
        url = safe_url(a.url or "")
        line = f"{i}. {f'[{title}](<{url}>)' if _linkable(url) else title}"
        if a.source:
            line += f" — {escape_text(_one_line(a.source))}"
        day = str(getattr(a, "date", "") or "").split("T")[0]
        if day:
            line += f" · {escape_text(_one_line(day))}"
        line += f" · {a.chunks} passage{'s' if a.chunks != 1 else ''}"
        page = pages[-1]
        if page and (len(page) >= per_page or len("\n".join([head, *page, line])) > limit):
            pages.append(page := [])
        page.append(shorten(line, limit - len(head) - 1))
    return ["\n".join([head, *page]) for page in pages]


def fetch_summary(fetch: dict[str, Any]) -> str:
    """One line on what a reindex's fetch did, naming up to three failures."""
    if "error" in fetch:
        reason = escape_text(_one_line(fetch["error"]))
        return f"Fetching the feeds failed ({reason}); built from the articles already fetched."
    t = fetch.get("totals", {})
    text = (
        f"Feeds: {t.get('new', 0)} new, {t.get('updated', 0)} updated, "
        f"{t.get('unchanged', 0)} unchanged, {t.get('failed', 0)} failed."
    )
    failures = [f for s in fetch.get("sources", []) for f in s.get("failures", [])]
    if failures:
        # <url>: a link that shows no preview
        named = "; ".join(
            f"{f'<{u}>' if _linkable(u := safe_url(f['url'])) else escape_text(_one_line(u))}: "
            f"{escape_text(_one_line(f['reason']))}"
            for f in failures[:3]
        )
        text += f" {named}" + (f" and {len(failures) - 3} more." if len(failures) > 3 else ".")
    return text


def reindex_summary(report: BuildReport, fetch: dict[str, Any] | None = None) -> str:
    """One line on what a reindex did (and its fetch), and the files it had to skip."""
    r = report
    text = (
        f"Reindex done: {r.articles} articles, {r.chunks} passages "
        f"({r.embedded} new, {r.unchanged} unchanged, "
        f"{r.removed} removed) in {float(r.seconds):.1f} s."
    )
    skipped = r.skipped_files
    if skipped:
        names = ", ".join(
            escape_text(str(s.get("file", s)) if isinstance(s, dict) else str(s))
            for s in skipped[:5]
        )
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        text += f"\nSkipped {len(skipped)} file{'s' if len(skipped) != 1 else ''}: {names}{more}."
    if fetch:
        text += "\n" + fetch_summary(fetch)
    return shorten_block(text)


def shorten_block(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to one message at a word boundary, line breaks kept."""
    return text if len(text) <= limit else split_text(text, limit - 1)[0] + "…"
