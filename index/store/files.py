"""Per-generation files beside the store: the keyword index and the passage table, mapped.

A build writes them once per generation, before it switches the pointer to it
(`GenerationBuild.switch`), in `<INDEX_FILES_PATH>/<generation>/`. An answering process maps them
instead of reading every passage from Chroma and tokenising it again, so its start and memory no
longer grow with the library, and the bot processes of one machine share one copy in the page
cache. A process that finds no files for the live generation (a Chroma server built from another
machine, an index built by an older version) writes them from the store once (`ensure_files`).

Layout of one generation's folder (`FORMAT`):

    meta.json                   format, generation, chunks, articles
    ids.json                    chunk ids, in row order (rows are grouped by article)
    texts.bin, text_ends.npy    passage texts (UTF-8), end offset of each row
    metas.bin, meta_ends.npy    stored metadata of each row (JSON)
    article_of.npy              row -> article number
    articles.json               article ids; article_days.npy: date ordinal, 0 when undated
    article_ends.npy            end row of each article (its rows are contiguous)
    terms.json, tokens.npy, token_ends.npy   stemmed terms of each row (the next build's reuse)
    bm25/                       the bm25s index (CSC scores, memory-mapped)
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import mmap
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from index.provenance import iso_day
from index.settings import IndexSettings
from index.terms import passage_terms

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"  # what the build read (see `index.build.source_manifest`)
_TMP = ".tmp-"  # folders being written: `.tmp-<generation>-<random>`


def files_folder(settings: IndexSettings) -> Path:
    """Where the generations' files go: `INDEX_FILES_PATH`, else `<CHROMA_PATH>-files`."""
    path = settings.chroma_path
    return settings.index_files_path or path.with_name(f"{path.name}-files")


def _article_key(chunk_id: str, meta: dict[str, Any]) -> str:
    return str(meta.get("article_id") or chunk_id)


def _day(meta: dict[str, Any]) -> int:
    day = iso_day(meta.get("date"))
    return datetime.date.fromisoformat(day).toordinal() if day else 0


class GenerationFiles:
    """One generation's passages and keyword index, read from mapped files (or memory).

    Rows are the generation's chunks, grouped by article and ordered by `chunk_index` within
    it. Nothing here changes once made; a new generation has new files.
    """

    def __init__(self, arrays: dict[str, Any], bm25: Any, folder: Path | None = None) -> None:
        self.folder = folder
        self.ids: list[str] = arrays["ids"]
        self.row_of = {cid: row for row, cid in enumerate(self.ids)}
        self._texts, self._text_ends = arrays["texts"], arrays["text_ends"]
        self._metas, self._meta_ends = arrays["metas"], arrays["meta_ends"]
        self.article_of: np.ndarray = arrays["article_of"]
        self.article_ids: list[str] = arrays["articles"]
        self.article_number = {aid: i for i, aid in enumerate(self.article_ids)}
        self.article_days: np.ndarray = arrays["article_days"]
        self._article_ends = arrays["article_ends"]
        self.terms: list[str] = arrays["terms"]
        self._tokens, self._token_ends = arrays["tokens"], arrays["token_ends"]
        self._bm25 = bm25
        self._term_ids: dict[str, int] = bm25.vocab_dict if bm25 is not None else {}
        self._indptr = bm25.scores["indptr"] if bm25 is not None else None

    # --- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: Path) -> GenerationFiles:
        """Map a generation's folder; `FileNotFoundError` or `ValueError` when it is not whole."""
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder} has format {meta.get('format')}, not {FORMAT}")

        def arr(name: str) -> np.ndarray:
            return np.load(folder / f"{name}.npy", mmap_mode="r")

        def text(name: str) -> Any:
            return _map(folder / name)

        arrays = {
            "ids": json.loads((folder / "ids.json").read_text(encoding="utf-8")),
            "texts": text("texts.bin"),
            "text_ends": arr("text_ends"),
            "metas": text("metas.bin"),
            "meta_ends": arr("meta_ends"),
            "article_of": arr("article_of"),
            "articles": json.loads((folder / "articles.json").read_text(encoding="utf-8")),
            "article_days": arr("article_days"),
            "article_ends": arr("article_ends"),
            "terms": json.loads((folder / "terms.json").read_text(encoding="utf-8")),
            "tokens": arr("tokens"),
            "token_ends": arr("token_ends"),
        }
        if len(arrays["ids"]) != int(meta["chunks"]):
            raise ValueError(f"{folder} lists {len(arrays['ids'])} chunks, not {meta['chunks']}")
        return cls(arrays, _load_bm25(folder / "bm25") if arrays["ids"] else None, folder)

    @classmethod
    def of(cls, records: Iterable[tuple[str, str, dict[str, Any]]]) -> GenerationFiles:
        """Files made in memory from (id, text, metadata) records (tools and tests)."""
        writer = FilesWriter(None)
        for cid, text, meta in records:
            writer.add([cid], [text], [meta])
        return writer.in_memory()

    # --- rows ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    def _slice(self, buf: Any, ends: np.ndarray, row: int) -> str:
        start = int(ends[row - 1]) if row else 0
        return bytes(buf[start : int(ends[row])]).decode("utf-8")

    def text(self, row: int) -> str:
        return self._slice(self._texts, self._text_ends, row)

    def metadata(self, row: int) -> dict[str, Any]:
        return json.loads(self._slice(self._metas, self._meta_ends, row))

    def all_metadata(self) -> dict[str, dict[str, Any]]:
        """Every row's metadata by chunk id, in one decode (a build's view of the live index)."""
        if not self.ids:
            return {}
        body = bytes(self._metas[: int(self._meta_ends[-1])]).decode("utf-8").rstrip("\n")
        return dict(zip(self.ids, json.loads(f"[{body.replace(chr(10), ',')}]"), strict=True))

    def rows_of_article(self, number: int) -> range:
        start = int(self._article_ends[number - 1]) if number else 0
        return range(start, int(self._article_ends[number]))

    def tokens(self, row: int) -> list[str]:
        start = int(self._token_ends[row - 1]) if row else 0
        return [self.terms[t] for t in self._tokens[start : int(self._token_ends[row])]]

    # --- keyword index -----------------------------------------------------------------------

    def search(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        """Rows by BM25 score for the query terms, best first (only rows that score)."""
        known = [t for t in terms if t in self._term_ids]
        if not known or self._bm25 is None:
            return []
        rows, scores = self._bm25.retrieve(
            [known], k=min(k, len(self.ids)), show_progress=False, n_threads=1
        )
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if s > 0]

    def document_frequency(self, term: str) -> int:
        """In how many rows a stemmed term occurs."""
        t = self._term_ids.get(term)
        if t is None or self._indptr is None:
            return 0
        return int(self._indptr[t + 1] - self._indptr[t])


def _map(path: Path) -> Any:
    """A read-only map of a file (an empty file maps to b"")."""
    if path.stat().st_size == 0:
        return b""
    with open(path, "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def _load_bm25(folder: Path) -> Any:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s.BM25.load(folder, mmap=True, load_vocab=True, show_progress=False)


class FilesWriter:
    """Collects a generation's records as a build writes them, then writes its files.

    `previous` (the live generation's files) lends its stemmed terms to rows whose title and
    text are unchanged, so an incremental build tokenises only what is new.
    """

    def __init__(self, folder: Path | None, previous: GenerationFiles | None = None) -> None:
        self.folder = folder
        self._previous = previous
        self._records: dict[str, tuple[str, dict[str, Any], list[int]]] = {}
        self._vocab: dict[str, int] = {}
        self.reused = 0

    def add(self, ids: list[str], texts: list[str], metadatas: list[dict[str, Any]]) -> None:
        """Records of the generation; an id added again replaces the earlier record."""
        for cid, text, meta in zip(ids, texts, metadatas, strict=True):
            text, meta = text or "", dict(meta or {})
            terms = self._reused_terms(cid, text, meta)
            if terms is None:
                terms = passage_terms(str(meta.get("title", "")), text)
            else:
                self.reused += 1
            vocab = self._vocab
            self._records[cid] = (text, meta, [vocab.setdefault(t, len(vocab)) for t in terms])

    def _reused_terms(self, cid: str, text: str, meta: dict[str, Any]) -> list[str] | None:
        prev = self._previous
        row = prev.row_of.get(cid) if prev is not None else None
        if prev is None or row is None or prev.text(row) != text:
            return None
        if prev.metadata(row).get("title") != meta.get("title"):
            return None
        return prev.tokens(row)

    def _arrays(self) -> dict[str, Any]:
        """Rows grouped by article (first seen first), by chunk index within it."""
        order = sorted(
            self._records,
            key=lambda cid: (
                _article_key(cid, self._records[cid][1]),
                int(self._records[cid][1].get("chunk_index", 0) or 0),
                cid,
            ),
        )
        texts: list[bytes] = []
        metas: list[bytes] = []
        tokens: list[list[int]] = []
        articles: list[str] = []
        article_of: list[int] = []
        days: list[int] = []
        article_ends: list[int] = []
        for row, cid in enumerate(order):
            text, meta, toks = self._records[cid]
            texts.append(text.encode("utf-8"))
            metas.append(json.dumps(meta, ensure_ascii=False).encode("utf-8"))
            tokens.append(toks)
            aid = _article_key(cid, meta)
            if not articles or articles[-1] != aid:
                if articles:
                    article_ends.append(row)
                articles.append(aid)
                days.append(_day(meta))
            article_of.append(len(articles) - 1)
        if articles:
            article_ends.append(len(order))
        # each metadata row ends in a newline: `all_metadata` reads them back in one decode
        metas = [m + b"\n" for m in metas]
        return {
            "ids": order,
            "texts": b"".join(texts),
            "text_ends": np.cumsum([len(t) for t in texts], dtype=np.int64),
            "metas": b"".join(metas),
            "meta_ends": np.cumsum([len(m) for m in metas], dtype=np.int64),
            "article_of": np.asarray(article_of, dtype=np.int32),
            "articles": articles,
            "article_days": np.asarray(days, dtype=np.int32),
            "article_ends": np.asarray(article_ends, dtype=np.int64),
            "terms": list(self._vocab),
            "tokens": np.asarray([t for toks in tokens for t in toks], dtype=np.int32),
            "token_ends": np.cumsum([len(t) for t in tokens], dtype=np.int64),
            "token_lists": tokens,
        }

    def _bm25(self, token_lists: list[list[int]]) -> Any:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG
        bm25 = bm25s.BM25()
        # the empty term scores rows without terms, as bm25s does when it tokenises itself
        vocab = {**self._vocab, "": len(self._vocab)}
        bm25.index((token_lists, vocab), show_progress=False)
        return bm25

    def in_memory(self) -> GenerationFiles:
        arrays = self._arrays()
        bm25 = self._bm25(arrays.pop("token_lists")) if arrays["ids"] else None
        return GenerationFiles(arrays, bm25)

    def finish(self, generation: str, manifest: dict[str, Any] | None = None) -> Path:
        """Write the files (and the build's manifest) into a new folder and move it into place
        whole; returns it."""
        if self.folder is None:
            raise ValueError("this writer has no folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / generation
        tmp = self.folder / f"{_TMP}{generation}-{uuid.uuid4().hex[:8]}"
        try:
            self._write(tmp, generation)
            if manifest is not None:
                (tmp / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            if target.exists():  # written by a reader that got there first: the same content
                shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return target

    def _write(self, tmp: Path, generation: str) -> None:
        tmp.mkdir(parents=True)
        arrays = self._arrays()
        token_lists = arrays.pop("token_lists")
        for name in ("ids", "articles", "terms"):
            (tmp / f"{name}.json").write_text(json.dumps(arrays[name]), encoding="utf-8")
        (tmp / "texts.bin").write_bytes(arrays["texts"])
        (tmp / "metas.bin").write_bytes(arrays["metas"])
        for name in (
            "text_ends",
            "meta_ends",
            "article_of",
            "article_days",
            "article_ends",
            "tokens",
            "token_ends",
        ):
            np.save(tmp / f"{name}.npy", arrays[name])
        if arrays["ids"]:
            self._bm25(token_lists).save(tmp / "bm25", show_progress=False)
        meta = {
            "format": FORMAT,
            "generation": generation,
            "chunks": len(arrays["ids"]),
            "articles": len(arrays["articles"]),
        }
        # written last: a folder without it is not whole
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def open_files(folder: Path | None, generation: str) -> GenerationFiles | None:
    """The files of a generation, or None when they are missing or not whole."""
    if folder is None:
        return None
    path = folder / generation
    try:
        return GenerationFiles.open(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring the files of %s, which cannot be read: %s", generation, exc)
        return None


def ensure_files(
    folder: Path | None,
    generation: str,
    records: Callable[[], Iterator[tuple[str, str, dict[str, Any]]]],
) -> GenerationFiles:
    """The files of a generation, written from its `records()` first when they are missing.

    Without a folder they are made in memory (nothing is shared then). Processes that race
    here each write a whole folder and the last move wins; the contents are the same.
    """
    found = open_files(folder, generation)
    if found is not None:
        return found
    writer = FilesWriter(folder)
    for cid, text, meta in records():
        writer.add([cid], [text], [meta])
    if folder is None:
        return writer.in_memory()
    log.info("writing the keyword index of %s to %s (once)", generation, folder)
    try:
        return GenerationFiles.open(writer.finish(generation))
    except OSError as exc:  # a read-only or full disk: answer anyway, from memory
        log.warning("could not write the files of %s to %s: %s", generation, folder, exc)
        return writer.in_memory()


def read_manifest(folder: Path | None, generation: str) -> dict[str, Any] | None:
    """The manifest of the build that made (or last confirmed) a generation, if recorded."""
    if folder is None:
        return None
    try:
        found = json.loads((folder / generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def write_manifest(folder: Path | None, generation: str, manifest: dict[str, Any]) -> None:
    """Record a manifest for a generation whose files exist (a no-change build confirms it)."""
    if folder is None or not (folder / generation / "meta.json").exists():
        return
    tmp = folder / generation / f"{MANIFEST}.{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, folder / generation / MANIFEST)
    except OSError as exc:  # only the next no-change build is slower for it
        log.warning("could not record the manifest of %s: %s", generation, exc)
        tmp.unlink(missing_ok=True)


def prune_files(folder: Path | None, prefix: str, keep: set[str]) -> None:
    """Drop the files of this collection's generations not in `keep` (and stale partial ones).

    Only folders named after this collection's generations are touched: the folder may hold
    other collections' files too.
    """
    if folder is None or not folder.is_dir():
        return
    for path in folder.iterdir():
        name = path.name
        gen = name[len(_TMP) :].rsplit("-", 1)[0] if name.startswith(_TMP) else name
        # `<prefix><stamp>`: another collection's name may begin with this one's prefix
        if gen.startswith(prefix) and gen[len(prefix) :].isdigit() and gen not in keep:
            with contextlib.suppress(OSError):
                shutil.rmtree(path)
