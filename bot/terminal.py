"""Plain-text rendering of an `Answer` for the terminal."""

from __future__ import annotations

import re

from bot.answering.answer import Answer
from index.text.urls import safe_url

# Article and model text is data: a terminal must show it, not act on it. Escape sequences go
# whole (CSI such as "clear screen"; OSC, DCS, PM, APC such as "set the window title", with their
# payload up to the terminator or the line's end), in 7-bit and 8-bit form, then any other C0 or
# C1 control but newline and tab (a carriage return or backspace could overwrite what is shown).
_ESCAPE = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b[ -/]*[0-~]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """`text` without terminal escape sequences and control characters (newline and tab stay)."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))


def render_text(answer: Answer) -> str:
    """The answer with `[n]` markers, then one `[n] Title (publisher, date; also in …) — "quote"`
    per citation.

    News goes stale: the date tells the reader how current each quoted fact is.
    """
    # every piece but the fixed texts comes from an article or a model; cleaned one by one,
    # so that an unterminated sequence costs at most the rest of its own field
    clean = strip_controls
    lines = [clean(answer.text)]
    if answer.refused:
        lines.append("Try rephrasing, or ask about something the articles cover.")
    if answer.note:
        lines.append(f"({clean(answer.note)})")
    if answer.citations:
        lines.append("")
    for c in answer.citations:
        title, publisher, day = (clean(x) for x in (c.title, c.publisher, c.date))
        url = safe_url(clean(c.url))
        link = f" <{url}>" if url else ""
        origin = ", ".join(x for x in (publisher, day.split("T")[0]) if x)
        also = ", ".join(clean(x) for x in c.also_in)
        if also:  # the same story from other outlets (wire copies), cited once
            origin = f"{origin}; also in {also}" if origin else f"also in {also}"
        by = f" ({origin})" if origin else ""
        quote = " ".join(clean(c.quote).split())  # a quote may span paragraphs: one line here
        lines.append(f'[{c.number}] {title}{by}{link} — "{quote}"')
    return "\n".join(lines)
