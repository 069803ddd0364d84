"""Plain-text rendering of an `Answer` for the terminal."""

from __future__ import annotations

from bot.answer import Answer


def render_text(answer: Answer) -> str:
    """The answer with `[n]` markers, then one `[n] Title (publisher, date) — "quote"` per citation.

    News goes stale: the date tells the reader how current each quoted fact is.
    """
    lines = [answer.text]
    if answer.refused:
        lines.append("Try rephrasing, or ask about something the articles cover.")
    if answer.note:
        lines.append(f"({answer.note})")
    if answer.citations:
        lines.append("")
    for c in answer.citations:
        link = f" <{c.url}>" if c.url else ""
        origin = ", ".join(x for x in (c.publisher, c.date.split("T")[0]) if x)
        by = f" ({origin})" if origin else ""
        quote = " ".join(c.quote.split())  # a quote may span paragraphs: one line here
        lines.append(f'[{c.number}] {c.title}{by}{link} — "{quote}"')
    return "\n".join(lines)
