"""Chroma itself: the client, how generations are named, the pointer, and paged reads.

Everything here takes a client and names; the generation protocol built on it is `IndexStore`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from chromadb.errors import NotFoundError

from index.errors import StoreError, StoreUnreadableError, one_line
from index.settings import IndexSettings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.collection_configuration import CreateHNSWConfiguration
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import GetResult, Include

log = logging.getLogger(__name__)

# Chroma's defaults (ef_search 100, ef_construction 100, max_neighbors 16) found about half of
# the exact top-10 on 10k vectors; these are fixed at creation (later changes did not apply).
HNSW: CreateHNSWConfiguration = {
    "space": "cosine",
    "ef_construction": 200,
    "ef_search": 200,
    "max_neighbors": 32,
}
PAGE = 2000


def connect(host: str | None, port: int, path: Path) -> ClientAPI:
    """An embedded `PersistentClient` at `path`, or an `HttpClient` when `host` is given."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if host:
            return chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        where = f"Chroma server {host}:{port}" if host else f"Chroma folder {path}"
        raise StoreError(f"cannot open {where}: {exc}") from exc


def make_client(settings: IndexSettings) -> ClientAPI:
    """The client the settings name (`CHROMA_HOST`, else `CHROMA_PATH`)."""
    return connect(settings.chroma_host, settings.chroma_port, settings.chroma_path)


def where_is(settings: IndexSettings) -> str:
    """Where the index lives, for humans."""
    if settings.chroma_host:
        return f"chroma server http://{settings.chroma_host}:{settings.chroma_port}"
    return f"embedded chroma at {settings.chroma_path.resolve()}"


def pointer_name(name: str) -> str:
    """The collection whose metadata names the live generation."""
    return f"{name}__pointer"


def generation_prefix(name: str) -> str:
    """What every generation's collection name starts with."""
    return f"{name}__g"


def new_generation_name(name: str) -> str:
    """A fresh generation's name, ordered by its time of creation."""
    return f"{generation_prefix(name)}{time.time_ns() // 1_000_000}"


def read_pointer(client: ClientAPI, name: str) -> dict[str, Any]:
    """The pointer's metadata: `active`, `previous`, `model`, … ({} when never built);
    `StoreUnreadableError` when the store cannot say."""
    try:
        col = client.get_collection(pointer_name(name), embedding_function=None)
    except NotFoundError:
        return {}
    except Exception as exc:  # Chroma's client raises many kinds: refused, timeouts, its own
        raise StoreUnreadableError(
            f"cannot read the index pointer {pointer_name(name)!r}: {one_line(exc)}"
        ) from exc
    return dict(col.metadata or {})


def write_pointer(client: ClientAPI, name: str, meta: Mapping[str, Any]) -> None:
    """Switch readers to another generation: one metadata write, atomic in Chroma."""
    col = client.get_or_create_collection(
        pointer_name(name), embedding_function=None, metadata={"created": time.time()}
    )
    col.modify(metadata={k: v for k, v in meta.items() if v is not None})


def create_generation(client: ClientAPI, gen_name: str, meta: dict[str, Any]) -> Collection:
    """A new, empty collection with the tuned HNSW settings; vectors are always passed in."""
    return client.create_collection(
        gen_name,
        configuration={"hnsw": HNSW.copy()},
        metadata=meta,
        embedding_function=None,
    )


def list_generations(client: ClientAPI, name: str) -> list[str]:
    """Every generation collection of this name, oldest first."""
    prefix = generation_prefix(name)
    # `<prefix><stamp>` only: the collection `news__gtech` is not a generation of `news`
    return sorted(
        c.name
        for c in client.list_collections()
        if c.name.startswith(prefix) and c.name[len(prefix) :].isdigit()
    )


def generation_count(client: ClientAPI, gen_name: str) -> int | None:
    """How many records a generation holds; None when it no longer exists or cannot be read."""
    try:
        return int(client.get_collection(gen_name, embedding_function=None).count())
    except NotFoundError:  # pruned meanwhile
        return None
    except Exception:  # unreachable or broken (Chroma's own errors, httpx's, sqlite's, OS)
        return None


def delete_collection(client: ClientAPI, col_name: str) -> None:
    """Drop a collection; a failure is logged, not raised (the next build tries again)."""
    try:
        client.delete_collection(col_name)
    except NotFoundError:  # another build pruned it first
        log.debug("generation %s already gone", col_name)
    except Exception as exc:  # a full disk, a reader racing us
        log.warning("could not delete generation %s: %s", col_name, one_line(exc))


def iter_records(
    collection: Collection, include: Include, ids: list[str] | None = None
) -> Iterator[GetResult]:
    """All records of a collection, paged so a large one is not fetched in one response."""
    if ids is not None:
        for i in range(0, len(ids), PAGE):
            yield collection.get(ids=ids[i : i + PAGE], include=include)
        return
    offset = 0
    while True:
        page = collection.get(include=include, limit=PAGE, offset=offset)
        if not page["ids"]:
            return
        yield page
        offset += len(page["ids"])


def column(page: GetResult, name: str) -> Sequence[Any]:
    """One column the page was asked to include (`documents`, `metadatas`, `embeddings`)."""
    values = page[name]  # type: ignore[literal-required]
    if values is None:
        raise StoreError(f"the store's page of {len(page['ids'])} records has no {name}")
    return cast(Sequence[Any], values)
