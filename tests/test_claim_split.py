"""A marker ends its claim: an answer's quoted sentences are checked one by one, each against
the passage it cites, and none of them needs the model."""

from __future__ import annotations

from bot.answering.citations import _claims, check
from bot.answering.passages import NumberedPassage
from index.ingest.provenance import Provenance
from tests.test_answer_caches import CountingEmbedder

HEADLINE = "NEW WEBB PHOTOS: NASA releases the sharpest images of the universe"
EVENTS = "Several events take place during the image release on Tuesday."
SAID = "Climate change posed the biggest security threat in the region, the minister said."
CREDIT = "-- Inia Seruiratu, the minister for defense, at the summit in Singapore."


def test_a_headline_without_a_full_stop_is_a_claim_of_its_own() -> None:
    claims = _claims(f"{HEADLINE} [1] {EVENTS} [2]")

    assert claims == [(HEADLINE, [1]), (EVENTS, [2])]


def test_a_claim_after_a_full_stop_and_markers_starts_anew_whatever_its_first_letter() -> None:
    claims = _claims(f"{SAID} [1] {CREDIT} [2]")

    assert claims == [(SAID, [1]), (CREDIT, [2])]


def test_markers_inside_a_sentence_keep_it_whole() -> None:
    claims = _claims("Trade grew [1] and prices fell [2], officials said. [3]")

    assert claims == [("Trade grew and prices fell, officials said.", [1, 2, 3])]


def test_quoted_sentences_are_checked_without_the_model(embedder) -> None:
    passages = [
        NumberedPassage(1, "webb-0", Provenance(title="Webb"), f"{HEADLINE}\n\n{EVENTS}", 0.6),
        NumberedPassage(2, "fiji-0", Provenance(title="Fiji"), f"{SAID}\n{CREDIT}", 0.5),
    ]
    counting = CountingEmbedder(embedder)

    checked = check(f"{HEADLINE} [1] {SAID} [2] {CREDIT} [2]", passages, counting, lambda t: 1.0)

    assert counting.texts == []
    assert not checked.dropped and len(checked.citations) >= 2
