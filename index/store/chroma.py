"""Chroma itself: the client, how generations are named, the pointer, and paged reads.

Everything here takes a client and names; the generation protocol built on it is `IndexStore`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chromadb.errors import NotFoundError

from index.errors import StoreError, StoreUnreadableError, one_line
from index.settings import IndexSettings

log = logging.getLogger(__name__)

# Chroma's defaults (ef_search 100, ef_construction 100, max_neighbors 16) found about half of
# the exact top-10 on 10k vectors; these are fixed at creation (later changes did not apply).
HNSW = {"space": "cosine", "ef_construction": 200, "ef_search": 200, "max_neighbors": 32}
PAGE = 2000


def connect(host: str | None, port: int, path: Path):
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


def make_client(settings: IndexSettings):
    """The client the settings name (`CHROMA_HOST`, else `CHROMA_PATH`)."""
    return connect(settings.chroma_host, settings.chroma_port, settings.chroma_path)


def where_is(settings: IndexSettings) -> str:
    """Where the index lives, for humans."""
    if settings.chroma_host:
        return f"chroma server http://{settings.chroma_host}:{settings.chroma_port}"
    return f"embedded chroma at {settings.chroma_path.resolve()}"


def pointer_name(name: str) -> str:
    return f"{name}__pointer"


def generation_prefix(name: str) -> str:
    return f"{name}__g"


def new_generation_name(name: str) -> str:
    return f"{generation_prefix(name)}{time.time_ns() // 1_000_000}"


def read_pointer(client, name: str) -> dict[str, Any]:
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


def write_pointer(client, name: str, meta: dict[str, Any]) -> None:
    """Switch readers to another generation: one metadata write, atomic in Chroma."""
    col = client.get_or_create_collection(
        pointer_name(name), embedding_function=None, metadata={"created": time.time()}
    )
    col.modify(metadata={k: v for k, v in meta.items() if v is not None})


def create_generation(client, gen_name: str, meta: dict[str, Any]):
    """A new, empty collection with the tuned HNSW settings; vectors are always passed in."""
    return client.create_collection(
        gen_name,
        configuration={"hnsw": dict(HNSW)},
        metadata=meta,
        embedding_function=None,
    )


def list_generations(client, name: str) -> list[str]:
    prefix = generation_prefix(name)
    # `<prefix><stamp>` only: the collection `news__gtech` is not a generation of `news`
    return sorted(
        c.name
        for c in client.list_collections()
        if c.name.startswith(prefix) and c.name[len(prefix) :].isdigit()
    )


def generation_count(client, gen_name: str) -> int | None:
    """How many records a generation holds; None when it no longer exists or cannot be read."""
    try:
        return int(client.get_collection(gen_name, embedding_function=None).count())
    except Exception:
        return None


def delete_collection(client, col_name: str) -> None:
    """Drop a collection; a failure is logged, not raised (the next build tries again)."""
    try:
        client.delete_collection(col_name)
    except Exception as exc:  # a full disk, a reader racing us
        log.warning("could not delete generation %s: %s", col_name, one_line(exc))


def iter_records(collection, include: list[str], ids: list[str] | None = None) -> Iterator[dict]:
    """All records of a collection, paged so a large one is not fetched in one response."""
    if ids is not None:
        for i in range(0, len(ids), PAGE):
            yield _as_dict(collection.get(ids=ids[i : i + PAGE], include=include), include)
        return
    offset = 0
    while True:
        page = collection.get(include=include, limit=PAGE, offset=offset)
        if not page["ids"]:
            return
        yield _as_dict(page, include)
        offset += len(page["ids"])


def _as_dict(page, include: list[str]) -> dict:
    out = {"ids": list(page["ids"])}
    for key in include:
        out[key] = page[key]
    return out
