"""Recency as a tie-breaker: it orders articles of similar relevance, never buries the one that
answers (a library that grew for months of news on one story)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import built_library

# One story followed for seven months: the May report holds the figure asked for; twelve
# reports of the autumn are on the same reservoir and drought, each with facts of its own.
MAY = {
    "title": "Varn reservoir falls to record low after dry spring",
    "text": "The Varn Basin Authority said on Tuesday that the reservoir had fallen to 31 "
    "percent of its capacity, the lowest level since records began in 1954. Engineers "
    "blamed a spring with almost no rain. Farmers in the valley were told to expect cuts.",
    "url": "https://news.example/varn-may",
    "published": "2022-05-03",
}
LATER = [
    (
        "2022-09-06",
        "Varn valley farmers protest water cuts",
        "Hundreds of farmers drove tractors to the Varn Basin Authority offices to protest the "
        "water cuts, which they said had ruined the summer harvest.",
    ),
    (
        "2022-09-13",
        "Heat adds to pressure on the Varn reservoir",
        "A late heatwave pushed temperatures above 36 degrees in the Varn valley, and officials "
        "warned that evaporation from the reservoir would rise sharply.",
    ),
    (
        "2022-09-20",
        "Varn authority bans garden hoses",
        "The Varn Basin Authority banned the use of garden hoses and the filling of private "
        "pools until the reservoir recovers.",
    ),
    (
        "2022-09-27",
        "Drought emergency declared in the Varn valley",
        "The regional government declared a drought emergency in the Varn valley, freeing "
        "funds for water trucks and emergency wells.",
    ),
    (
        "2022-10-04",
        "Varn reservoir engineers plan new pipeline",
        "Engineers presented plans for a 40-kilometre pipeline to carry water from the "
        "Ostra river to the Varn reservoir by 2024.",
    ),
    (
        "2022-10-11",
        "First autumn rain brings little relief to Varn",
        "The first autumn storm brought 12 millimetres of rain to the Varn valley, which "
        "officials said barely changed the reservoir level.",
    ),
    (
        "2022-10-18",
        "Fish rescued from shrinking Varn reservoir",
        "Volunteers moved thousands of fish from the shallow edges of the Varn reservoir to a "
        "hatchery before the water dropped further.",
    ),
    (
        "2022-10-25",
        "Varn towns ask for tanker deliveries",
        "Three hill towns above the Varn reservoir asked the Basin Authority for tanker "
        "deliveries after their wells ran dry.",
    ),
    (
        "2022-11-01",
        "Varn water cuts to continue through winter",
        "The Varn Basin Authority said the water cuts would continue through the winter, "
        "because the reservoir was still far below its usual level.",
    ),
    (
        "2022-11-08",
        "Old village emerges from the Varn reservoir",
        "The ruins of a village flooded in 1954 to build the Varn reservoir emerged from the "
        "water, drawing crowds of visitors.",
    ),
    (
        "2022-11-15",
        "Varn authority chief resigns over drought response",
        "The head of the Varn Basin Authority resigned, saying the drought response needed "
        "a fresh start as the reservoir stayed low.",
    ),
    (
        "2022-11-29",
        "Varn reservoir begins to refill after November storms",
        "Heavy November storms began to refill the Varn reservoir, which rose to 44 percent "
        "of capacity, the authority said on Monday.",
    ),
]
ARTICLES = [MAY] + [
    {"title": t, "text": x, "url": f"https://news.example/varn-{d}", "published": d}
    for d, t, x in LATER
]


@pytest.fixture(scope="module")
def grown_library(tmp_path_factory, model_cache: Path, embedder):
    from bot.answering.pipeline import build_pipeline

    settings = built_library(tmp_path_factory.mktemp("grown"), model_cache, embedder, ARTICLES)
    return build_pipeline(settings.index, settings.answering, embedder)


def test_an_old_sentence_asked_verbatim_is_answered_among_newer_reports(grown_library):
    question = (
        "The Varn Basin Authority said the reservoir had fallen to 31 percent of its capacity, "
        "the lowest level since records began"
    )

    answer = grown_library.ask(question)

    assert not answer.refused
    assert answer.citations[0].url == MAY["url"]
    assert "31 percent" in answer.citations[0].quote
