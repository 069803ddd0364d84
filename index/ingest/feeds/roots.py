"""The folders a build reads: the article folders and the library's fetched folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from index.settings import FeedSettings, IndexSettings


def build_roots(
    index: IndexSettings, fetching: FeedSettings, folders: Sequence[Path] = ()
) -> tuple[Path, ...]:
    """`folders` (default ARTICLES_DIR), then FETCHED_DIR once anything was fetched into it.

    The fetched folder is one more source root, so fetched articles are indexed, pruned and
    kept incrementally exactly like files copied by hand. A library fed by feeds alone may
    have no ARTICLES_DIR: the default folder is then left out rather than failing the build.
    """
    roots = list(folders) or [index.articles_dir]
    fetched = fetching.fetched_dir
    if fetched.is_dir():
        if not folders and not index.articles_dir.exists():
            roots = []
        if fetched.resolve() not in {r.resolve() for r in roots}:
            roots.append(fetched)
    return tuple(roots)
