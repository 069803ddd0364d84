"""URLs as they may be shown: characters that end a link or open a masked one, percent-encoded."""

from __future__ import annotations

import re

# `()[]<>` and whitespace end a link in Markdown (`[text](<url>)`) and in a terminal's `<url>`,
# so a URL holding them (a redirect's Location, a canonical link) could end its own link and
# open a second one, to anywhere, under text of its choosing. Encoded, they stay part of the
# URL and mean what they meant to the server (RFC 3986 reads `%28` as `(`).
_UNSAFE = re.compile(r"[()\[\]<>\s]")


def safe_url(url: str) -> str:
    """`url` with `()[]<>` and whitespace percent-encoded (UTF-8), everything else untouched."""
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), url)
