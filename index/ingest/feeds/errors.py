"""The one error of fetching: a URL that gave nothing usable, and why in a few words."""

from __future__ import annotations

from index.errors import CitebotError


class FetchError(CitebotError):
    """A feed or page could not be used; `reason` is its line in the fetch summary."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
