"""A per-user limit on questions: at most N in any rolling minute."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Hashable

from index.errors import CitebotError


class RateLimitedError(CitebotError):
    """The user asked too often; the message says when they can ask again."""


class RateLimiter:
    """A sliding log per key: `limit` hits in any `window` seconds."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[Hashable, deque[float]] = {}

    def hit(self, key: Hashable) -> None:
        """Count one question for `key`, or raise `RateLimitedError` without counting it."""
        # looked up per call (not bound at import) so a test clock that patches it is seen
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            wait = max(1, round(hits[0] + self.window - now))
            raise RateLimitedError(
                f"You're asking faster than I can keep up ({self.limit} questions a minute). "
                f"Please try again in {wait} s."
            )
        hits.append(now)
        if len(self._hits) > 10_000:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window]:
            del self._hits[key]
