"""Errors the answering side shows to users (all are `CitebotError`s)."""

from index.errors import CitebotError


class BadQuestionError(CitebotError):
    """The question can't be asked as it is (empty, too long, no words)."""
