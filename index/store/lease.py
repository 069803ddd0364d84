"""The build lease: one build of a collection at a time, on any host sharing the store.

Kept in the store itself, so no local folder is involved: a build against a Chroma server
(`CHROMA_HOST`) and one against an embedded store lease the same way.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

from chromadb.errors import NotFoundError

from index.errors import BuildConflictError, StoreError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0  # a crashed builder on another host blocks new builds this long at most


def lease_prefix(name: str) -> str:
    """What the lease collections of a collection are named from."""
    return f"{name}__lease"


def _machine() -> str:
    """Where this runs: its host name and boot id (two containers may share a host name)."""
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


def _terms(client: ClientAPI, name: str) -> list[tuple[int, str]]:
    """The lease collections of a collection, (term, collection name), oldest term first."""
    prefix = lease_prefix(name)
    out: list[tuple[int, str]] = []
    for col in client.list_collections():
        tail = col.name[len(prefix) :]
        if col.name.startswith(prefix) and tail.isdigit():
            out.append((int(tail), col.name))
    return sorted(out)


def _meta_of(client: ClientAPI, col_name: str) -> dict[str, Any]:
    """A collection's metadata; {} when it is gone (another builder may delete it meanwhile)."""
    try:
        return dict(client.get_collection(col_name, embedding_function=None).metadata or {})
    except NotFoundError:
        return {}
    except Exception:  # unreadable counts as gone: its lease cannot be told apart from none
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

    def __init__(
        self,
        client: ClientAPI,
        name: str,
        collection: Collection,
        meta: dict[str, Any],
        seconds: float,
    ) -> None:
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


def leased_generations(client: ClientAPI, name: str) -> set[str]:
    """The generations that builds holding a live lease are writing: pruning leaves them."""
    now = time.time()
    out: set[str] = set()
    for _, col_name in _terms(client, name):
        meta = _meta_of(client, col_name)
        if meta.get("generation") and not _lease_is_free(meta, now):
            out.add(str(meta["generation"]))
    return out


def acquire_lease(client: ClientAPI, name: str, seconds: float = LEASE_SECONDS) -> BuildLease:
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
        except NotFoundError:
            log.debug("old lease %s already gone", old)
        except Exception as exc:  # left for the next taker: terms only grow
            log.debug("could not delete the old lease %s: %s", old, exc)
    return BuildLease(client, name, col, meta, seconds)
