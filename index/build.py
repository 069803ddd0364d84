"""The incremental build: parse, chunk, embed what is new, write a generation, switch over."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.articles import Article, ParseResult, load_articles
from index.chunking import CHUNKING_VERSION, Chunk, chunk_article
from index.embeddings import Embedder
from index.errors import CitebotError
from index.settings import Settings
from index.store import (
    create_generation,
    iter_records,
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


@contextlib.contextmanager
def build_lock(settings: Settings):
    """One build at a time per index folder; a second one gets a clear error, not a race."""
    lock_dir = settings.chroma_path.parent if not settings.chroma_host else settings.model_cache
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"build-{settings.collection}.lock"
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise CitebotError(f"another build of {settings.collection!r} is running") from exc
        yield


def _reusable_sources(client, settings: Settings, signature: dict, full: bool) -> list:
    """Collections whose vectors may be copied: the live one and unfinished builds of same model."""
    if full:
        return []
    sources = []
    pointer = read_pointer(client, settings.collection)
    for name in reversed(list_generations(client, settings.collection)):
        col = client.get_collection(name, embedding_function=None)
        if _compatible(col.metadata, signature):
            # the live generation first: it is complete
            sources.insert(0 if name == pointer.get("active") else len(sources), col)
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
) -> BuildReport:
    """Bring the index up to date with the article files; the live index answers throughout."""
    t0 = time.perf_counter()
    roots = list(sources) if sources else [settings.articles_dir]
    with build_lock(settings):
        parsed = load_articles(roots, settings.max_article_chars)
        report = BuildReport(articles=len(parsed.articles), skipped_files=parsed.skipped)
        if not parsed.articles:
            raise CitebotError(
                f"no articles found in {', '.join(map(str, roots))}"
                + (f" ({len(parsed.skipped)} file(s) skipped)" if parsed.skipped else "")
                + "; the live index is unchanged"
            )
        client = make_client(settings)
        signature = index_signature(settings, embedder)
        pointer = read_pointer(client, settings.collection)
        live_name = pointer.get("active")
        reuse = _reusable_sources(client, settings, signature, full)
        live = next((col for col in reuse if col.name == live_name), None)
        live_meta = _metadata(live) if live is not None else {}

        # live chunks cut from exactly the article as it reads now are carried over as they are
        prints = {a.id: article_fingerprint(a) for a in parsed.articles}
        carried = [
            cid
            for cid, meta in live_meta.items()
            if meta.get(FINGERPRINT) and meta[FINGERPRINT] == prints.get(meta.get("article_id"))
        ]
        done = {live_meta[cid]["article_id"] for cid in carried}
        chunks = chunk_all([a for a in parsed.articles if a.id not in done], embedder, settings)
        wanted = {c.id: c for c in chunks}
        metas = {c.id: {**c.metadata(), FINGERPRINT: prints[c.article_id]} for c in chunks}
        kept = _kept_from_unreadable(live_meta, parsed)
        carried += kept
        have: dict[str, Any] = dict.fromkeys(live_meta, live)  # chunk id -> holder of its vector
        for col in reuse:
            if col is not live:
                for page in iter_records(col, include=[]):
                    for cid in page["ids"]:
                        have.setdefault(cid, col)
        report.chunks = len(wanted) + len(carried)
        report.articles += len({live_meta[cid]["article_id"] for cid in kept})
        report.unchanged = len(carried) + sum(1 for cid in wanted if cid in live_meta)
        report.removed = len(live_meta) - report.unchanged
        # same chunks and same provenance (a date or an offset may change with the same text)
        if (
            live is not None
            and live_meta.keys() == wanted.keys() | set(carried)
            and all(live_meta[cid] == meta for cid, meta in metas.items())
        ):
            report.collection = live_name
            # an interrupted build of a change since undone leaves a generation behind
            _drop_old(client, settings.collection, keep={live_name, pointer.get("previous")})
            report.seconds = round(time.perf_counter() - t0, 3)
            log.info("index is up to date (%d chunks)", report.chunks)
            return report

        gen = new_generation_name(settings.collection)
        col = create_generation(client, gen, {**signature, "status": "building"})
        if carried:
            _copy(live, col, carried)
        # copy the vectors we already have, grouped by the collection that holds them
        by_source: dict[str, list[str]] = {}
        for cid in wanted:
            if cid in have:
                by_source.setdefault(have[cid].name, []).append(cid)
        for src in reuse:
            for page in iter_records(src, ["embeddings"], ids=by_source.get(src.name, [])):
                _write(col, [wanted[i] for i in page["ids"]], np.asarray(page["embeddings"]), metas)
        todo = [c for c in chunks if c.id not in have]
        report.embedded = len(todo)
        if progress:
            progress(0, len(todo))
        batch = embedding_batch(settings)
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            _write(col, part, embedder.embed([c.embed_text for c in part]), metas)
            if progress:
                progress(min(i + batch, len(todo)), len(todo))
        if col.count() != report.chunks:
            raise CitebotError(
                f"the new index holds {col.count()} chunks, expected {report.chunks}; "
                "the live index is unchanged"
            )
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
        report.collection, report.switched = gen, True
        _drop_old(client, settings.collection, keep={gen, live_name})
        report.seconds = round(time.perf_counter() - t0, 3)
        log.info("switched %s to %s", settings.collection, gen)
        return report


def _metadata(col) -> dict[str, dict[str, Any]]:
    """The metadata of every record of a collection, by id."""
    out: dict[str, dict[str, Any]] = {}
    for page in iter_records(col, ["metadatas"]):
        out.update(zip(page["ids"], page["metadatas"], strict=True))
    return out


def _copy(src, dest, ids: list[str]) -> None:
    """Records copied as stored: their text, provenance and vector are all still current."""
    for page in iter_records(src, ["embeddings", "documents", "metadatas"], ids=ids):
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


def _drop_old(client, name: str, keep: set[str | None]) -> None:
    """Keep the new and the previous generation (readers may still hold it); drop the rest."""
    for gen in list_generations(client, name):
        if gen not in keep:
            try:
                client.delete_collection(gen)
            except Exception:  # a reader racing us is no reason to fail a finished build
                log.warning("could not delete old generation %s", gen, exc_info=True)


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
        updated=pointer.get("updated"),
    )
    return out
