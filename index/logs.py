"""Logging set up once, at an entry point."""

from __future__ import annotations

import logging


def setup_logging(level: str = "INFO") -> None:
    """Plain logs on stderr; chatty libraries are held at WARNING."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("bm25s", "chromadb", "httpx", "sentence_transformers", "transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
