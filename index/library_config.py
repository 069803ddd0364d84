"""Several libraries in one bot: what `LIBRARIES_FILE` (`libraries.toml`) names, checked once.

Each `[[library]]` has its own article folders, feeds and collection, and the servers and
channels it answers in. Without the file there is one implicit library, ARTICLES_DIR in
COLLECTION, answering everywhere: exactly the bot without the feature. Reading the file needs
no model and no index, so the index builder and the bot read it the same way; which library
answers where is `bot.serving.libraries`.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.errors import ConfigError
from index.settings import FeedSettings, IndexSettings

# The name of the library there is when no file names any.
IMPLICIT = "default"

KEYS = ("name", "articles", "feeds", "collection", "guilds", "channels")
NAME = re.compile(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*")
MAX_NAME = 40
# Chroma allows 3 to 63 characters, and a generation adds `__g` and a 13-digit stamp.
COLLECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,38}[A-Za-z0-9]")


@dataclass(frozen=True)
class LibraryConfig:
    """One library as configured: its own copies of the sections it changes, and where it
    answers."""

    name: str
    # ARTICLES_DIR (the first folder) and COLLECTION are this library's
    index: IndexSettings
    # FEEDS and FETCHED_DIR are this library's
    fetching: FeedSettings
    # the folders a build reads; empty for the implicit library (ARTICLES_DIR, or --source)
    folders: tuple[Path, ...] = ()
    guilds: frozenset[int] = frozenset()
    channels: frozenset[int] = frozenset()

    @property
    def implicit(self) -> bool:
        """Whether it is the library of a bot without a libraries file."""
        return not self.folders

    @property
    def is_default(self) -> bool:
        """Whether it answers wherever no other library is named: it names no place itself."""
        return not self.guilds and not self.channels


def implicit_library(index: IndexSettings, fetching: FeedSettings) -> LibraryConfig:
    """The one library of a bot without a libraries file: ARTICLES_DIR, COLLECTION, everywhere."""
    return LibraryConfig(IMPLICIT, index, fetching)


def load_libraries(path: Path, index: IndexSettings, fetching: FeedSettings) -> list[LibraryConfig]:
    """The libraries of `LIBRARIES_FILE` when it exists, else the implicit one.

    `ConfigError` with one line per problem found, so that one run shows them all.
    """
    if not path.is_file():
        return [implicit_library(index, fetching)]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as TOML: {exc}") from None
    return parse_libraries(data, path.parent, index, fetching, str(path))


def parse_libraries(
    data: dict[str, Any],
    base: Path,
    index: IndexSettings,
    fetching: FeedSettings,
    where: str = "libraries file",
) -> list[LibraryConfig]:
    """Check and resolve a parsed libraries file (folders relative to `base`)."""
    problems: list[str] = []
    for key in data:
        if key != "library":
            problems.append(f"unknown top-level key {key!r} (only [[library]] tables)")
    tables = data.get("library")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        problems.append('no [[library]] tables (each needs at least name and articles = ["dir"])')
        tables = []
    libraries = [
        lib for i, t in enumerate(tables, 1) if (lib := _one(t, i, base, index, fetching, problems))
    ]
    problems += _clashes(libraries, fetching.fetched_dir)
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise ConfigError(f"{where} has {len(problems)} problem(s):\n{lines}")
    return libraries


def _one(
    table: dict[str, Any],
    number: int,
    base: Path,
    index: IndexSettings,
    fetching: FeedSettings,
    problems: list[str],
) -> LibraryConfig | None:
    """One `[[library]]` table, or None after adding what is wrong with it to `problems`."""
    name = table.get("name")
    label = f"library {number}" + (f" ({name})" if isinstance(name, str) else "")
    before = len(problems)

    def bad(text: str) -> None:
        problems.append(f"{label}: {text}")

    for key in table:
        if key not in KEYS:
            bad(f"unknown key {key!r} (known: {', '.join(KEYS)})")
    named = isinstance(name, str) and NAME.fullmatch(name) and len(name) <= MAX_NAME
    if not named:
        bad(f"name must be letters, digits and dashes, at most {MAX_NAME} (got {name!r})")
    articles = table.get("articles")
    folders: list[Path] = []
    if not _strings(articles) or not articles:
        bad('articles must be a list of folders, e.g. articles = ["data/politics"]')
    else:
        for folder in articles:
            path = (base / folder).resolve()
            if not path.is_dir():
                bad(f"articles folder {folder!r} is not a folder ({path})")
            elif path == Path(path.anchor):
                bad(
                    f"articles folder {folder!r} is the root of the disk: a build would read it all"
                )
            folders.append(path)
    feeds = table.get("feeds", [])
    if not _strings(feeds):
        bad("feeds must be a list of URLs")
    collection = table.get("collection", name)
    # a collection named after a wrong name is the same problem, said once
    wrong = not isinstance(collection, str) or not COLLECTION.fullmatch(collection)
    if wrong and ("collection" in table or named):
        bad(
            "collection must be 3 to 40 letters, digits, dots, dashes or underscores, starting "
            f"and ending with a letter or digit (got {collection!r}; set collection = ...)"
        )
    places = {}
    for key in ("guilds", "channels"):
        ids = table.get(key, [])
        if not isinstance(ids, list) or not all(type(i) is int and i > 0 for i in ids):
            bad(f"{key} must be a list of ids (numbers, without quotes)")
            ids = []
        places[key] = frozenset(ids)
    if len(problems) > before:
        return None
    name = str(name)
    own_index = index.model_copy(update={"articles_dir": folders[0], "collection": collection})
    own_fetching = fetching.model_copy(
        # fetched articles of one library must not be built into another's, nor into the
        # default folder's (a build without the file reads FETCHED_DIR and all under it)
        update={"feeds": list(feeds), "fetched_dir": library_fetched_dir(fetching, name)}
    )
    return LibraryConfig(
        name, own_index, own_fetching, tuple(folders), places["guilds"], places["channels"]
    )


def library_fetched_dir(fetching: FeedSettings, name: str) -> Path:
    """A library's own fetched folder: `<FETCHED_DIR>-<name>`, beside FETCHED_DIR, not in it."""
    default = fetching.fetched_dir
    return default.with_name(f"{default.name}-{name.lower()}")


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _reads(folder: Path, fetched: Path) -> bool:
    """Whether a build of `folder` reads files of the fetched folder (hidden folders are not
    read: `.citebot/fetched` under an articles folder is not)."""
    if folder == fetched or folder in fetched.parents:
        return not any(part.startswith(".") for part in fetched.relative_to(folder).parts)
    return fetched in folder.parents


def _clashes(libraries: Sequence[LibraryConfig], default_fetched: Path) -> list[str]:
    """What two libraries may not share: a name (case aside), a collection or its prefix, a
    fetched folder, a channel, a server, defaulthood."""
    problems = []
    for what, values in (
        ("name", [lib.name for lib in libraries]),
        ("collection", [lib.index.collection for lib in libraries]),
    ):
        # case aside: `News` and `news` are one folder on a case-insensitive disk
        for value, n in Counter(v.casefold() for v in values).items():
            if n > 1:
                same = " and ".join(sorted({repr(v) for v in values if v.casefold() == value}))
                problems.append(f"{n} libraries have the {what} {same}")
    collections = [lib.index.collection for lib in libraries]
    for mine in collections:
        for other in collections:
            # the store names `<collection>__pointer`, `__g<stamp>`, `__lease<term>`
            if mine != other and other.casefold().startswith(f"{mine.casefold()}__"):
                problems.append(
                    f"collection {other!r} begins with {mine!r} and '__', which the index store "
                    f"uses for the collections of {mine!r}: rename one"
                )
    fetched = [(f"library {lib.name}'s", lib.fetching.fetched_dir) for lib in libraries]
    for lib in libraries:
        for folder in lib.folders:
            for whose, where in [*fetched, ("FETCHED_DIR's", default_fetched)]:
                if _reads(folder, where.resolve()):
                    problems.append(
                        f"library {lib.name}: articles folder {folder} reads {whose} fetched "
                        f"folder {where.resolve()}: its pages would be indexed twice"
                    )
    for key in ("channels", "guilds"):
        owners: dict[int, list[str]] = {}
        for lib in libraries:
            for place in getattr(lib, key):
                owners.setdefault(place, []).append(lib.name)
        for place, names in sorted(owners.items()):
            if len(names) > 1:
                problems.append(f"{key[:-1]} {place} is claimed by {' and '.join(names)}")
    defaults = [lib.name for lib in libraries if lib.is_default]
    if len(defaults) > 1:
        problems.append(
            f"{' and '.join(defaults)} name no guilds nor channels: only one library may be "
            "the default"
        )
    return problems


def choose_library(libraries: Sequence[LibraryConfig], name: str | None) -> LibraryConfig:
    """The library called `name`; without a name, the default one, or the only one."""
    names = ", ".join(lib.name for lib in libraries)
    if name is not None:
        for lib in libraries:
            if lib.name == name:
                return lib
        raise ConfigError(f"no library named {name!r} (there are: {names})")
    if len(libraries) == 1:
        return libraries[0]
    default = next((lib for lib in libraries if lib.is_default), None)
    if default is None:
        raise ConfigError(
            f"several libraries and none is the default: choose one with --library ({names})"
        )
    return default
