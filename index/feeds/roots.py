"""The folders a build reads: the article folders and the library's fetched folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from index.settings import Settings


def build_roots(settings: Settings, folders: Sequence[Path] = ()) -> tuple[Path, ...]:
    """`folders` (default ARTICLES_DIR), then FETCHED_DIR once anything was fetched into it.

    The fetched folder is one more source root, so fetched articles are indexed, pruned and
    kept incrementally exactly like files copied by hand. A library fed by feeds alone may
    have no ARTICLES_DIR: the default folder is then left out rather than failing the build.
    """
    roots = list(folders) or [settings.articles_dir]
    fetched = settings.fetched_dir
    if fetched.is_dir():
        if not folders and not settings.articles_dir.exists():
            roots = []
        if fetched.resolve() not in {r.resolve() for r in roots}:
            roots.append(fetched)
    return tuple(roots)
