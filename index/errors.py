"""Domain errors, translated to messages once at each edge (CLI, bot)."""


class CitebotError(Exception):
    """An error meant for the user: its message says what went wrong and what to do."""


class ConfigError(CitebotError):
    """A setting is missing or invalid."""


class IndexNotBuiltError(CitebotError):
    """The answering side asked for an index that has not been built yet."""


class StoreError(CitebotError):
    """The vector store could not be reached or used."""


class StoreUnreadableError(StoreError):
    """The store answered, but not whether an index was built: a server gone, a broken folder.

    Never taken for "never built" (an empty pointer), so a failing store is not rebuilt from
    scratch nor reported as empty.
    """


class StoreWriteError(StoreError):
    """A build could not write its new generation (a full disk, a failing server).

    The pointer was not switched, so the live index is as it was.
    """


class BuildConflictError(CitebotError):
    """Another build of the same collection holds the store's build lease."""


class BadFileError(CitebotError):
    """A whole file could not be read as articles."""


class ModelError(CitebotError):
    """The embedding model could not be loaded."""


def one_line(exc: BaseException) -> str:
    """An exception as one line of at most 300 characters (Chroma's errors span many)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
