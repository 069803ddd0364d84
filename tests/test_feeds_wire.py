"""Wire copies: one story run by several outlets takes one passage slot, cited "also in" them."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from bot.answering.answer import Answer, Citation
from bot.answering.pipeline import build_pipeline
from bot.answering.wire import WIRE_JACCARD, is_copy, jaccard, normalised_words, shingles
from bot.discord.render import render_citation
from bot.terminal import render_text
from index.build.builder import build_index
from index.ingest.provenance import Provenance

STORY = (
    "The national weather office said on Tuesday that the dam on the Lower Vale river was "
    "holding after three days of record rain, but engineers would open its spillway at dawn on "
    "Wednesday to lower the reservoir by two metres. About 4,000 residents of Marsh End and "
    "Kettleby were told to leave their homes before midnight as a precaution. Emergency "
    "shelters opened in the sports halls of both towns, and the army sent 300 soldiers with "
    "boats and sandbags. The river is expected to peak on Thursday afternoon, the office said, "
    "and schools in the valley will stay closed until Friday."
)
OTHER = (
    "Farmers in the Lower Vale have moved their herds to higher ground as the river rises. "
    "Many said the flooding of 2019 had taught them to act early, and the farmers' union has "
    "lent trailers to those who have none. Insurers said claims would be paid within weeks."
)
COPIES = [
    ("Valley Times", f"LOWER VALE (Wire) - {STORY}"),
    ("Northern Post", f"By Ana Ruiz\n{STORY}"),
    ("Daily Courier", f"{STORY} Reporting by Ana Ruiz; editing by Tom Hale."),
]
QUESTION = "How many residents were told to leave their homes near the Lower Vale dam?"


@pytest.fixture
def wire_pipeline(settings, embedder):
    lines = [
        {
            "title": "Dam holds as spillway opens on the Lower Vale",
            "text": text,
            "url": f"https://{outlet.lower().replace(' ', '')}.example/dam",
            "published": "2026-11-24",
            "source": outlet,
        }
        for outlet, text in COPIES
    ]
    lines.append(
        {
            "title": "Lower Vale farmers move herds as the river rises",
            "text": OTHER,
            "url": "https://farmweekly.example/herds",
            "published": "2026-11-24",
            "source": "Farm Weekly",
        }
    )
    path = settings.articles_dir / "wire.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    build_index(settings.index, embedder)
    return build_pipeline(settings.index, settings.answering, embedder)


def test_wire_copies_fill_one_passage_slot(wire_pipeline):
    docs = wire_pipeline.retriever.search(QUESTION)

    dam = [d for d in docs if d.metadata["title"].startswith("Dam holds")]
    assert len({d.metadata["article_id"] for d in dam}) == 1
    assert any(d.metadata["title"].startswith("Lower Vale farmers") for d in docs)


def test_the_citation_says_which_other_outlets_ran_the_story(wire_pipeline):
    answer = wire_pipeline.ask(QUESTION)

    (cited,) = [c for c in answer.citations if "4,000" in c.quote]
    outlets = {cited.publisher, *cited.also_in}
    assert outlets == {"Valley Times", "Northern Post", "Daily Courier"}
    assert cited.publisher not in cited.also_in


def test_dateline_and_byline_do_not_make_a_different_story():
    assert normalised_words(COPIES[0][1]) == normalised_words(COPIES[1][1])


def test_near_copies_are_copies_and_other_stories_are_not():
    def sig(text: str) -> frozenset[int]:
        return shingles([SimpleNamespace(text=text, metadata={"chunk_index": 0})])

    story, trailer, other = sig(COPIES[0][1]), sig(COPIES[2][1]), sig(OTHER)
    assert jaccard(story, trailer) >= WIRE_JACCARD and is_copy(story, trailer)
    assert not is_copy(story, other)


def _cited(publisher: str, also_in: tuple[str, ...]) -> Answer:
    dam = Provenance(title="Dam holds", publisher=publisher)
    citation = Citation(1, dam, "About 4,000 residents", "c1", 0.9, also_in)
    return Answer(question="q", text="They left. [1]", citations=[citation])


def test_terminal_citation_says_also_in():
    text = render_text(_cited(publisher="Valley Times", also_in=("Northern Post", "Daily Courier")))
    assert "[1] Dam holds (Valley Times; also in Northern Post, Daily Courier)" in text


def test_discord_citation_says_also_in():
    (citation,) = _cited(publisher="Valley Times", also_in=("Northern Post",)).citations
    assert "Valley Times · also in Northern Post" in render_citation(citation)
