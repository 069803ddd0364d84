"""What in a message's raw content Discord would render as live markup, links or pings.

The bot's own markup is allowed where the renderer puts it: `**Sources**`, a citation head
`**[n]** [Title](<url>)`, and the `> quote` line right under that head. Everything else that came
from an article or a model must read as text.
"""

from __future__ import annotations

import re

# a link's url holds none of `()[]<>` or whitespace: with them it could end itself and mask another
_HEAD = re.compile(r"^\*\*\[\d+\]\*\* (?:\[((?:\\.|[^\[\]\\])*)\]\(<https?://[^\s<>()\[\]]+>\))?")
_WRAPPED_URL = re.compile(r"<https?://[^\s<>]+>")
_RULES = {
    "line-start markup (heading, block quote, list)": re.compile(r"^\s*(?:[#>*+-]|\d+\.\s)"),
    "unescaped emphasis, spoiler or code": re.compile(r"(?<!\\)[*_~|`]"),
    "masked link": re.compile(r"\]\("),
    "@everyone or @here": re.compile(r"(?<!\\)@(?:everyone|here)\b"),
    "mention, channel, emoji or timestamp tag": re.compile(r"(?<!\\)<(?:[@#/:]|a:|t:)"),
    "bare url or invite (unfurls)": re.compile(
        r"https?://|(?:discord(?:app)?\.com/invite|discord\.gg)/", re.I
    ),
}


def live_markup(content: str) -> list[str]:
    """Each rule the content breaks, with the offending line."""
    found = []
    after_head = False
    for line in content.splitlines():
        text = line
        if line == "**Sources**" or not line.strip():
            after_head = False
            continue
        head = _HEAD.match(line)
        if head:
            text = (head.group(1) or "") + line[head.end() :]
        elif after_head and line.startswith("> "):
            text = line[2:]
        after_head = bool(head)
        text = _WRAPPED_URL.sub("", text)
        found += [f"{name}: {line!r}" for name, rule in _RULES.items() if rule.search(text)]
    return found
