"""Serving answers: the conversation core, libraries, refreshes, rate limit, answer log."""
