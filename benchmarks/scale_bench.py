"""Scale benchmark (issue 12, item 2): start, memory, answers and rebuilds of big libraries.

For each size N it makes a synthetic library of N chunks from replicas of real chunks of a
corpus: each replica is one article (a `.jsonl` line) whose text is a real chunk with a few
words swapped and a number added, with a fresh id and a date spread over three years, and whose
vector is the real chunk's stored vector plus a little Gaussian noise, renormalised. Only the
real chunks are embedded (once); the replicas are written the way a build writes them (a
generation of the store with the build's metadata, then the switch), without the model.

Then, per size: a fresh answering process (`build_pipeline`, as `citebot ask` opens it) is
timed from its start to ready, with its peak RSS, and asks dev questions (answer p50/p95);
then two no-change rebuilds (`build_index` over the same articles) are timed: the first after
the synthetic write parses every article (a real build records what it read, the write does
not), the second is what every later build with nothing to do costs, and is held to the
target. A reference library (10k chunks by default) gives the p95 the others are held to.
Targets (issue 12): ready <= 10 s, RSS <= 2 GiB, p95 <= 2x the reference's, no-change rebuild
<= 10 s; the figures are then extrapolated linearly to 1M and 3M chunks.

    python benchmarks/scale_bench.py --corpus ../shared/eval/realtimeqa-dev/corpus.jsonl \\
        --questions ../shared/eval/realtimeqa-dev/questions.jsonl --sizes 50000
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "realtimeqa-dev"
READY_TARGET_S = 10.0
RSS_TARGET_MIB = 2048.0
P95_TARGET_RATIO = 2.0
REBUILD_TARGET_S = 10.0
WRITE_BATCH = 5000
FILE_LINES = 10_000
SPREAD_DAYS = 3 * 365
EXTRAPOLATE_TO = (1_000_000, 3_000_000)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=EVAL / "corpus.jsonl", help="real articles")
    p.add_argument("--questions", type=Path, default=EVAL / "questions.jsonl")
    p.add_argument("--sizes", default="50000,150000,300000", help="chunks, comma-separated")
    p.add_argument("--reference", type=int, default=10000, help="chunks of the p95 reference")
    p.add_argument("--real-chunks", type=int, default=1500, help="real chunks to embed and copy")
    p.add_argument("--asks", type=int, default=30, help="questions per answering process")
    p.add_argument("--noise", type=float, default=0.01, help="std of the noise per dimension")
    p.add_argument("--workdir", type=Path, help="where the libraries go (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the libraries in --workdir")
    p.add_argument("--model-cache", type=Path, default=ROOT / ".citebot" / "models")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    # internal: the answering process
    p.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def cpu_name() -> str:
    """The CPU's model name and the cores this process may use."""
    name = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{name}, {len(os.sched_getaffinity(0))} cores"


def make_settings(work: Path, model_cache: Path):
    """Settings for one library in `work`, from nothing but these arguments (no `.env`)."""
    from index.settings import Settings

    return Settings(
        _env_file=None,
        ARTICLES_DIR=work / "articles",
        CHROMA_PATH=work / "chroma",
        MODEL_CACHE=model_cache,
    )


@dataclass
class RealChunks:
    """Real chunks of the corpus (title, text, day) and the vectors a build gives them, with
    their sentences' vectors when the embedder makes them (late chunking)."""

    titles: list[str]
    texts: list[str]
    dates: list[str]
    vectors: np.ndarray
    sentences: list[np.ndarray] | None = None


def real_chunks(corpus: Path, embedder, settings, limit: int, seed: int) -> RealChunks:
    """Up to `limit` chunks of the corpus, cut and embedded as a build does."""
    from index.build.builder import chunk_all, embedding_batch
    from index.ingest.articles import load_articles

    articles = load_articles([corpus]).articles
    random.Random(seed).shuffle(articles)
    chunks = chunk_all(articles[: max(1, limit // 4)], embedder, settings)
    for article in articles[max(1, limit // 4) :]:
        if len(chunks) >= limit:
            break
        chunks.extend(chunk_all([article], embedder, settings))
    chunks = chunks[:limit]
    from index.build.builder import late_chunking
    from index.build.late_chunking import embed_chunks

    batch = embedding_batch(settings)
    parts, sentences = [], None
    if late_chunking(embedder):
        sentences = []
        for i in range(0, len(chunks), batch):
            vectors, kept = embed_chunks(embedder, chunks[i : i + batch])
            parts.append(vectors)
            sentences += [s.vectors for s in kept]
    else:
        texts = [c.embed_text for c in chunks]
        parts = [embedder.embed(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    return RealChunks(
        [c.title for c in chunks],
        [c.text for c in chunks],
        [c.date for c in chunks],
        np.asarray(np.vstack(parts), dtype=np.float32),
        sentences,
    )


def perturb(text: str, rng: random.Random, n: int) -> str:
    """The text with two pairs of neighbouring words swapped and a number added at the end."""
    words = text.split(" ")
    for _ in range(2):
        if len(words) > 3:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words) + f" (update {n})"


def spread_day(day: str, rng: random.Random) -> str:
    """A day up to three years before the real chunk's (or before mid-2022 when it has none)."""
    try:
        base = datetime.date.fromisoformat(day)
    except ValueError:
        base = datetime.date(2022, 6, 30)
    return (base - datetime.timedelta(days=rng.randrange(SPREAD_DAYS))).isoformat()


def write_corpus(real: RealChunks, n: int, folder: Path, seed: int) -> list[int]:
    """N replica articles as `.jsonl` files of FILE_LINES lines (a build skips a file over
    50 MiB); returns the real chunk each article copies."""
    rng = random.Random(seed)
    origin = []
    folder.mkdir(parents=True, exist_ok=True)
    for first in range(0, n, FILE_LINES):
        path = folder / f"synthetic-{first // FILE_LINES:04d}.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            for i in range(first, min(n, first + FILE_LINES)):
                j = i % len(real.texts)
                origin.append(j)
                line = {
                    "doc_id": f"syn-{i:07d}",
                    "title": f"{real.titles[j]} ({i})",
                    "text": perturb(real.texts[j], rng, i),
                    "published": spread_day(real.dates[j], rng),
                    "source": "synthetic",
                }
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return origin


def replica_vectors(real: RealChunks, origin: list[int], noise: float, seed: int) -> np.ndarray:
    """Each replica's vector: its real chunk's plus Gaussian noise, back on the unit sphere."""
    rng = np.random.default_rng(seed)
    vectors = real.vectors[origin] + rng.normal(0.0, noise, (len(origin), real.vectors.shape[1]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def replica_sentences(
    real: RealChunks, origin: list[int], texts: list[str], noise: float, seed: int
) -> list[Any] | None:
    """Each replica's sentences, as a build keeps them: its spans, and its real chunk's sentence
    vectors plus noise (renormalised) where the two split into as many sentences."""
    from index.text.sentences import sentence_spans

    if real.sentences is None:
        return None
    rng = np.random.default_rng(seed)
    out: list[Any] = []
    for j, text in zip(origin, texts, strict=True):
        spans = np.asarray(sentence_spans(text), dtype=np.int32).reshape(-1, 2)
        vecs = real.sentences[j]
        if len(spans) != len(vecs):
            out.append(None)
            continue
        noisy = vecs + rng.normal(0.0, noise, vecs.shape)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        out.append((spans, noisy.astype(np.float16)))
    return out


def write_library(
    settings,
    signature: dict[str, Any],
    vectors: np.ndarray,
    real: RealChunks,
    origin: list[int],
    noise: float,
) -> tuple[float, int]:
    """Write the articles under `ARTICLES_DIR` as one chunk each, as a build writes them (a new
    generation, records with the build's metadata and fingerprints, the switch); seconds, chunks.

    The articles are read back with the build's own parser, so ids, provenance and fingerprints
    are those a build computes: a build over the same files finds nothing to do.
    """
    from index.build.builder import FINGERPRINT, article_fingerprint
    from index.build.chunking import Chunk, chunk_id
    from index.ingest.articles import load_articles
    from index.store import IndexStore

    t0 = time.perf_counter()
    articles = load_articles([settings.articles_dir]).articles
    if len(articles) != len(vectors):
        raise SystemExit(f"error: read {len(articles)} articles back, wrote {len(vectors)}")
    store = IndexStore.open(settings)
    with store.build(signature) as build:
        build.create()
        for i in range(0, len(articles), WRITE_BATCH):
            part = articles[i : i + WRITE_BATCH]
            records = {}
            for a in part:
                cid = chunk_id(a.id, a.title, a.text)
                chunk = Chunk(cid, a.provenance, a.text, 0, 0, len(a.text))
                records[cid] = (a.text, {**chunk.metadata(), FINGERPRINT: article_fingerprint(a)})
            sentences = replica_sentences(
                real, origin[i : i + len(part)], [a.text for a in part], noise, i
            )
            build.write(list(records), vectors[i : i + len(part)], records, sentences)
        build.switch(len(articles), len(articles))
    return time.perf_counter() - t0, len(articles)


def no_change_rebuild(settings, embedder) -> float:
    """Seconds of a `build_index` over the same articles, which must find nothing to do."""
    from index.build.builder import build_index

    t0 = time.perf_counter()
    report = build_index(settings, embedder, sources=[settings.articles_dir])
    seconds = time.perf_counter() - t0
    if report.embedded or report.switched:
        raise SystemExit(f"error: a no-change rebuild embedded {report.embedded} chunks")
    return seconds


def no_change_rebuilds(settings, embedder) -> tuple[float, float]:
    """The first no-change build after the synthetic write, which parses every article (the
    write records no manifest of what it read, as a real build does), then a second one: what
    every later no-change build costs."""
    return no_change_rebuild(settings, embedder), no_change_rebuild(settings, embedder)


def load_questions(path: Path, count: int) -> list[tuple[str, str]]:
    """The first `count` questions and their days."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                q = json.loads(line)
                out.append((q["question"], q.get("question_date") or ""))
    return out[:count]


def answering_process(work: Path, args: argparse.Namespace, log_path: Path) -> dict[str, Any]:
    """Start a fresh answering process on the library in `work`: ready time, RSS, latencies."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", str(work)]
    cmd += ["--model-cache", str(args.model_cache), "--questions", str(args.questions)]
    cmd += ["--asks", str(args.asks)]
    with open(log_path, "w", encoding="utf-8") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT)
        assert proc.stdout is not None
        ready_s = None
        result: dict[str, Any] = {}
        for line in proc.stdout:
            if line.startswith("READY") and ready_s is None:
                ready_s = time.perf_counter() - t0
            elif line.startswith("{"):
                result = json.loads(line)
        if proc.wait() != 0 or ready_s is None:
            tail = log_path.read_text(encoding="utf-8")[-2000:]
            raise SystemExit(f"error: the answering process failed:\n{tail}")
    return {"ready_s": ready_s, **result}


def peak_rss_mib() -> float:
    """This process's peak resident memory, in MiB: `VmHWM`, its own address space's.

    Not `ru_maxrss`: Linux carries that over an exec, so a process started by a big parent
    reports the parent's peak (here the writer of the library, gigabytes at 300k chunks).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(args: argparse.Namespace) -> int:
    """The answering process: open the pipeline as `citebot ask` does, say READY, then answer."""
    from bot.answering.pipeline import build_pipeline
    from bot.answering.retrieval import parse_date

    settings = make_settings(args.serve, args.model_cache)
    pipeline = build_pipeline(settings.index, settings.answering)
    print("READY", flush=True)
    ready_rss = peak_rss_mib()
    latencies = []
    first_ms = None
    for question, day in load_questions(args.questions, args.asks):
        t = time.perf_counter()
        pipeline.ask(question, as_of=parse_date(day))
        latencies.append((time.perf_counter() - t) * 1000)
        first_ms = latencies[0]
    rss = peak_rss_mib()
    print(
        json.dumps(
            {
                "ready_rss_mib": round(ready_rss),
                "rss_mib": round(rss),
                "asks": len(latencies),
                "first_ms": round(first_ms or 0.0, 1),
                "p50_ms": round(float(np.percentile(latencies, 50)), 1),
                "p95_ms": round(float(np.percentile(latencies, 95)), 1),
            }
        ),
        flush=True,
    )
    return 0


def measure_size(
    n: int, real: RealChunks, embedder, args: argparse.Namespace, base: Path
) -> dict[str, Any]:
    """Make the library of `n` chunks and measure it."""
    work = base / f"n{n}"
    if work.exists():
        shutil.rmtree(work)
    settings = make_settings(work, args.model_cache).index
    origin = write_corpus(real, n, settings.articles_dir, args.seed + n)
    vectors = replica_vectors(real, origin, args.noise, args.seed + n)
    from index.build.builder import index_signature

    signature = index_signature(settings, embedder)
    write_s, chunks = write_library(settings, signature, vectors, real, origin, args.noise)
    del vectors
    served = answering_process(work, args, base / f"n{n}-answering.log")
    first_rebuild_s, rebuild_s = no_change_rebuilds(settings, embedder)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    row = {
        "chunks": chunks,
        "write_s": round(write_s, 1),
        "first_rebuild_s": round(first_rebuild_s, 2),
        "rebuild_s": round(rebuild_s, 2),
    } | {k: round(v, 2) if isinstance(v, float) else v for k, v in served.items()}
    # a long run's figures so far survive an interrupted one
    print(f"measured: {json.dumps(row)}", file=sys.stderr, flush=True)
    return row


METRICS = {  # row key -> (what, target given the reference p95)
    "ready_s": ("ready", lambda ref: READY_TARGET_S),
    "rss_mib": ("RSS", lambda ref: RSS_TARGET_MIB),
    "p95_ms": ("p95", lambda ref: P95_TARGET_RATIO * ref),
    "rebuild_s": ("no-change rebuild", lambda ref: REBUILD_TARGET_S),
}


def extrapolate(rows: list[dict[str, Any]], ref_p95: float | None) -> dict[str, Any]:
    """Straight lines through the measured sizes: each figure at 1M and 3M chunks, the size at
    which it passes its target, and the one that passes first."""
    if len({r["chunks"] for r in rows}) < 2:
        return {}
    xs = np.array([r["chunks"] for r in rows], dtype=float)
    out: dict[str, Any] = {"at": {}, "limit": {}}
    for key, (_, target_of) in METRICS.items():
        if key == "p95_ms" and not ref_p95:
            continue
        slope, icept = np.polyfit(xs, np.array([r[key] for r in rows], dtype=float), 1)
        out["at"][key] = {
            str(n): round(max(0.0, float(slope * n + icept)), 1) for n in EXTRAPOLATE_TO
        }
        target = target_of(ref_p95)
        out["limit"][key] = int((target - icept) / slope) if slope > 0 else None
    limits = {k: v for k, v in out["limit"].items() if v is not None}
    out["first"] = min(limits, key=lambda k: limits[k]) if limits else None
    return out


def run(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    from index.build.embeddings import embedder_from_settings

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    settings = make_settings(base / "real", args.model_cache).index
    embedder = embedder_from_settings(settings)
    real = real_chunks(args.corpus, embedder, settings, args.real_chunks, args.seed)
    ref = measure_size(args.reference, real, embedder, args, base) if args.reference else None
    rows = [measure_size(n, real, embedder, args, base) for n in sizes]
    ref_p95 = ref["p95_ms"] if ref else None
    for row in rows:
        row["met"] = {
            key: row[key] <= target_of(ref_p95)
            for key, (_, target_of) in METRICS.items()
            if ref_p95 or key != "p95_ms"
        }
    return {
        "cpu": cpu_name(),
        "corpus": str(args.corpus),
        "real_chunks": len(real.texts),
        "reference": ref,
        "sizes": rows,
        "extrapolation": extrapolate(([ref] if ref else []) + rows, ref_p95),
    }


def report(r: dict[str, Any]) -> None:
    """The figures as a table, each against its target."""
    ref = r["reference"]
    print(f"CPU: {r['cpu']}")
    print(f"replicas of {r['real_chunks']} real chunks of {r['corpus']}")
    p95_target = f"<= {P95_TARGET_RATIO:.0f}x ref" if ref else "no reference"
    print(
        f"{'chunks':>8} {'write s':>8} {'ready s':>8} {'RSS MiB':>8} {'1st ms':>7} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'1st rebuild':>11} {'rebuild s':>9}"
    )
    print(
        f"{'target':>8} {'':>8} {'<= 10':>8} {'<= 2048':>8} {'':>7} {'':>7} {p95_target:>7} "
        f"{'':>11} {'<= 10':>9}"
    )
    for row in ([ref] if ref else []) + r["sizes"]:
        missed = [METRICS[k][0] for k, ok in row.get("met", {}).items() if not ok]
        tag = "reference" if row is ref else ("MISSED: " + ", ".join(missed) if missed else "ok")
        print(
            f"{row['chunks']:>8} {row['write_s']:>8.1f} {row['ready_s']:>8.2f} "
            f"{row['rss_mib']:>8} {row['first_ms']:>7.1f} {row['p50_ms']:>7.1f} "
            f"{row['p95_ms']:>7.1f} {row['first_rebuild_s']:>11.2f} {row['rebuild_s']:>9.2f}  {tag}"
        )
    ext = r["extrapolation"]
    if not ext:
        print("extrapolation: needs two sizes (a reference or --sizes with two)")
        return
    print("linear extrapolation:")
    for key, at in ext["at"].items():
        limit = ext["limit"][key]
        passes = f"passes its target at ~{limit:,} chunks" if limit else "does not grow"
        figures = ", ".join(f"{int(n) // 1000}k: {v:,.1f}" for n, v in at.items())
        print(f"  {METRICS[key][0]:>18} ({key}): {figures}; {passes}")
    if ext["first"]:
        first = ext["first"]
        print(f"gives out first: {METRICS[first][0]} (at ~{ext['limit'][first]:,} chunks)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        return serve(args)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    base = args.workdir or Path(tempfile.mkdtemp(prefix="citebot-scale-"))
    try:
        r = run(args, base)
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps(r))
    else:
        report(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
