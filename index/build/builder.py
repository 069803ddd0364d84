"""The incremental build: parse, chunk, embed what is new, write a generation, switch over."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from index.build.chunking import CHUNKING_VERSION, Chunk, chunk_article
from index.build.embeddings import Embedder
from index.build.late_chunking import embed_chunks
from index.errors import CitebotError, StoreWriteError
from index.ingest.articles import MAX_FILE_BYTES, ParseResult, iter_files, load_articles
from index.ingest.provenance import Article
from index.settings import IndexSettings
from index.store import LEASE_SECONDS, GenerationBuild, IndexStore, Records

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total) chunks embedded
FINGERPRINT = "article_hash"  # metadata key of `article_fingerprint`
# what reading files into chunks depends on besides their bytes: bump when parsing changes
READING_VERSION = 1
LATE_CHUNKING = "mean-pooled-v1"  # how sentence vectors are made: bump when that changes


@dataclass(frozen=True)
class BuildReport:
    """What a build did, and the fetch before it when there was one (the CLI's build).

    Every front end renders it from these fields; `as_dict()` is its `--json` form.
    """

    articles: int = 0
    chunks: int = 0
    embedded: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    collection: str = ""
    switched: bool = False
    # the folders the CLI's build read; () for a build the bot ran
    roots: tuple[str, ...] = ()
    # the fetch's report (`FetchReport.as_dict()`, or `{"error": ...}`); None: none ran
    fetch: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as `--json` prints it (`roots` and `fetch` last, each only when given)."""
        out = asdict(self)
        if out["roots"]:
            out["roots"] = list(out["roots"])
        else:
            del out["roots"]
        if out["fetch"] is None:
            del out["fetch"]
        return out

    def __getitem__(self, key: str) -> Any:
        """A field by name, as the dict this report replaced was read (`report["chunks"]`)."""
        return self.as_dict()[key]


def index_signature(settings: IndexSettings, embedder: Embedder) -> dict[str, Any]:
    """What makes stored vectors reusable: the same model and the same chunking, and whether
    each chunk's sentences got their vectors from its pass (an index without them is embedded
    again once, so that no answer has to embed sentences)."""
    signature: dict[str, Any] = {
        "model": embedder.name,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap_tokens": settings.chunk_overlap_tokens,
    }
    if late_chunking(embedder):
        signature["sentence_vectors"] = LATE_CHUNKING
    return signature


def late_chunking(embedder: Embedder) -> bool:
    """Whether the embedder pools sentence vectors from a chunk's pass (late chunking)."""
    return callable(getattr(embedder, "embed_with_spans", None))


def embedding_batch(settings: IndexSettings) -> int:
    """Chunks handed to the embedder at a time (and written to the store after each hand-off)."""
    return max(settings.embedding_batch_size * 8, 64)


def chunk_all(articles, embedder: Embedder, settings: IndexSettings) -> list[Chunk]:
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


def article_fingerprint(article: Article) -> str:
    """Everything a chunk of the article is made from; stored with each chunk as `article_hash`.

    An article whose fingerprint the live index already holds is not chunked again, which is
    what keeps a rebuild with nothing to do short: tokenizing every sentence costs seconds.
    """
    h = hashlib.sha1(f"chunking-v{CHUNKING_VERSION}".encode())
    h.update(b"\x00" + article.text.encode())
    for name, value in sorted(article.provenance.metadata().items()):
        h.update(f"\x00{name}={value}".encode())
    return h.hexdigest()[:16]


def source_manifest(
    roots: list[Path], settings: IndexSettings, signature: dict[str, Any]
) -> dict[str, Any]:
    """What a build reads: each file's name and content hash (or why it is skipped), and what
    reading and embedding depend on besides. Equal manifests yield the same index, so a build
    whose manifest is the live generation's has nothing to do and parses no article."""
    files: dict[str, str] = {}
    for path, source, why in iter_files(roots):
        files[source] = why or _content_hash(path)
    return {
        "reading": f"r{READING_VERSION}-c{CHUNKING_VERSION}-max{settings.max_article_chars}",
        "signature": signature,
        "files": files,
    }


def _content_hash(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:  # refused by the parser: its size is what counts
                return f"too big: {size}"
            return hashlib.file_digest(fh, "sha1").hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _unchanged(store: IndexStore, manifest: dict[str, Any], lease_seconds: float):
    """The report of a build with nothing to do, when the live generation's build read exactly
    what this one would; None otherwise (or when it was not recorded)."""
    known = store.live_manifest()
    if not known or any(known.get(k) != v for k, v in manifest.items()):
        return None
    done = known.get("report") or {}
    store.tidy(lease_seconds)
    return BuildReport(
        articles=int(done.get("articles", 0)),
        chunks=int(done.get("chunks", 0)),
        unchanged=int(done.get("chunks", 0)),
        skipped_files=list(done.get("skipped_files", [])),
        collection=str(store.pointer().get("active", "")),
    )


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
    settings: IndexSettings,
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
    signature = index_signature(settings, embedder)
    manifest = source_manifest(roots, settings, signature)
    store = IndexStore.open(settings)
    if not full and (unchanged := _unchanged(store, manifest, lease_seconds)) is not None:
        return replace(unchanged, seconds=round(time.perf_counter() - t0, 3))
    parsed = load_articles(roots, settings.max_article_chars)
    if not parsed.articles:
        raise CitebotError(
            f"no articles found in {', '.join(map(str, roots))}"
            + (f" ({len(parsed.skipped)} file(s) skipped)" if parsed.skipped else "")
            + "; the live index is unchanged"
        )
    with store.build(signature, full, lease_seconds) as build:
        report = _build(build, settings, embedder, parsed, progress, manifest)
    return replace(report, seconds=round(time.perf_counter() - t0, 3))


def _build(
    build: GenerationBuild,
    settings: IndexSettings,
    embedder: Embedder,
    parsed: ParseResult,
    progress: Progress | None,
    manifest: dict[str, Any] | None = None,
) -> BuildReport:
    """Carry unchanged chunks, reuse stored vectors, embed the rest, switch; or keep the live
    index when nothing changed. `manifest` is recorded with what the build leaves live."""
    live = build.live_metadata
    carried, chunks, records = _cut(build, settings, embedder, parsed)
    kept = {live[cid]["article_id"] for cid in carried} - {a.id for a in parsed.articles}
    n_chunks = len(records) + len(carried)
    report = BuildReport(
        articles=len(parsed.articles) + len(kept),
        chunks=n_chunks,
        # every chunk is embedded or unchanged (its vector stored already: in the live
        # generation, or in an earlier one when removed articles come back), and removed counts
        # the live chunks that are gone, so that the summary's counts add up
        unchanged=n_chunks,
        removed=len(live.keys() - records.keys() - set(carried)),
        skipped_files=parsed.skipped,
    )
    # same chunks and same provenance (a date or an offset may change with the same text)
    if (
        build.has_live
        and live.keys() == records.keys() | set(carried)
        and all(live[cid] == meta for cid, (_, meta) in records.items())
    ):
        # an interrupted build of a change since undone leaves a generation behind
        build.keep_live(_with_report(manifest, report))
        # the report says "up to date"; a log line would say it twice
        return replace(report, collection=build.live_name or "")

    try:
        gen = build.create()
        build.carry(carried)
        build.reuse(records)
        todo = [c for c in chunks if not build.has_vector(c.id)]
        report = replace(report, embedded=len(todo), unchanged=report.chunks - len(todo))
        _embed(build, settings, embedder, todo, records, progress)
        build.switch(report.chunks, report.articles, _with_report(manifest, report))
    except StoreWriteError:
        build.discard()
        raise
    log.info("switched %s to %s", settings.collection, gen)
    return replace(report, collection=gen, switched=True)


def _with_report(manifest: dict[str, Any] | None, report: BuildReport) -> dict[str, Any] | None:
    """The manifest with what a later build with nothing to do reports."""
    if manifest is None:
        return None
    done = {"articles": report.articles, "chunks": report.chunks}
    return {**manifest, "report": {**done, "skipped_files": report.skipped_files}}


def _cut(
    build: GenerationBuild, settings: IndexSettings, embedder: Embedder, parsed: ParseResult
) -> tuple[list[str], list[Chunk], Records]:
    """The live chunk ids carried as stored, and the chunks cut now with their records."""
    live = build.live_metadata
    # live chunks cut from exactly the article as it reads now are carried over as they are
    prints = {a.id: article_fingerprint(a) for a in parsed.articles}
    carried = [
        cid
        for cid, meta in live.items()
        if meta.get(FINGERPRINT) and meta[FINGERPRINT] == prints.get(meta.get("article_id", ""))
    ]
    done = {live[cid]["article_id"] for cid in carried}
    chunks: list[Chunk] = []
    for article in parsed.articles:
        if article.id not in done:
            chunks.extend(chunk_all([article], embedder, settings))
            build.renew()
    records = {c.id: (c.text, {**c.metadata(), FINGERPRINT: prints[c.article_id]}) for c in chunks}
    return carried + _kept_from_unreadable(live, parsed), chunks, records


def _embed(
    build: GenerationBuild,
    settings: IndexSettings,
    embedder: Embedder,
    todo: list[Chunk],
    records: Records,
    progress: Progress | None,
) -> None:
    """Embed the chunks no generation holds a vector for, writing after each batch; with
    their sentences' vectors from the same pass, where the embedder gives them."""
    if progress:
        progress(0, len(todo))
    batch = embedding_batch(settings)
    late = late_chunking(embedder)
    for i in range(0, len(todo), batch):
        part = todo[i : i + batch]
        if late:
            vectors, kept = embed_chunks(embedder, part)
            sentences: list[Any] | None = [(s.spans, s.vectors) for s in kept]
        else:
            vectors, sentences = embedder.embed([c.embed_text for c in part]), None
        build.write([c.id for c in part], vectors, records, sentences)
        if progress:
            progress(min(i + batch, len(todo)), len(todo))


def index_stats(settings: IndexSettings) -> dict[str, Any]:
    """Articles, chunks, model, collection and location of the live index."""
    return IndexStore.open(settings).stats()
