"""Chroma: clients, generation collections behind an atomically switched pointer, and reading.

A build writes a new generation collection (`<name>__g<stamp>`) and, when it is complete, switches
the pointer (the metadata of `<name>__pointer`) to it in one call. Readers follow the pointer, so
the live index answers throughout a build, and an interrupted build leaves it untouched.

Builds of one collection exclude each other with a lease kept in the store itself (see
`acquire_lease`), so two hosts building against one Chroma server do not race.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.errors import BuildConflictError, IndexNotBuiltError, StoreError
from index.settings import Settings

log = logging.getLogger(__name__)

# Chroma's defaults (ef_search 100, ef_construction 100, max_neighbors 16) found about half of
# the exact top-10 on 10k vectors; these are fixed at creation (later changes did not apply).
HNSW = {"space": "cosine", "ef_construction": 200, "ef_search": 200, "max_neighbors": 32}
PAGE = 2000


def make_client(settings: Settings):
    """An embedded `PersistentClient`, or an `HttpClient` when `CHROMA_HOST` is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_host:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except Exception as exc:
        where = (
            f"Chroma server {settings.chroma_host}:{settings.chroma_port}"
            if settings.chroma_host
            else f"Chroma folder {settings.chroma_path}"
        )
        raise StoreError(f"cannot open {where}: {exc}") from exc


def where_is(settings: Settings) -> str:
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
    """The pointer's metadata: `active`, `previous`, `model`, … ({} when never built)."""
    try:
        col = client.get_collection(pointer_name(name), embedding_function=None)
    except Exception:
        return {}
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
    return sorted(c.name for c in client.list_collections() if c.name.startswith(prefix))


def generation_count(client, gen_name: str) -> int | None:
    """How many records a generation holds; None when it no longer exists or cannot be read."""
    try:
        return int(client.get_collection(gen_name, embedding_function=None).count())
    except Exception:
        return None


# ---- the build lease ---------------------------------------------------------------------

LEASE_SECONDS = 120.0  # a crashed builder on another host blocks new builds this long at most


def lease_prefix(name: str) -> str:
    return f"{name}__lease"


def _machine() -> str:
    """This machine: its host name and boot id (two containers may share a host name)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            boot = fh.read().strip()[:8]
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _terms(client, name: str) -> list[tuple[int, str]]:
    """The lease collections of a collection, (term, collection name), oldest term first."""
    prefix = lease_prefix(name)
    out = []
    for col in client.list_collections():
        tail = col.name[len(prefix) :]
        if col.name.startswith(prefix) and tail.isdigit():
            out.append((int(tail), col.name))
    return sorted(out)


def _meta_of(client, col_name: str) -> dict[str, Any]:
    """A collection's metadata; {} when it is gone (another builder may delete it meanwhile)."""
    try:
        return dict(client.get_collection(col_name, embedding_function=None).metadata or {})
    except Exception:
        return {}


def _holder(meta: dict[str, Any]) -> str:
    until = time.strftime("%H:%M:%S UTC", time.gmtime(float(meta.get("expires", 0))))
    return f"{meta.get('host', '?')} pid {meta.get('pid', '?')}, lease until {until}"


def _lease_is_free(meta: dict[str, Any], now: float) -> bool:
    """Released, expired, or held by a process of this machine that has died."""
    if meta.get("released") or float(meta.get("expires", 0)) <= now:
        return True
    return meta.get("machine") == _machine() and not _pid_alive(int(meta.get("pid", -1)))


class BuildLease:
    """The right to build one collection, kept in the store so every host building against it
    sees it.

    Each taking of the lease creates a collection `<name>__lease<term>` with the next term:
    Chroma creates a name once, so of two builders that find the lease free only one gets the
    term. The holder renews the expiry while it works; a builder that finds a later term has
    lost the lease and must not switch the pointer.
    """

    def __init__(self, client, name: str, collection, meta: dict[str, Any], seconds: float):
        self.client, self.name, self.seconds = client, name, seconds
        self.collection, self.meta = collection, meta
        self.renewed = time.monotonic()

    def _write(self, **changes: Any) -> None:
        self.meta = {**self.meta, **changes}
        self.collection.modify(metadata=self.meta)  # Chroma replaces the whole metadata

    def note_generation(self, gen: str) -> None:
        """Record the generation this build writes: pruning by anyone leaves it alone."""
        self._write(generation=gen, expires=time.time() + self.seconds)
        self.renewed = time.monotonic()

    def verify(self) -> None:
        """Still ours: no later term exists and ours is still there."""
        terms = _terms(self.client, self.name)
        if not terms or terms[-1][1] != self.collection.name:
            newer = terms[-1][1] if terms else None
            raise BuildConflictError(
                f"this build of {self.name!r} lost its lease to another build"
                + (f" ({_holder(_meta_of(self.client, newer))})" if newer else "")
                + "; the live index is left to it"
            )

    def renew(self, force: bool = False) -> None:
        """Push the expiry on (at most every quarter of the lease), checking it is still ours."""
        if not force and time.monotonic() - self.renewed < self.seconds / 4:
            return
        self.verify()
        self._write(expires=time.time() + self.seconds)
        self.renewed = time.monotonic()

    def release(self) -> None:
        """Free the lease for the next build (the collection stays: terms only grow)."""
        try:
            self._write(released=True, expires=0.0)
        except Exception as exc:  # gone with a takeover, or unwritable: it expires anyway
            log.debug("could not release the build lease of %s: %s", self.name, exc)


def leased_generations(client, name: str) -> set[str]:
    """The generations that builds holding a live lease are writing: pruning leaves them."""
    now = time.time()
    out = set()
    for _, col_name in _terms(client, name):
        meta = _meta_of(client, col_name)
        if meta.get("generation") and not _lease_is_free(meta, now):
            out.add(str(meta["generation"]))
    return out


def acquire_lease(client, name: str, seconds: float = LEASE_SECONDS) -> BuildLease:
    """Take the build lease of a collection, or fail fast with who holds it.

    A second build does not wait: a build that runs long would hold the caller (a cron job,
    `/reindex`) without a bound, and the next run picks up whatever it missed.
    """
    now = time.time()
    try:
        terms = _terms(client, name)
    except Exception as exc:
        raise StoreError(f"cannot take the build lease of {name!r}: {exc}") from exc
    if terms:
        latest = _meta_of(client, terms[-1][1])
        if not _lease_is_free(latest, now):
            raise BuildConflictError(f"another build of {name!r} is running ({_holder(latest)})")
    term = terms[-1][0] + 1 if terms else 1
    meta = {
        "owner": uuid.uuid4().hex,
        "host": socket.gethostname(),
        "machine": _machine(),
        "pid": os.getpid(),
        "started": now,
        "expires": now + seconds,
    }
    try:
        col = client.create_collection(
            f"{lease_prefix(name)}{term}", metadata=meta, embedding_function=None
        )
    except Exception as exc:
        theirs = _meta_of(client, f"{lease_prefix(name)}{term}")
        if not theirs:
            raise StoreError(f"cannot take the build lease of {name!r}: {exc}") from exc
        raise BuildConflictError(
            f"another build of {name!r} is running ({_holder(theirs)})"
        ) from exc
    for _, old in terms:  # the terms before ours are done with
        try:
            client.delete_collection(old)
        except Exception:
            log.debug("old lease %s already gone", old)
    return BuildLease(client, name, col, meta, seconds)


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


@dataclass
class Passage:
    """One stored chunk, as the answering side sees it."""

    id: str
    text: str
    metadata: dict[str, Any]


class IndexReader:
    """Read access to the live generation, for the answering side (`index/` owns the layout)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = make_client(settings)
        self.generation: str | None = None
        self.collection = None
        self.pointer: dict[str, Any] = {}
        self.refresh()

    def refresh(self) -> bool:
        """Follow the pointer; True when the live generation changed since the last call."""
        pointer = read_pointer(self.client, self.settings.collection)
        active = pointer.get("active")
        if not active:
            raise IndexNotBuiltError(
                f"no index named {self.settings.collection!r} in {where_is(self.settings)}: "
                "run `citebot-index build` first"
            )
        if active == self.generation:
            return False
        try:
            self.collection = self.client.get_collection(active, embedding_function=None)
        except Exception as exc:
            raise StoreError(f"the live index {active} cannot be opened: {exc}") from exc
        self.generation, self.pointer = active, pointer
        return True

    def passages(self) -> list[Passage]:
        """Every stored chunk with its text and metadata (for keyword search)."""
        out: list[Passage] = []
        for page in iter_records(self.collection, ["documents", "metadatas"]):
            for i, doc, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True):
                out.append(Passage(i, doc or "", dict(meta or {})))
        return out

    def _nearest(self, vector: np.ndarray, k: int, include: list[str]) -> dict:
        return self.collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
            n_results=k,
            include=include,
        )

    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[Passage, float]]:
        """The k nearest chunks by cosine similarity (1 - cosine distance)."""
        res = self._nearest(vector, k, ["documents", "metadatas", "distances"])
        return [
            (Passage(i, d or "", dict(m or {})), 1.0 - float(dist))
            for i, d, m, dist in zip(
                res["ids"][0],
                res["documents"][0],
                res["metadatas"][0],
                res["distances"][0],
                strict=True,
            )
        ]

    def nearest_ids(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the k nearest chunks, without their texts.

        For a caller that holds the passages already: at 80 candidates this is a third of the
        time of `dense_search` embedded, and less still over HTTP.
        """
        res = self._nearest(vector, k, ["distances"])
        ids, distances = res["ids"][0], res["distances"][0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def embeddings(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of some chunks, by id."""
        if not ids:
            return {}
        got = self.collection.get(ids=ids, include=["embeddings"])
        return {
            i: np.asarray(v, dtype=np.float32)
            for i, v in zip(got["ids"], got["embeddings"], strict=True)
        }

    def count(self) -> int:
        return int(self.collection.count())


def live_generation(settings: Settings) -> str | None:
    """The generation readers answer from; None when none was built or it is gone."""
    client = make_client(settings)
    active = read_pointer(client, settings.collection).get("active")
    return active if active and generation_count(client, active) is not None else None


def open_index(settings: Settings) -> IndexReader:
    """Open the live index for reading; `IndexNotBuiltError` when there is none yet."""
    return IndexReader(settings)
