"""`citebot eval`: retrieval and answer quality on a question set, beside a stock baseline.

Question and corpus formats are those of RealTime QA as laid out in shared/eval/README.md:
questions carry `question`, `answers`, `evidence_doc_ids`, `answer_bearing_doc_ids`; the corpus
carries `doc_id`, `title`, `text`, `url`, `publish_date`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from bot.answering.retrieval import parse_date
from index.ingest.provenance import article_id
from index.settings import AnsweringSettings, IndexSettings

log = logging.getLogger(__name__)
KS = (1, 5, 10)


def load_questions(path: Path, limit: int | None) -> list[dict[str, Any]]:
    """The questions of a JSONL file, the first `limit` of them when given."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def doc_ids_by_article(corpus: Path) -> dict[str, str]:
    """Our article id → the corpus's doc_id, derived as the jsonl parser derives article ids.

    Only for an index built before chunks stored the corpus's `doc_id`: a newer one is read.
    """
    out = {}
    for line in corpus.read_text().splitlines():
        if line.strip():
            doc_id = json.loads(line)["doc_id"]
            out[article_id(corpus.name, f"{doc_id}#0")] = doc_id
    return out


def eval_settings(settings: IndexSettings, corpus: Path) -> IndexSettings:
    """A throwaway collection per corpus, cached so a second run embeds nothing."""
    key = f"{corpus.resolve()}:{corpus.stat().st_size}:{settings.embedding_model}"
    key += f":{settings.embedding_backend}:{settings.chunk_tokens}:{settings.chunk_overlap_tokens}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return settings.model_copy(
        update={
            "chroma_path": settings.model_cache.parent / "eval" / digest,
            "chroma_host": None,
            "collection": "eval",
        }
    )


def retrieval_metrics(ranked: list[str], gold: set[str], bearing: set[str] | None) -> dict:
    """Recall@k and MRR@10 of a ranking against the gold articles (and the bearing ones)."""
    m = {f"recall@{k}": float(bool(gold & set(ranked[:k]))) for k in KS}
    rr = next((1 / (i + 1) for i, d in enumerate(ranked[:10]) if d in gold), 0.0)
    m["mrr@10"] = rr
    if bearing:
        m["hit@5"] = float(bool(bearing & set(ranked[:5])))
    return m


def _contains_answer(texts: list[str], answers: list[str]) -> bool:
    low = " ".join(texts).lower()
    return any(a.lower() in low for a in answers if a.strip())


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if key in r]
    return round(statistics.fmean(vals), 3) if vals else None


@dataclass(frozen=True)
class Known:
    """What the eval knows of the index: article → doc_id, chunk → article, chunk → text."""

    doc_of: dict[str, str]
    chunk_article: dict[str, str]
    chunk_text: dict[str, str]

    @classmethod
    def of(cls, pipeline, corpus: Path) -> Known:
        """What the live index stores: each chunk's article and that article's corpus doc_id."""
        passages = pipeline.retriever.passages()
        stored = [p.provenance for p in passages]
        if any("doc_id" in p.metadata for p in passages):
            doc_of = {s.article_id: s.doc_id for s in stored if s.doc_id}
        else:
            log.warning("the eval index stores no corpus doc_id (built by an older version)")
            doc_of = doc_ids_by_article(corpus)
        return cls(
            doc_of,
            {p.id: s.article_id for p, s in zip(passages, stored, strict=True)},
            {p.id: p.text for p in passages},
        )

    def ranked_docs(self, chunk_ids: list[str]) -> list[str]:
        """The corpus doc_ids of ranked chunks, each article once, in order of its first chunk."""
        seen: list[str] = []
        for cid in chunk_ids:
            doc = self.doc_of.get(self.chunk_article.get(cid, ""), "")
            if doc and doc not in seen:
                seen.append(doc)
        return seen

    def standing_in(self, docs: list[Document], wanted: set[str]) -> set[str]:
        """`wanted` doc_ids, plus each ranked doc whose wire copies (`copies`) hold one of them.

        A copy is shown to the reader as "also in" beside the passage that stands for it, so
        finding that passage finds the copy, at the passage's rank.
        """
        out = set(wanted)
        for d in docs:
            copies = {self.doc_of.get(a, "") for a in d.metadata.get("copies", ())}
            if copies & wanted:
                out.add(self.doc_of.get(self.chunk_article.get(d.metadata["chunk_id"], ""), ""))
        return out - {""}


def _measure(pipeline, deep, question, gold, bearing, answers, known: Known, as_of) -> dict:
    """One question through the pipeline (answer) and the deep retriever (rankings)."""
    t, cpu = time.perf_counter(), time.process_time()
    answer = pipeline.ask(question, as_of=as_of)
    latency = (time.perf_counter() - t) * 1000
    # the CPU the answer took on every core (the model's threads too): what a busy server pays
    cpu_ms = (time.process_time() - cpu) * 1000
    docs = deep.search(question, as_of=as_of)
    ranked = known.ranked_docs([d.metadata["chunk_id"] for d in docs])
    row = retrieval_metrics(
        ranked, known.standing_in(docs, gold), bearing and known.standing_in(docs, bearing)
    )
    context_ids = {x["chunk_id"] for x in answer.context}
    supported = [
        c.quote in known.chunk_text.get(c.chunk_id, "") and c.chunk_id in context_ids
        for c in answer.citations
    ]
    quotes = [c.quote for c in answer.citations]
    row.update(
        answer_hit=float(_contains_answer([answer.text, *quotes], answers)),
        # stricter: the claims themselves state it, not only a quote's neighbouring sentence
        claim_hit=float(not answer.refused and _contains_answer([answer.text], answers)),
        context_hit=float(_contains_answer([d.page_content for d in docs[:5]], answers)),
        refused=float(answer.refused),
        citations=len(answer.citations),
        supported=sum(supported),
        latency_ms=latency,
        cpu_ms=cpu_ms,
    )
    return row


def run_eval(
    settings: IndexSettings,
    answering: AnsweringSettings,
    questions_path: Path,
    corpus: Path,
    limit: int | None = None,
    baseline: bool = True,
    dated: bool = True,
) -> dict[str, Any]:
    """Index the corpus (cached), ask every question, and measure both pipelines.

    With `dated`, a question carrying `question_date` is asked as of that day, as its asker
    did: the library as it stood then, recency counted from then. It is also asked without its
    date, and both figures are reported.
    """
    from bot.answering.pipeline import build_pipeline, load_default_embedder
    from index.build.builder import build_index

    es = eval_settings(settings, corpus)
    embedder = load_default_embedder(es)
    t0 = time.perf_counter()
    build = build_index(es, embedder, [corpus])
    log.info("eval index ready in %.1f s (%d embedded)", time.perf_counter() - t0, build.embedded)
    pipeline = build_pipeline(es, answering, embedder)
    known = Known.of(pipeline, corpus)
    questions = load_questions(questions_path, limit)
    # with no dated question, the undated column would repeat the first one
    dated = dated and any(q.get("question_date") for q in questions)
    deep = pipeline.retriever.model_copy(update={"k": 30})  # ≥ 10 distinct articles
    stock = _stock_retriever(es, embedder, pipeline) if baseline else None

    ours: list[dict] = []
    blind: list[dict] = []
    base: list[dict] = []
    for q in questions:
        gold = set(q.get("evidence_doc_ids") or [])
        bearing = set(q.get("answer_bearing_doc_ids") or []) or None
        answers = q.get("answers") or []
        as_of = parse_date(q.get("question_date") or "") if dated else None
        measure = partial(_measure, pipeline, deep, q["question"], gold, bearing, answers, known)
        row = measure(as_of)
        ours.append({"id": q.get("id")} | row)
        if dated:  # the same question asked without its date
            blind.append(measure(None) if as_of else row)
        if stock is not None:
            t, cpu = time.perf_counter(), time.process_time()
            sdocs = stock.similarity_search(q["question"], k=10)
            slat = (time.perf_counter() - t) * 1000
            scpu = (time.process_time() - cpu) * 1000
            sranked = known.ranked_docs([d.id for d in sdocs])
            brow = retrieval_metrics(sranked, gold, bearing)
            brow["context_hit"] = float(
                _contains_answer([d.page_content for d in sdocs[:5]], answers)
            )
            brow["latency_ms"] = slat
            brow["cpu_ms"] = scpu
            base.append(brow)
    return _summarise(ours, blind, base, len(questions), build.chunks, pipeline)


def _stock_retriever(settings: IndexSettings, embedder, pipeline):
    """Dense-only top-k through langchain-chroma, as a stock LangChain RAG pipeline does."""
    from langchain_chroma import Chroma

    from bot.answering.retrieval import LCEmbeddings

    live = pipeline.retriever.snapshot()  # the generation the eval's own pipeline answers from
    return Chroma(
        client=live.client,
        collection_name=live.generation,
        embedding_function=LCEmbeddings(embedder),
    )


_KEYS = [*(f"recall@{k}" for k in KS), "mrr@10", "hit@5", "context_hit"]


def _figures(rows: list[dict]) -> dict[str, Any]:
    cites = sum(r["citations"] for r in rows)
    lat = [r["latency_ms"] for r in rows]
    return {k: _mean(rows, k) for k in _KEYS} | {
        "answer_hit": _mean(rows, "answer_hit"),
        "claim_hit": _mean(rows, "claim_hit"),
        "citation_support": round(sum(r["supported"] for r in rows) / cites, 4) if cites else None,
        "refusal_rate": _mean(rows, "refused"),
        "latency_p50_ms": round(_pct(lat, 0.5), 1),
        "latency_p95_ms": round(_pct(lat, 0.95), 1),
        "cpu_ms_per_question": _cpu(rows),
    }


def _cpu(rows: list[dict]) -> float:
    """Mean CPU ms per question (time.process_time: all threads, so every core counts)."""
    return round(statistics.fmean(r["cpu_ms"] for r in rows), 1) if rows else 0.0


def _summarise(
    ours: list[dict], blind: list[dict], base: list[dict], n: int, chunks: int, pipeline
) -> dict:
    report: dict[str, Any] = {
        "questions": n,
        "chunks": chunks,
        "answerer": pipeline.answerer.name,
        "asked": "as of question date" if blind else "undated",
        "citebot": _figures(ours),
    }
    if blind:
        report["citebot_undated"] = _figures(blind)
    if base:
        blat = [r["latency_ms"] for r in base]
        report["baseline_dense"] = {k: _mean(base, k) for k in _KEYS} | {
            "latency_p50_ms": round(_pct(blat, 0.5), 1),
            "latency_p95_ms": round(_pct(blat, 0.95), 1),
            "cpu_ms_per_question": _cpu(base),
        }
    report["per_question"] = ours
    return report


def format_report(r: dict) -> str:
    """A side-by-side table: citebot (dated, then undated) against the dense-only baseline."""
    columns = [("citebot", r["citebot"])]
    if "citebot_undated" in r:
        columns = [("dated", r["citebot"]), ("undated", r["citebot_undated"])]
    columns.append(("baseline", r.get("baseline_dense", {})))
    lines = [
        f"{r['questions']} questions, {r['chunks']} chunks, answerer {r['answerer']}, "
        f"asked {r['asked']}",
        f"{'metric':<22}" + "".join(f"{name:>10}" for name, _ in columns),
    ]
    fmt = lambda v: "-" if v is None else f"{v:.3f}" if v <= 1.5 else f"{v:.1f}"  # noqa: E731
    for key in r["citebot"]:
        lines.append(f"{key:<22}" + "".join(f"{fmt(col.get(key)):>10}" for _, col in columns))
    return "\n".join(lines)
