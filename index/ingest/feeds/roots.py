"""The folders a build reads: the article folders and the library's fetched folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from index.settings import FeedSettings, IndexSettings, Settings

# ARTICLES_DIR when the operator sets none: a library fed by feeds alone need not have it
DEFAULT_ARTICLES_DIR: Path = Settings.model_fields["articles_dir"].default


def build_roots(
    index: IndexSettings,
    fetching: FeedSettings,
    folders: Sequence[Path] = (),
    with_fetched: bool = True,
) -> tuple[Path, ...]:
    """`folders` (default ARTICLES_DIR), then FETCHED_DIR once anything was fetched into it
    (unless `with_fetched` is false: `citebot-index build --source DIR` reads DIR alone).

    The fetched folder is one more source root, so fetched articles are indexed, pruned and
    kept incrementally exactly like files copied by hand. A library fed by feeds alone may
    have no ARTICLES_DIR: the default folder (`data/articles`) is then left out rather than
    failing the build; an ARTICLES_DIR the operator set that does not exist (a typo) stays,
    and the build says so instead of emptying the index.
    """
    roots = list(folders) or [index.articles_dir]
    fetched = fetching.fetched_dir
    if with_fetched and fetched.is_dir():
        unset = Path(index.articles_dir) == DEFAULT_ARTICLES_DIR
        if not folders and unset and not index.articles_dir.exists():
            roots = []
        if fetched.resolve() not in {r.resolve() for r in roots}:
            roots.append(fetched)
    return tuple(roots)
