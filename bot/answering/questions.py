"""What makes a question askable (one check, shared by every front end and the library API),
and what it asks of the library's dates."""

from __future__ import annotations

import re

from bot.answering.text import has_words
from bot.errors import BadQuestionError

# The library API's limit; the Discord bot asks for a tighter one (1,000 characters).
MAX_QUESTION_CHARS = 2000


def clean_question(question: str, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """The question as it will be asked, or `BadQuestionError` saying what is wrong with it.

    Front ends may ask for a tighter limit (the Discord bot allows 1,000 characters).
    """
    q = " ".join((question or "").split())
    if not q:
        raise BadQuestionError("Please ask a question, e.g. “How big was Russia–China trade?”")
    if len(q) > max_chars:
        raise BadQuestionError(
            f"That question is {len(q):,} characters long; please keep it under "
            f"{max_chars:,} so I can search for it well."
        )
    if not has_words(q):
        raise BadQuestionError("I need words to search the articles: please ask in a sentence.")
    return q


# Words by which a question asks for the newest news, not merely for news on a topic.
_LATEST = re.compile(
    r"\b(?:latest|newest|most recent|recent(?:ly)?|lately|these days|today|tonight|"
    r"(?:right )?now|currently|at the moment|so far|this (?:week|weekend|month|morning|year))\b",
    re.I,
)


def asks_for_latest(question: str) -> bool:
    """Whether the question asks for the latest news ("What is the latest on …", "… this
    week?", "Who leads now?"): recency then weighs more in the ranking."""
    return _LATEST.search(question) is not None
