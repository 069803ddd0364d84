"""One provenance record from the parser to the citation: every field stored, read back, cited."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

from bot.answering.answer import Answer, Citation
from bot.answering.pipeline import build_pipeline
from bot.evaluation.evaluate import Known
from index.build.builder import build_index
from index.ingest.articles import load_articles
from index.ingest.provenance import Provenance

PORT = {
    "id": "corpus-7",  # the corpus's own id, under `id` rather than `doc_id`
    "title": "Port of Millbrook reopens after the storm",
    "text": (
        "The port of Millbrook reopened on Tuesday after the storm. Harbour master Ines Falk "
        "said forty ships waited outside the breakwater during the three days it was closed."
    ),
    "url": "https://wire.example/port",
    "published": "Tue, 05 Mar 2024 10:00:00 +0000",
    "source": "Harbour Wire",
}
BAKERY = {
    "id": "corpus-9",
    "title": "Town bakery wins national bread prize",
    "text": "The Millbrook Bakery won the national sourdough prize on Saturday.",
    "published": "2024/03/02",
}


def _write_corpus(path, *lines: dict) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_every_provenance_field_reaches_the_citation_and_its_json(settings, embedder) -> None:
    _write_corpus(settings.articles_dir / "wire.jsonl", PORT, BAKERY)
    (parsed, _) = load_articles([settings.articles_dir]).articles
    build_index(settings.index, embedder)

    answer = build_pipeline(settings.index, settings.answering, embedder).ask(
        "How many ships waited outside the port?"
    )

    assert answer.citations, answer.text
    cited = json.loads(json.dumps(answer.as_dict(), ensure_ascii=False))["citations"][0]
    assert answer.citations[0].provenance == parsed.provenance
    assert {f.name: cited[f.name] for f in fields(Provenance)} == parsed.provenance.metadata()
    # parsed once, at ingest: the day of an RFC 2822 date, and the corpus's own id
    assert (cited["date"], cited["doc_id"], cited["publisher"]) == (
        "2024-03-05",
        "corpus-7",
        "Harbour Wire",
    )
    # the keys `--json` and the feedback log gave before the record was shared
    assert {"number", "title", "quote", "chunk_id", "score", "url", "source", "also_in"} <= set(
        cited
    )


@dataclass(frozen=True)
class _WithRegion(Provenance):
    """A field added to the record alone, as a new one would be."""

    region: str = ""


def test_a_field_of_the_record_is_stored_read_back_and_cited_with_no_other_edit() -> None:
    made = _WithRegion(article_id="a1", title="Port reopens", date="2024-03-05", region="north")

    stored = made.metadata()

    assert stored["region"] == "north"
    assert _WithRegion.from_metadata(stored) == made
    citation = Citation(1, made, "forty ships waited", "c1", 0.8)
    assert citation.as_dict()["region"] == "north"
    assert Answer("q", "t [1]", [citation]).as_dict()["citations"][0]["region"] == "north"


def test_metadata_of_an_older_index_reads_with_defaults_and_its_date_as_a_day() -> None:
    old = {"article_id": "a1", "title": "T", "date": "2022/06/16", "chunk_index": 0}

    assert Provenance.from_metadata(old) == Provenance(
        article_id="a1", title="T", date="2022-06-16"
    )
    assert Provenance.from_metadata({"date": "2022-06-16T10:00:00Z"}).date == "2022-06-16"
    assert Provenance.from_metadata({"date": "not a date"}).date == ""


def test_eval_maps_chunks_to_the_corpus_ids_stored_at_ingest(settings, embedder) -> None:
    corpus = settings.articles_dir / "corpus.jsonl"
    _write_corpus(corpus, PORT, BAKERY)
    build_index(settings.index, embedder, [corpus])
    pipeline = build_pipeline(settings.index, settings.answering, embedder)

    known = Known.of(pipeline, corpus)

    ranked = known.ranked_docs([p.id for p in pipeline.retriever.passages()])
    assert sorted(ranked) == ["corpus-7", "corpus-9"]
