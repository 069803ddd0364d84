"""The generation protocol of one collection name, end to end.

A build writes a new generation collection (`<name>__g<stamp>`) and, when it is complete, switches
the pointer (the metadata of `<name>__pointer`) to it in one call. Readers follow the pointer, so
the live index answers throughout a build, and an interrupted build leaves it untouched. Builds of
one collection exclude each other with a lease kept in the store itself (`index/store/lease.py`).

`IndexStore` is the only place that knows this layout; `index/build/builder.py` hands it records.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.errors import BuildConflictError, CitebotError, StoreWriteError, one_line
from index.settings import IndexSettings
from index.store.chroma import (
    column,
    create_generation,
    delete_collection,
    generation_prefix,
    iter_records,
    list_generations,
    make_client,
    new_generation_name,
    read_pointer,
    where_is,
    write_pointer,
)
from index.store.files import (
    FilesWriter,
    GenerationFiles,
    Sentences,
    files_folder,
    load_partial,
    open_files,
    prune_files,
    read_manifest,
    save_partial,
    write_manifest,
)
from index.store.lease import LEASE_SECONDS, BuildLease, acquire_lease, leased_generations
from index.store.reader import IndexReader

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

WRITE_BATCH = 1000
LOW_DISK = 64 * 2**20  # free bytes under which a failed write is put down to a full disk

Records = Mapping[str, tuple[str, dict[str, Any]]]  # chunk id -> (text, metadata)


def compatible(meta: dict[str, Any] | None, signature: dict[str, Any]) -> bool:
    """Whether a generation's vectors may be reused by a build of this signature."""
    if not meta:
        return False
    return all(meta.get(k) == v for k, v in signature.items())


class IndexStore:
    """The generations of one collection: pointer, create, copy, write, switch, prune, lease.

    It is given only what it needs: a client, the collection name, where that is (for messages),
    for an embedded store the folder whose free space explains a failed write, and the folder
    of the generations' files (`index.store.files`; None: none are written).
    """

    def __init__(
        self,
        client: ClientAPI,
        name: str,
        where: str,
        disk: Path | None = None,
        files: Path | None = None,
    ) -> None:
        self.client, self.name, self.where, self.disk = client, name, where, disk
        self.files = files

    @classmethod
    def open(cls, settings: IndexSettings) -> IndexStore:
        """The store the settings name (`CHROMA_HOST`, else `CHROMA_PATH`)."""
        disk = None if settings.chroma_host else settings.chroma_path
        return cls(
            make_client(settings),
            settings.collection,
            where_is(settings),
            disk,
            files_folder(settings),
        )

    def pointer(self) -> dict[str, Any]:
        """The pointer's metadata: `active`, `previous`, `model`, … ({} when never built)."""
        return read_pointer(self.client, self.name)

    def generations(self) -> list[str]:
        """Every generation collection of this name, oldest first."""
        return list_generations(self.client, self.name)

    def live_manifest(self) -> dict[str, Any] | None:
        """What the live generation's build read (`builder.source_manifest`), if known."""
        active = self.pointer().get("active")
        return read_manifest(self.files, active) if active else None

    def tidy(self, lease_seconds: float = LEASE_SECONDS) -> None:
        """Drop what interrupted builds left, under the build lease (a build with nothing to
        do)."""
        lease = acquire_lease(self.client, self.name, lease_seconds)
        try:
            pointer = self.pointer()
            self.prune(keep={pointer.get("active"), pointer.get("previous")})
        finally:
            lease.release()

    def reader(self) -> IndexReader:
        """The live index for reading; `IndexNotBuiltError` when there is none yet."""
        return IndexReader(self.client, self.name, self.where, self.files)

    @contextlib.contextmanager
    def build(
        self, signature: dict[str, Any], full: bool = False, lease_seconds: float = LEASE_SECONDS
    ) -> Iterator[GenerationBuild]:
        """Hold the build lease for one build (`BuildConflictError` when another holds it)."""
        lease = acquire_lease(self.client, self.name, lease_seconds)
        try:
            yield GenerationBuild(self, lease, signature, full)
        finally:
            lease.release()

    def prune(self, keep: set[str | None]) -> None:
        """Drop the generations not in `keep`.

        Whatever `keep` says, the generations the pointer names now and those a build holding a
        live lease is writing stay.
        """
        pointer = self.pointer()
        keep = (
            keep
            | {pointer.get("active"), pointer.get("previous")}
            | leased_generations(self.client, self.name)
        )
        for gen in self.generations():
            if gen not in keep:
                delete_collection(self.client, gen)
        kept = {g for g in keep if g} & set(self.generations())
        prune_files(self.files, generation_prefix(self.name), kept)

    def stats(self) -> dict[str, Any]:
        """Articles, chunks, model, collection and location of the live index."""
        pointer = self.pointer()
        out: dict[str, Any] = {"collection": self.name, "where": self.where}
        out["built"] = bool(pointer.get("active"))
        if not pointer.get("active"):
            return out
        col = self.client.get_collection(pointer["active"], embedding_function=None)
        articles: set[Any] = set()
        for page in iter_records(col, ["metadatas"]):
            articles.update(m.get("article_id") for m in column(page, "metadatas"))
        out.update(
            generation=pointer["active"],
            articles=len(articles),
            chunks=col.count(),
            model=(col.metadata or {}).get("model"),
            updated=_iso_utc(pointer.get("updated")),
        )
        return out

    def _reusable(
        self, signature: dict[str, Any], full: bool, pointer: dict[str, Any]
    ) -> list[tuple[Collection, set[str] | None]]:
        """Collections whose vectors may be copied, and the chunk ids each holds: the live one
        first, then unfinished builds of the same signature (their vectors are as good).

        With `full`, nothing is reused and unfinished builds are dropped up front.
        """
        live_name = pointer.get("active")
        protected = {live_name, pointer.get("previous")}
        sources: list[tuple[Collection, set[str] | None]] = []
        for name in reversed(self.generations()):
            if full:
                if name not in protected:
                    delete_collection(self.client, name)
                continue
            try:
                col = self.client.get_collection(name, embedding_function=None)
                if not compatible(col.metadata, signature):
                    continue
                if name == live_name:  # complete, and read in full later
                    sources.insert(0, (col, None))
                    continue
                ids = {cid for page in iter_records(col, include=[]) for cid in page["ids"]}
            except Exception as exc:
                # one that cannot be read (a build that hit a full disk) would fail every later
                # build, even one with nothing to do: it is dropped, not reused
                log.warning("ignoring generation %s, which cannot be read: %s", name, one_line(exc))
                if name not in protected:
                    delete_collection(self.client, name)
                continue
            sources.append((col, ids))
        return sources

    @contextlib.contextmanager
    def writing(self, gen: str) -> Iterator[None]:
        """Store errors while writing a generation become one `StoreWriteError`."""
        try:
            yield
        except CitebotError:
            raise
        except Exception as exc:
            raise StoreWriteError(self._write_failure(gen, exc)) from exc

    def _write_failure(self, gen: str, exc: Exception) -> str:
        """One line on a failed write; a full disk is named, since Chroma's errors seldom say so."""
        text = one_line(exc)
        full = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or any(
            words in text.lower() for words in ("disk is full", "no space left", "disk full")
        )
        free = ""
        if self.disk is not None:
            with contextlib.suppress(OSError):
                left = shutil.disk_usage(self.disk).free
                free = f" ({left / 2**20:.0f} MB free)"
                full = full or left < LOW_DISK
        if full:
            return (
                f"the disk holding the index is full{free}: writing {gen} to {self.where} "
                f"failed ({text}); the live index is unchanged, free some space and build again"
            )
        return (
            f"writing {gen} to {self.where} failed ({text}); "
            "the live index is unchanged, build again once the store works"
        )


class GenerationBuild:
    """One build's hold on the store, under its lease: what the live generation holds, which
    vectors are already stored somewhere, and the new generation it writes and switches to."""

    def __init__(
        self, store: IndexStore, lease: BuildLease, signature: dict[str, Any], full: bool
    ) -> None:
        self.store, self.lease, self.signature = store, lease, signature
        pointer = store.pointer()
        self.live_name: str | None = pointer.get("active")
        self.previous: str | None = pointer.get("previous")
        sources = store._reusable(signature, full, pointer)
        self._live: Collection | None = None
        self.live_metadata: dict[str, dict[str, Any]] = {}
        # `--full` reuses nothing of the live generation, its files included
        self._live_files = (
            open_files(store.files, self.live_name) if self.live_name and not full else None
        )
        damaged = (  # there, but unreadable
            self._live_files is None
            and self.live_name is not None
            and not full
            and store.files is not None
            and (store.files / self.live_name / "meta.json").exists()
        )
        if damaged:
            # its passages and sentence vectors cannot be carried: every article is read
            # and embedded again, and the new generation gets whole files
            log.warning(
                "the files of the live generation %s cannot be read: this build embeds "
                "every article again",
                self.live_name,
            )
            sources = [s for s in sources if s[0].name != self.live_name]
        if sources and sources[0][0].name == self.live_name:
            try:
                self._live, self.live_metadata = sources[0][0], self._read_live(sources[0][0])
            except Exception as exc:  # readers fail on it too: a new generation replaces it
                log.warning(
                    "the live generation %s cannot be read: %s", self.live_name, one_line(exc)
                )
                sources = sources[1:]
        self._sources = [col for col, _ in sources]  # the live one first
        self._have: dict[str, Any] = dict.fromkeys(self.live_metadata, self._live)
        # the sentence vectors unfinished builds kept, for the vectors reused from them
        self._partial: dict[str, Sentences] = {}
        # and those a complete earlier generation keeps in its files (the previous one, when
        # articles it held come back), read when reused
        self._source_files: dict[str, GenerationFiles] = {}
        for col, ids in sources:
            if col is not self._live:
                for cid in ids or ():
                    self._have.setdefault(cid, col)
                for cid, sents in load_partial(store.files, col.name).items():
                    self._partial.setdefault(cid, sents)
                if (found := open_files(store.files, col.name)) is not None:
                    self._source_files[col.name] = found
        self.generation: str | None = None
        self._writer: FilesWriter | None = None

    def _read_live(self, col: Collection) -> dict[str, dict[str, Any]]:
        """The live records' metadata: from its files (one read), else paged from the store."""
        files = self._live_files
        if files is not None and len(files) == col.count():
            return files.all_metadata()
        return _metadata(col)

    @property
    def has_live(self) -> bool:
        """Whether a readable live generation of the same signature exists."""
        return self._live is not None

    def has_vector(self, chunk_id: str) -> bool:
        """Whether the live generation or an unfinished build holds this chunk's vector."""
        return chunk_id in self._have

    def renew(self) -> None:
        """Keep the lease (cheap: it writes at most every quarter of the lease)."""
        self.lease.renew()

    def keep_live(self, manifest: dict[str, Any] | None = None) -> None:
        """Nothing to write: drop what interrupted builds of a change since undone left, and
        record what was read (the next build with nothing to do then reads no article)."""
        self.store.prune(keep={self.live_name, self.previous})
        if manifest is not None and self.live_name:
            write_manifest(self.store.files, self.live_name, manifest)

    def create(self) -> str:
        """A new, empty generation, noted in the lease so that no pruning removes it."""
        gen = new_generation_name(self.store.name)
        self.generation = gen
        self.lease.note_generation(gen)
        with self.store.writing(gen):
            self._col = create_generation(
                self.store.client, gen, {**self.signature, "status": "building"}
            )
        if self.store.files is not None:
            # the live files lend the terms of unchanged passages
            self._writer = FilesWriter(self.store.files, self._live_files)
        return gen

    def carry(self, ids: list[str]) -> None:
        """Live records copied as stored: their text, provenance and vector are all current."""
        live = self._live
        if live is None:  # nothing live: nothing to carry
            return
        with self.store.writing(self._gen):
            for page in iter_records(live, ["embeddings", "documents", "metadatas"], ids=ids):
                self.lease.renew()
                texts, metadatas = column(page, "documents"), column(page, "metadatas")
                self._col.upsert(
                    ids=page["ids"],
                    embeddings=np.asarray(column(page, "embeddings")),
                    documents=list(texts),
                    metadatas=list(metadatas),
                )
                if self._writer is not None:
                    self._writer.add(page["ids"], texts, metadatas)

    def reuse(self, records: Records) -> None:
        """Records (id → text, metadata) written with the vectors already stored for them,
        read from whichever generation holds each."""
        by_source: dict[str, list[str]] = {}
        for cid in records:
            if cid in self._have:
                by_source.setdefault(self._have[cid].name, []).append(cid)
        with self.store.writing(self._gen):
            for src in self._sources:
                for page in iter_records(src, ["embeddings"], ids=by_source.get(src.name, [])):
                    self.lease.renew()
                    # the live files hold the live chunks' sentences (the writer finds them)
                    sents = [self._sentences(src.name, cid) for cid in page["ids"]]
                    vectors = np.asarray(column(page, "embeddings"))
                    self._upsert(page["ids"], vectors, records, sents)

    def _sentences(self, source: str, chunk_id: str) -> Sentences | None:
        """The sentence vectors kept for a chunk whose vector is reused from `source`."""
        found = self._partial.get(chunk_id)
        files = self._source_files.get(source)
        if found is None and files is not None and (row := files.row_of.get(chunk_id)) is not None:
            found = files.sentences(row)
        return found

    def write(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        records: Records,
        sentences: Sequence[Sentences | None] | None = None,
    ) -> None:
        """The records of `ids` (id → text, metadata) with their new vectors (and their
        sentences' vectors, kept in the generation's files); upserted by id."""
        with self.store.writing(self._gen):
            self.lease.renew()  # before writing: a builder that stalled past its lease stops here
            self._upsert(ids, vectors, records, sentences)
            if sentences is not None and self._writer is not None:
                save_partial(self.store.files, self._gen, ids, sentences)

    def _upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        records: Records,
        sentences: Sequence[Sentences | None] | None = None,
    ) -> None:
        for i in range(0, len(ids), WRITE_BATCH):
            part = ids[i : i + WRITE_BATCH]
            texts = [records[cid][0] for cid in part]
            metadatas: list[Mapping[str, Any]] = [records[cid][1] for cid in part]
            self._col.upsert(
                ids=list(part),
                embeddings=vectors[i : i + WRITE_BATCH],
                documents=texts,
                metadatas=metadatas,
            )
            if self._writer is not None:
                part_sentences = sentences[i : i + WRITE_BATCH] if sentences is not None else None
                self._writer.add(list(part), texts, metadatas, part_sentences)

    def switch(self, chunks: int, articles: int, manifest: dict[str, Any] | None = None) -> None:
        """Point readers at the new generation, if this build still holds the lease and the
        generation is whole (`chunks` records), then drop all but it and the previous one.

        `manifest` (what the build read) is kept with the generation's files."""
        gen, client = self._gen, self.store.client
        with self.store.writing(gen):
            self.lease.renew(force=True)  # fails when another build took the lease meanwhile
            if gen not in self.store.generations():
                raise BuildConflictError(
                    f"the new index {gen} was deleted before the switch (by another build?); "
                    "the live index is unchanged"
                )
            col = client.get_collection(gen, embedding_function=None)
            held = col.count()
            if held != chunks:
                raise CitebotError(
                    f"the new index holds {held} chunks, expected {chunks}; "
                    "the live index is unchanged"
                )
            if self._writer is not None:
                # before the switch: a reader of the new generation finds its files in place
                self._writer.finish(gen, manifest)
            col.modify(metadata={**self.signature, "status": "complete", "articles": articles})
            write_pointer(
                client,
                self.store.name,
                {
                    "active": gen,
                    "previous": self.live_name,
                    "model": self.signature.get("model"),
                    "articles": articles,
                    "chunks": chunks,
                    "updated": time.time(),
                },
            )
        # readers may still hold the previous generation: it stays until the next switch
        self.store.prune(keep={gen, self.live_name})

    def discard(self) -> None:
        """Drop the new generation: what a failing store half wrote may not even read back."""
        if self.generation:
            delete_collection(self.store.client, self.generation)

    @property
    def _gen(self) -> str:
        if self.generation is None:
            raise RuntimeError("create() the new generation first")
        return self.generation


def _metadata(col: Collection) -> dict[str, dict[str, Any]]:
    """The metadata of every record of a collection, by id."""
    out: dict[str, dict[str, Any]] = {}
    for page in iter_records(col, ["metadatas"]):
        out.update(zip(page["ids"], column(page, "metadatas"), strict=True))
    return out


def _iso_utc(epoch: float | None) -> str | None:
    """When the live index was switched to, as ISO 8601 in UTC (the pointer keeps epoch seconds)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds")
