"""The incremental build: parse, chunk, embed what is new, write a generation, switch over."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from index.articles import Article, ParseResult, load_articles
from index.chunking import CHUNKING_VERSION, Chunk, chunk_article
from index.embeddings import Embedder
from index.errors import BuildConflictError, CitebotError, StoreWriteError
from index.settings import Settings
from index.store import (
    LEASE_SECONDS,
    BuildLease,
    acquire_lease,
    create_generation,
    iter_records,
    leased_generations,
    list_generations,
    make_client,
    new_generation_name,
    read_pointer,
    where_is,
    write_pointer,
)

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total) chunks embedded
WRITE_BATCH = 1000
FINGERPRINT = "article_hash"  # metadata key of `article_fingerprint`


@dataclass
class BuildReport:
    """What a build did; `--json` prints exactly this."""

    articles: int = 0
    chunks: int = 0
    embedded: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    collection: str = ""
    switched: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def index_signature(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """What makes stored vectors reusable: the same model and the same chunking."""
    return {
        "model": embedder.name,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap_tokens": settings.chunk_overlap_tokens,
    }


def _compatible(meta: dict[str, Any] | None, signature: dict[str, Any]) -> bool:
    return bool(meta) and all(meta.get(k) == v for k, v in signature.items())


def embedding_batch(settings: Settings) -> int:
    """Chunks handed to the embedder at a time (and written to Chroma after each hand-off)."""
    return max(settings.embedding_batch_size * 8, 64)


def chunk_all(articles, embedder: Embedder, settings: Settings) -> list[Chunk]:
    """The chunks of the articles, in order, as a build cuts them."""
    chunks: list[Chunk] = []
    for article in articles:
        chunks.extend(
            chunk_article(
                article,
                embedder.count_tokens,
                settings.chunk_tokens,
                settings.chunk_overlap_tokens,
            )
        )
    return chunks


def _drop_unreadable(client, gen: str, exc: Exception, protected: set[str]) -> None:
    """A generation that cannot be read (a build that hit a full disk) is dropped, not reused.

    Reading it would fail every later build, even one with nothing to do.
    """
    log.warning("ignoring generation %s, which cannot be read: %s", gen, _one_line(exc))
    if gen not in protected:
        _delete(client, gen)


def _reusable_sources(client, settings: Settings, signature: dict, full: bool, pointer: dict):
    """Collections whose vectors may be copied, and the chunk ids each holds: the live one first,
    then unfinished builds of the same model and chunking (their vectors are as good).

    With `full`, nothing is reused and unfinished builds are dropped up front.
    """
    live_name = pointer.get("active")
    protected = {live_name, pointer.get("previous")}
    sources: list[tuple[Any, set[str] | None]] = []
    for name in reversed(list_generations(client, settings.collection)):
        if full:
            if name not in protected:
                _delete(client, name)
            continue
        try:
            col = client.get_collection(name, embedding_function=None)
            if not _compatible(col.metadata, signature):
                continue
            if name == live_name:  # complete, and read in full later
                sources.insert(0, (col, None))
                continue
            ids = {cid for page in iter_records(col, include=[]) for cid in page["ids"]}
        except Exception as exc:
            _drop_unreadable(client, name, exc, protected)
            continue
        sources.append((col, ids))
    return sources


def article_fingerprint(article: Article) -> str:
    """Everything a chunk of the article is made from; stored with each chunk as `article_hash`.

    An article whose fingerprint the live index already holds is not chunked again, which is
    what keeps a rebuild with nothing to do short: tokenizing every sentence costs seconds.
    """
    h = hashlib.sha1(f"chunking-v{CHUNKING_VERSION}".encode())
    parts = (
        article.id,
        article.title,
        article.text,
        article.source,
        article.url,
        article.publisher,
    )
    for part in parts:
        h.update(b"\x00" + part.encode())
    h.update(f"\x00{article.date}\x00{article.title_derived}".encode())
    return h.hexdigest()[:16]


def _kept_from_unreadable(live_meta: dict[str, dict], parsed: ParseResult) -> list[str]:
    """Live chunks of articles that files not read in full no longer yield: they stay.

    A file that turned unreadable (saved in another encoding, truncated to nothing) or a JSON
    line that broke must not take its articles out of the index; deleting the file does, and
    so does `--full`, which indexes only what reads now.
    """
    if not parsed.incomplete:
        return []
    now = {a.id for a in parsed.articles}
    kept = [
        cid
        for cid, meta in live_meta.items()
        if meta.get("source") in parsed.incomplete and meta.get("article_id") not in now
    ]
    if kept:
        log.warning(
            "kept %d chunks of articles in files that could not be read: %s",
            len(kept),
            ", ".join(sorted({live_meta[cid]["source"] for cid in kept})),
        )
    return kept


def build_index(
    settings: Settings,
    embedder: Embedder,
    sources: Iterable[Path] | None = None,
    full: bool = False,
    progress: Progress | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> BuildReport:
    """Bring the index up to date with the article files; the live index answers throughout.

    One build of a collection runs at a time wherever it runs: a second one, on this host or
    another host sharing the Chroma server, gets `BuildConflictError` (see `acquire_lease`).
    """
    t0 = time.perf_counter()
    roots = list(sources) if sources else [settings.articles_dir]
    parsed = load_articles(roots, settings.max_article_chars)
    if not parsed.articles:
        raise CitebotError(
            f"no articles found in {', '.join(map(str, roots))}"
            + (f" ({len(parsed.skipped)} file(s) skipped)" if parsed.skipped else "")
            + "; the live index is unchanged"
        )
    client = make_client(settings)
    lease = acquire_lease(client, settings.collection, lease_seconds)
    try:
        report = _build(client, lease, settings, embedder, parsed, full, progress)
    finally:
        lease.release()
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


@dataclass
class _Plan:
    """What a build will write: the chunks to carry, copy and embed, and where vectors are."""

    live: Any  # the live generation's collection, or None
    live_meta: dict[str, dict[str, Any]]
    reuse: list[Any]  # collections holding reusable vectors, the live one first
    carried: list[str]  # live chunk ids copied as stored
    chunks: list[Chunk]  # chunks cut now
    metas: dict[str, dict[str, Any]]
    have: dict[str, Any]  # chunk id -> collection holding its vector


def _plan(client, lease: BuildLease, settings, embedder, parsed, full, pointer) -> _Plan:
    signature = index_signature(settings, embedder)
    live_name = pointer.get("active")
    reuse = _reusable_sources(client, settings, signature, full, pointer)
    live, live_meta = None, {}
    if reuse and reuse[0][0].name == live_name:
        try:
            live, live_meta = reuse[0][0], _metadata(reuse[0][0])
        except Exception as exc:  # readers fail on it too: a new generation replaces it
            log.warning("the live generation %s cannot be read: %s", live_name, _one_line(exc))
            reuse = reuse[1:]

    # live chunks cut from exactly the article as it reads now are carried over as they are
    prints = {a.id: article_fingerprint(a) for a in parsed.articles}
    carried = [
        cid
        for cid, meta in live_meta.items()
        if meta.get(FINGERPRINT) and meta[FINGERPRINT] == prints.get(meta.get("article_id"))
    ]
    done = {live_meta[cid]["article_id"] for cid in carried}
    chunks: list[Chunk] = []
    for article in parsed.articles:
        if article.id not in done:
            chunks.extend(chunk_all([article], embedder, settings))
            lease.renew()
    metas = {c.id: {**c.metadata(), FINGERPRINT: prints[c.article_id]} for c in chunks}
    carried += _kept_from_unreadable(live_meta, parsed)
    have: dict[str, Any] = dict.fromkeys(live_meta, live)
    for col, ids in reuse:
        if col is not live:
            for cid in ids:
                have.setdefault(cid, col)
    return _Plan(live, live_meta, [col for col, _ in reuse], carried, chunks, metas, have)


def _build(client, lease: BuildLease, settings, embedder, parsed, full, progress) -> BuildReport:
    report = BuildReport(articles=len(parsed.articles), skipped_files=parsed.skipped)
    pointer = read_pointer(client, settings.collection)
    live_name = pointer.get("active")
    plan = _plan(client, lease, settings, embedder, parsed, full, pointer)
    live_meta, wanted = plan.live_meta, {c.id: c for c in plan.chunks}
    kept = {live_meta[cid]["article_id"] for cid in plan.carried} - {a.id for a in parsed.articles}
    report.chunks = len(wanted) + len(plan.carried)
    report.articles += len(kept)
    report.unchanged = len(plan.carried) + sum(1 for cid in wanted if cid in live_meta)
    report.removed = len(live_meta) - report.unchanged
    # same chunks and same provenance (a date or an offset may change with the same text)
    if (
        plan.live is not None
        and live_meta.keys() == wanted.keys() | set(plan.carried)
        and all(live_meta[cid] == meta for cid, meta in plan.metas.items())
    ):
        report.collection = live_name
        # an interrupted build of a change since undone leaves a generation behind
        _drop_old(client, settings.collection, keep={live_name, pointer.get("previous")})
        return report  # the report says "up to date"; a log line would say it twice

    gen = new_generation_name(settings.collection)
    lease.note_generation(gen)
    try:
        _fill(client, lease, settings, embedder, gen, plan, report, progress)
        _switch(client, lease, settings, embedder, gen, live_name, report)
    except StoreWriteError:
        _delete(client, gen)  # what a failing store half wrote may not even read back
        raise
    report.collection, report.switched = gen, True
    _drop_old(client, settings.collection, keep={gen, live_name})
    log.info("switched %s to %s", settings.collection, gen)
    return report


def _fill(client, lease, settings, embedder, gen: str, plan: _Plan, report, progress) -> None:
    """Write the new generation: carried records, reused vectors, then new embeddings."""
    wanted = {c.id: c for c in plan.chunks}
    with _writing(settings, gen):
        col = create_generation(
            client, gen, {**index_signature(settings, embedder), "status": "building"}
        )
        if plan.carried:
            _copy(plan.live, col, plan.carried, lease)
        # copy the vectors we already have, grouped by the collection that holds them
        by_source: dict[str, list[str]] = {}
        for cid in wanted:
            if cid in plan.have:
                by_source.setdefault(plan.have[cid].name, []).append(cid)
        for src in plan.reuse:
            for page in iter_records(src, ["embeddings"], ids=by_source.get(src.name, [])):
                lease.renew()
                vectors = np.asarray(page["embeddings"])
                _write(col, [wanted[i] for i in page["ids"]], vectors, plan.metas)
    todo = [c for c in plan.chunks if c.id not in plan.have]
    report.embedded = len(todo)
    if progress:
        progress(0, len(todo))
    batch = embedding_batch(settings)
    for i in range(0, len(todo), batch):
        part = todo[i : i + batch]
        vectors = embedder.embed([c.embed_text for c in part])
        with _writing(settings, gen):
            lease.renew()  # before writing: a builder that stalled past its lease stops here
            _write(col, part, vectors, plan.metas)
        if progress:
            progress(min(i + batch, len(todo)), len(todo))


def _switch(client, lease, settings, embedder, gen: str, live_name, report) -> None:
    """Point readers at the new generation, if this build still holds the lease and it is whole."""
    with _writing(settings, gen):
        lease.renew(force=True)  # fails when another build took the lease over meanwhile
        if gen not in list_generations(client, settings.collection):
            raise BuildConflictError(
                f"the new index {gen} was deleted before the switch (by another build?); "
                "the live index is unchanged"
            )
        col = client.get_collection(gen, embedding_function=None)
        held = col.count()
        if held != report.chunks:
            raise CitebotError(
                f"the new index holds {held} chunks, expected {report.chunks}; "
                "the live index is unchanged"
            )
        signature = index_signature(settings, embedder)
        col.modify(metadata={**signature, "status": "complete", "articles": report.articles})
        write_pointer(
            client,
            settings.collection,
            {
                "active": gen,
                "previous": live_name,
                "model": embedder.name,
                "articles": report.articles,
                "chunks": report.chunks,
                "updated": time.time(),
            },
        )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


LOW_DISK = 64 * 2**20  # free bytes under which a failed write is put down to a full disk


def _write_failure(settings: Settings, gen: str, exc: Exception) -> str:
    """One line on a failed write; a full disk is named, since Chroma's errors seldom say so."""
    text = _one_line(exc)
    full = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or any(
        words in text.lower() for words in ("disk is full", "no space left", "disk full")
    )
    free = ""
    if not settings.chroma_host:
        with contextlib.suppress(OSError):
            left = shutil.disk_usage(settings.chroma_path).free
            free = f" ({left / 2**20:.0f} MB free)"
            full = full or left < LOW_DISK
    if full:
        return (
            f"the disk holding the index is full{free}: writing {gen} to {where_is(settings)} "
            f"failed ({text}); the live index is unchanged, free some space and build again"
        )
    return (
        f"writing {gen} to {where_is(settings)} failed ({text}); "
        "the live index is unchanged, build again once the store works"
    )


@contextlib.contextmanager
def _writing(settings: Settings, gen: str):
    """Store errors while writing a generation become one `StoreWriteError`."""
    try:
        yield
    except CitebotError:
        raise
    except Exception as exc:
        raise StoreWriteError(_write_failure(settings, gen, exc)) from exc


def _metadata(col) -> dict[str, dict[str, Any]]:
    """The metadata of every record of a collection, by id."""
    out: dict[str, dict[str, Any]] = {}
    for page in iter_records(col, ["metadatas"]):
        out.update(zip(page["ids"], page["metadatas"], strict=True))
    return out


def _copy(src, dest, ids: list[str], lease: BuildLease) -> None:
    """Records copied as stored: their text, provenance and vector are all still current."""
    for page in iter_records(src, ["embeddings", "documents", "metadatas"], ids=ids):
        lease.renew()
        dest.upsert(
            ids=page["ids"],
            embeddings=np.asarray(page["embeddings"]),
            documents=page["documents"],
            metadatas=page["metadatas"],
        )


def _write(col, chunks: list[Chunk], vectors: np.ndarray, metas: dict[str, dict]) -> None:
    for i in range(0, len(chunks), WRITE_BATCH):
        part = chunks[i : i + WRITE_BATCH]
        col.upsert(
            ids=[c.id for c in part],
            embeddings=vectors[i : i + WRITE_BATCH],
            documents=[c.text for c in part],
            metadatas=[metas[c.id] for c in part],
        )


def _delete(client, gen: str) -> None:
    try:
        client.delete_collection(gen)
    except Exception as exc:  # a full disk, a reader racing us: the next build tries again
        log.warning("could not delete generation %s: %s", gen, _one_line(exc))


def _drop_old(client, name: str, keep: set[str | None]) -> None:
    """Keep the new and the previous generation (readers may still hold it); drop the rest.

    Whatever `keep` says, the generations the pointer names now and those a build holding a
    live lease is writing stay.
    """
    pointer = read_pointer(client, name)
    keep = (
        keep | {pointer.get("active"), pointer.get("previous")} | leased_generations(client, name)
    )
    for gen in list_generations(client, name):
        if gen not in keep:
            _delete(client, gen)


def _iso_utc(epoch: float | None) -> str | None:
    """When the live index was switched to, as ISO 8601 in UTC (the pointer keeps epoch seconds)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds")


def index_stats(settings: Settings) -> dict[str, Any]:
    """Articles, chunks, model, collection and location of the live index."""
    client = make_client(settings)
    pointer = read_pointer(client, settings.collection)
    out: dict[str, Any] = {
        "collection": settings.collection,
        "where": where_is(settings),
        "built": bool(pointer.get("active")),
    }
    if not pointer.get("active"):
        return out
    col = client.get_collection(pointer["active"], embedding_function=None)
    articles = set()
    for page in iter_records(col, ["metadatas"]):
        articles.update(m.get("article_id") for m in page["metadatas"])
    out.update(
        generation=pointer["active"],
        articles=len(articles),
        chunks=col.count(),
        model=(col.metadata or {}).get("model"),
        updated=_iso_utc(pointer.get("updated")),
    )
    return out
