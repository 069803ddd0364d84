"""Domain errors, translated to messages once at each edge (CLI, bot)."""


class CitebotError(Exception):
    """An error meant for the user: its message says what went wrong and what to do."""


class ConfigError(CitebotError):
    """A setting is missing or invalid."""


class IndexNotBuiltError(CitebotError):
    """The answering side asked for an index that has not been built yet."""


class StoreError(CitebotError):
    """The vector store could not be reached or used."""


class ModelError(CitebotError):
    """The embedding model could not be loaded."""
