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
    shingles.npy, shingle_ends.npy   each article's word shingles (`index.text.shingles`)
    terms.json, tokens.npy, token_ends.npy   stemmed terms of each row (the next build's reuse)
    sentence_spans.npy, sentence_vectors.npy, sentence_ends.npy   each row's sentences (start,
                                end in its text) and their vectors (float16; late chunking,
                                `index.build.late_chunking`), when the build kept them
    bm25/                       the bm25s index (CSC scores, memory-mapped)
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.ingest.provenance import iso_day
from index.settings import IndexSettings
from index.text.shingles import article_shingles
from index.text.terms import passage_terms

log = logging.getLogger(__name__)

FORMAT = 3
MANIFEST = "manifest.json"  # what the build read (see `index.build.builder.source_manifest`)
_TMP = ".tmp-"  # folders being written: `.tmp-<generation>-<random>`
# sentence vectors of a generation being built, batch by batch: a build interrupted before its
# switch leaves them for the next, which reuses its vectors (`.partial-<generation>/`)
_PARTIAL = ".partial-"
# a chunk's sentences: (n, 2) int32 spans in its text, (n, dim) vectors
Sentences = tuple[np.ndarray, np.ndarray]


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
        self._shingles, self._shingle_ends = arrays["shingles"], arrays["shingle_ends"]
        self.terms: list[str] = arrays["terms"]
        self._tokens, self._token_ends = arrays["tokens"], arrays["token_ends"]
        self._sentence_spans = arrays["sentence_spans"]
        self._sentence_vectors = arrays["sentence_vectors"]
        self._sentence_ends = arrays["sentence_ends"]
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

        def arr(name: str) -> np.ndarray:  # a few bytes a row: read whole
            return np.asarray(np.load(folder / f"{name}.npy"))

        def rows(name: str) -> Any:  # the bulk: read row by row when asked
            return _Rows.npy(folder / f"{name}.npy")

        def text(name: str) -> Any:
            return _Rows(folder / name)

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
            "shingles": rows("shingles"),
            "shingle_ends": arr("shingle_ends"),
            "terms": json.loads((folder / "terms.json").read_text(encoding="utf-8")),
            "tokens": rows("tokens"),
            "token_ends": arr("token_ends"),
            "sentence_spans": rows("sentence_spans"),
            "sentence_vectors": rows("sentence_vectors"),
            "sentence_ends": arr("sentence_ends"),
        }
        if len(arrays["ids"]) != int(meta["chunks"]):
            raise ValueError(f"{folder} lists {len(arrays['ids'])} chunks, not {meta['chunks']}")
        for name, ends in (("texts.bin", arrays["text_ends"]), ("metas.bin", arrays["meta_ends"])):
            _check_bytes(folder / name, int(ends[-1]) if len(ends) else 0, meta.get("crc32", {}))
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
        """A row's passage text."""
        return self._slice(self._texts, self._text_ends, row)

    def metadata(self, row: int) -> dict[str, Any]:
        """A row's metadata, as stored."""
        meta: dict[str, Any] = json.loads(self._slice(self._metas, self._meta_ends, row))
        return meta

    def all_metadata(self) -> dict[str, dict[str, Any]]:
        """Every row's metadata by chunk id, in one decode (a build's view of the live index)."""
        if not self.ids:
            return {}
        body = bytes(self._metas[: int(self._meta_ends[-1])]).decode("utf-8").rstrip("\n")
        return dict(zip(self.ids, json.loads(f"[{body.replace(chr(10), ',')}]"), strict=True))

    def rows_of_article(self, number: int) -> range:
        """The rows of an article (by its number in the files)."""
        start = int(self._article_ends[number - 1]) if number else 0
        return range(start, int(self._article_ends[number]))

    def article_shingles(self, number: int) -> np.ndarray:
        """The article's sorted distinct word shingles, as the build hashed them."""
        start = int(self._shingle_ends[number - 1]) if number else 0
        return np.asarray(self._shingles[start : int(self._shingle_ends[number])])

    def tokens(self, row: int) -> list[str]:
        """A row's keyword terms, as the build stemmed them."""
        start = int(self._token_ends[row - 1]) if row else 0
        return [self.terms[t] for t in self._tokens[start : int(self._token_ends[row])]]

    @property
    def has_sentences(self) -> bool:
        """Whether the build kept sentence vectors (files written from the store have none)."""
        ends = self._sentence_ends
        return bool(len(ends)) and int(ends[-1]) > 0

    def sentences(self, row: int) -> Sentences | None:
        """The row's sentence spans and vectors as the build kept them (None: it kept none)."""
        start = int(self._sentence_ends[row - 1]) if row else 0
        end = int(self._sentence_ends[row])
        if end == start:
            return None
        return self._sentence_spans[start:end], self._sentence_vectors[start:end]

    def sentence_vectors(self, row: int) -> dict[tuple[int, int], np.ndarray]:
        """The row's sentence vectors (float32) by (start, end) in its text."""
        found = self.sentences(row)
        if found is None:
            return {}
        spans, vectors = found
        return {
            (int(s), int(e)): v
            for (s, e), v in zip(spans, np.asarray(vectors, dtype=np.float32), strict=True)
        }

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


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc


def _check_bytes(path: Path, size: int, crcs: dict[str, int]) -> None:
    """`ValueError` unless the file holds exactly the bytes its row ends say, with the checksum
    the build wrote (a truncated file would answer from cut passages, a bad byte fail
    decoding)."""
    found = path.stat().st_size
    if found != size:
        raise ValueError(f"{path} holds {found} bytes, not {size}")
    expected = crcs.get(path.name)
    if expected is not None and _crc32(path) != expected:
        raise ValueError(f"{path} does not match its checksum: it was changed or damaged")


class _Rows:
    """A file's bytes (or an .npy array's rows) read with `pread` when sliced.

    Not mapped: an answer reads a few hundred scattered rows, and each page fault of a map
    also maps its neighbours (the kernel's fault-around, MADV_RANDOM or not), so a process
    soon held most of the files (at 100k chunks, 30 questions mapped 80 of the 86 MB of
    texts). Read, the rows stay in the page cache, shared by every process, and out of each
    one's memory. The open file keeps a pruned generation readable, as a map would.
    """

    def __init__(
        self,
        path: Path,
        offset: int = 0,
        dtype: Any = None,
        shape: tuple[int, ...] = (),
        size: int = 0,
    ) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - open as long as the files are read
        self._offset, self._dtype, self._shape = offset, dtype, shape
        self._len = size if dtype is not None else os.fstat(self._file.fileno()).st_size

    @classmethod
    def npy(cls, path: Path) -> _Rows:
        with open(path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0
            if major > 1:
                read = np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
            if fortran:
                raise ValueError(f"{path} is in Fortran order")
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if os.fstat(f.fileno()).st_size != f.tell() + size:
                raise ValueError(f"{path} does not hold the {size} bytes of its array")
            return cls(path, f.tell(), dtype, tuple(shape[1:]), shape[0] if shape else 0)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, part: slice) -> Any:
        start, stop, _ = part.indices(self._len)
        count = max(0, stop - start)
        if self._dtype is None:
            return os.pread(self._file.fileno(), count, self._offset + start)
        width = self._dtype.itemsize * int(np.prod(self._shape, dtype=np.int64))
        data = os.pread(self._file.fileno(), count * width, self._offset + start * width)
        return np.frombuffer(data, dtype=self._dtype).reshape(count, *self._shape)


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
        self._records: dict[str, tuple[str, dict[str, Any], list[int], Sentences | None]] = {}
        self._vocab: dict[str, int] = {}
        self.reused = 0

    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str | None],
        metadatas: Sequence[Mapping[str, Any] | None],
        sentences: Sequence[Sentences | None] | None = None,
    ) -> None:
        """Records of the generation, with their sentence vectors when the build made them
        (else the previous generation's, for the same text); an id added again replaces the
        earlier record."""
        given = sentences if sentences is not None else [None] * len(ids)
        for cid, text, meta, sents in zip(ids, texts, metadatas, given, strict=True):
            text, meta = text or "", dict(meta or {})
            row = self._same_row(cid, text, meta)
            if row is None:
                terms = passage_terms(str(meta.get("title", "")), text)
            else:
                terms = self._previous.tokens(row)  # type: ignore[union-attr]
                self.reused += 1
                if sents is None:
                    sents = self._previous.sentences(row)  # type: ignore[union-attr]
            if sents is not None:
                sents = (
                    np.asarray(sents[0], dtype=np.int32).reshape(-1, 2),
                    np.asarray(sents[1], dtype=np.float16),
                )
            vocab = self._vocab
            ids_of_terms = [vocab.setdefault(t, len(vocab)) for t in terms]
            self._records[cid] = (text, meta, ids_of_terms, sents)

    def _same_row(self, cid: str, text: str, meta: dict[str, Any]) -> int | None:
        """The previous generation's row of this chunk, when its title and text are the same."""
        prev = self._previous
        row = prev.row_of.get(cid) if prev is not None else None
        if prev is None or row is None or prev.text(row) != text:
            return None
        if prev.metadata(row).get("title") != meta.get("title"):
            return None
        return row

    def _arrays(self, sentences_whole: bool = True) -> dict[str, Any]:
        """Rows grouped by article (first seen first), by chunk index within it."""
        order = sorted(
            self._records,
            key=lambda cid: (
                _article_key(cid, self._records[cid][1]),
                int(self._records[cid][1].get("chunk_index", 0) or 0),
                cid,
            ),
        )
        sentences: list[Sentences | None] = []
        texts: list[bytes] = []
        metas: list[bytes] = []
        tokens: list[list[int]] = []
        articles: list[str] = []
        article_of: list[int] = []
        days: list[int] = []
        article_ends: list[int] = []
        for row, cid in enumerate(order):
            text, meta, toks, sents = self._records[cid]
            sentences.append(sents)
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
        shingles = [
            article_shingles([texts[r].decode("utf-8") for r in range(start, end)])
            for start, end in zip([0, *article_ends[:-1]], article_ends, strict=True)
        ]
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
            "shingles": (np.concatenate(shingles) if shingles else np.zeros(0, dtype=np.uint64)),
            "shingle_ends": np.cumsum([len(s) for s in shingles], dtype=np.int64),
            "terms": list(self._vocab),
            "tokens": np.asarray([t for toks in tokens for t in toks], dtype=np.int32),
            "token_ends": np.cumsum([len(t) for t in tokens], dtype=np.int64),
            "token_lists": tokens,
            **(_sentence_arrays(sentences) if sentences_whole else {"sentence_rows": sentences}),
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
        """The records added so far as files held in memory (for a store with no files folder)."""
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
        # what the build kept on the way is in the files now
        shutil.rmtree(self.folder / f"{_PARTIAL}{generation}", ignore_errors=True)
        return target

    def _write(self, tmp: Path, generation: str) -> None:
        tmp.mkdir(parents=True)
        arrays = self._arrays(sentences_whole=False)
        token_lists = arrays.pop("token_lists")
        _save_sentences(tmp, arrays.pop("sentence_rows"))
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
            "shingles",
            "shingle_ends",
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
            # checked on open (files written before they were kept are checked by size only)
            "crc32": {name: zlib.crc32(arrays[name[:-4]]) for name in ("texts.bin", "metas.bin")},
        }
        # written last: a folder without it is not whole
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def _sentence_counts(rows: Sequence[Sentences | None]) -> tuple[int, list[int]]:
    """The vectors' width, and how many sentences each row keeps (none: 0)."""
    dim = next((s[1].shape[1] for s in rows if s is not None and s[1].ndim == 2), 0)
    return dim, [len(s[0]) if s is not None and s[1].shape[1:] == (dim,) else 0 for s in rows]


def _save_sentences(folder: Path, rows: list[Sentences | None]) -> None:
    """`_sentence_arrays` written into the folder row by row, never whole in memory (at 300k
    chunks the vectors are ~2 GB, which the build would otherwise hold twice)."""
    dim, counts = _sentence_counts(rows)
    total = sum(counts)
    np.save(folder / "sentence_ends.npy", np.cumsum(counts, dtype=np.int64))
    if not total:  # a map of nothing cannot be made
        np.save(folder / "sentence_spans.npy", np.zeros((0, 2), np.int32))
        np.save(folder / "sentence_vectors.npy", np.zeros((0, dim), np.float16))
        return
    write = np.lib.format.open_memmap
    spans = write(folder / "sentence_spans.npy", "w+", np.int32, (total, 2))
    vectors = write(folder / "sentence_vectors.npy", "w+", np.float16, (total, dim))
    at = 0
    for row, n in zip(rows, counts, strict=True):
        if n and row is not None:
            spans[at : at + n], vectors[at : at + n] = row[0], row[1]
            at += n
    spans.flush()
    vectors.flush()
    del spans, vectors


def _sentence_arrays(rows: list[Sentences | None]) -> dict[str, np.ndarray]:
    """Every row's sentences in three arrays (rows without any take no room)."""
    dim, counts = _sentence_counts(rows)
    kept = [s for s, n in zip(rows, counts, strict=True) if n and s is not None]
    return {
        "sentence_spans": (
            np.concatenate([s[0] for s in kept]) if kept else np.zeros((0, 2), np.int32)
        ),
        "sentence_vectors": (
            np.concatenate([s[1] for s in kept]) if kept else np.zeros((0, dim), np.float16)
        ),
        "sentence_ends": np.cumsum(counts, dtype=np.int64),
    }


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


def save_partial(
    folder: Path | None, generation: str, ids: Sequence[str], sentences: Sequence[Sentences | None]
) -> None:
    """Keep a batch's sentence vectors while the generation is being built."""
    if folder is None:
        return
    kept = [(cid, s) for cid, s in zip(ids, sentences, strict=True) if s is not None]
    if not kept:
        return
    target = folder / f"{_PARTIAL}{generation}"
    target.mkdir(parents=True, exist_ok=True)
    arrays = _sentence_arrays([s for _, s in kept])
    np.savez(
        target / f"{uuid.uuid4().hex}.npz",
        ids=np.array([cid for cid, _ in kept]),
        spans=arrays["sentence_spans"],
        vectors=arrays["sentence_vectors"],
        ends=arrays["sentence_ends"],
    )


def load_partial(folder: Path | None, generation: str) -> dict[str, Sentences]:
    """The sentence vectors an unfinished build of a generation kept, by chunk id."""
    out: dict[str, Sentences] = {}
    target = folder / f"{_PARTIAL}{generation}" if folder is not None else None
    if target is None or not target.is_dir():
        return out
    for path in sorted(target.glob("*.npz")):
        try:
            with np.load(path) as batch:
                ends, spans, vectors = batch["ends"], batch["spans"], batch["vectors"]
                for i, cid in enumerate(batch["ids"]):
                    start = int(ends[i - 1]) if i else 0
                    out[str(cid)] = (spans[start : ends[i]], vectors[start : ends[i]])
        except (OSError, ValueError, KeyError) as exc:  # cut short by the interruption
            log.warning("ignoring %s: %s", path, exc)
    return out


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
        gen = gen[len(_PARTIAL) :] if gen.startswith(_PARTIAL) else gen
        # `<prefix><stamp>`: another collection's name may begin with this one's prefix
        if gen.startswith(prefix) and gen[len(prefix) :].isdigit() and gen not in keep:
            with contextlib.suppress(OSError):
                shutil.rmtree(path)
