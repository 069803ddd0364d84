"""Reading the live index: one immutable reader per generation, and a follower of the pointer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.errors import IndexNotBuiltError, StoreError
from index.ingest.provenance import Provenance
from index.settings import IndexSettings
from index.store.chroma import (
    column,
    generation_count,
    iter_records,
    make_client,
    read_pointer,
    where_is,
)
from index.store.files import GenerationFiles, ensure_files, files_folder

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Include, QueryResult

log = logging.getLogger(__name__)


@dataclass
class Passage:
    """One stored chunk, as the answering side sees it."""

    id: str
    text: str
    metadata: dict[str, Any]  # flat, as stored: `Provenance.metadata()` and the chunk's place

    @property
    def provenance(self) -> Provenance:
        """The chunk's provenance, read from its flat metadata."""
        return Provenance.from_metadata(self.metadata)


class GenerationReader:
    """Read access to one generation; it never changes, so holders see one consistent index."""

    def __init__(
        self, client: ClientAPI, generation: str, collection: Collection, files: Path | None = None
    ) -> None:
        self.client, self.generation, self._collection = client, generation, collection
        self._folder = files
        self._files: GenerationFiles | None = None
        self._files_lock = threading.Lock()

    def records(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every stored chunk as (id, text, metadata), paged from the store."""
        for page in iter_records(self._collection, ["documents", "metadatas"]):
            docs, metas = column(page, "documents"), column(page, "metadatas")
            for i, doc, meta in zip(page["ids"], docs, metas, strict=True):
                yield i, doc or "", dict(meta or {})

    def files(self) -> GenerationFiles:
        """The generation's keyword index and passage table (written from the store once, when
        the build that made the generation wrote none where this process looks)."""
        with self._files_lock:
            if self._files is None:
                folder = self._folder
                built_here = (
                    folder is not None and (folder / self.generation / "meta.json").exists()
                )
                self._files = ensure_files(folder, self.generation, self.records)
                made_with = (self._collection.metadata or {}).get("sentence_vectors")
                if made_with and len(self._files) and not self._files.has_sentences:
                    # answers work, embedding sentences; only a build's own files hold them
                    fix = (
                        "`citebot-index build --full` embeds them again"
                        if built_here
                        else "the build kept them in its own INDEX_FILES_PATH folder: share "
                        "that folder with this process"
                    )
                    log.warning(
                        "the files of %s in %s hold no sentence vectors: answers embed their "
                        "sentences, which is slower; %s",
                        self.generation,
                        folder,
                        fix,
                    )
            return self._files

    def passages(self) -> list[Passage]:
        """Every stored chunk with its text and metadata (tools and the eval; answering reads
        `files()`)."""
        return [Passage(i, text, meta) for i, text, meta in self.records()]

    def _nearest(self, vector: np.ndarray, k: int, include: Include) -> QueryResult:
        return self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
            n_results=k,
            include=include,
        )

    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[Passage, float]]:
        """The k nearest chunks by cosine similarity (1 - cosine distance)."""
        res = self._nearest(vector, k, ["documents", "metadatas", "distances"])
        docs, metas, distances = (
            _first(res, "documents"),
            _first(res, "metadatas"),
            _first(res, "distances"),
        )
        return [
            (Passage(i, d or "", dict(m or {})), 1.0 - float(dist))
            for i, d, m, dist in zip(res["ids"][0], docs, metas, distances, strict=True)
        ]

    def nearest_ids(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the k nearest chunks, without their texts.

        For a caller that holds the passages already: at 80 candidates this is a third of the
        time of `dense_search` embedded, and less still over HTTP.
        """
        res = self._nearest(vector, k, ["distances"])
        ids, distances = res["ids"][0], _first(res, "distances")
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def embeddings(self, ids: list[str] | None = None) -> dict[str, np.ndarray]:
        """Stored vectors of some chunks (of all, when `ids` is None), by id."""
        if ids is not None and not ids:
            return {}
        out: dict[str, np.ndarray] = {}
        for page in iter_records(self._collection, ["embeddings"], ids=ids):
            for i, v in zip(page["ids"], column(page, "embeddings"), strict=True):
                out[i] = np.asarray(v, dtype=np.float32)
        return out

    def count(self) -> int:
        """How many chunks the generation holds."""
        return int(self._collection.count())


class IndexReader:
    """The live index of one collection name, as its pointer names it at opening: `live`, for
    one-off reads (tools, tests, a build's comparison).

    The one follower of the pointer is the answering side's `SearchIndex`
    (`bot.answering.retrieval`), which calls `open_live` and swaps whole snapshots.
    """

    def __init__(self, client: ClientAPI, name: str, where: str, files: Path | None = None) -> None:
        self.client, self.name, self.where, self.files = client, name, where, files
        self.live = self.open_live()

    def open_live(self, known: GenerationReader | None = None) -> GenerationReader:
        """A reader of the generation the pointer names now (`known` when that is the one)."""
        active = str(read_pointer(self.client, self.name).get("active") or "")
        if not active:
            raise IndexNotBuiltError(
                f"no index named {self.name!r} in {self.where}: run `citebot-index build` first"
            )
        if known is not None and known.generation == active:
            return known
        try:
            collection = self.client.get_collection(active, embedding_function=None)
        except Exception as exc:
            raise StoreError(f"the live index {active} cannot be opened: {exc}") from exc
        return GenerationReader(self.client, active, collection, self.files)

    # one-off reads of the live generation (tools, tests)
    @property
    def generation(self) -> str:
        """The live generation's name."""
        return self.live.generation

    def passages(self) -> list[Passage]:
        """Every stored chunk of the live generation."""
        return self.live.passages()

    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[Passage, float]]:
        """The k nearest chunks of the live generation (see `GenerationReader`)."""
        return self.live.dense_search(vector, k)

    def nearest_ids(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Ids and similarities of the k nearest chunks of the live generation."""
        return self.live.nearest_ids(vector, k)

    def embeddings(self, ids: list[str] | None = None) -> dict[str, np.ndarray]:
        """Stored vectors of the live generation, by id."""
        return self.live.embeddings(ids)

    def count(self) -> int:
        """How many chunks the live generation holds."""
        return self.live.count()


def _first(result: QueryResult, name: str) -> list[Any]:
    """The first query's column of a result (`documents`, `metadatas`, `distances`)."""
    values = result[name]  # type: ignore[literal-required]
    if values is None:
        raise StoreError(f"the store's answer to a query has no {name}")
    return list(values[0])


def open_index(settings: IndexSettings) -> IndexReader:
    """Open the live index for reading; `IndexNotBuiltError` when there is none yet."""
    return IndexReader(
        make_client(settings), settings.collection, where_is(settings), files_folder(settings)
    )


def live_generation(settings: IndexSettings) -> str | None:
    """The generation readers answer from; None when none was built or it is gone."""
    client = make_client(settings)
    active = read_pointer(client, settings.collection).get("active")
    return active if active and generation_count(client, active) is not None else None
