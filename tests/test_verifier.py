"""The learned claim verifier: its windows, the shipped model, and its place in the check."""

from __future__ import annotations

import json

import pytest

from bot.answering.citations import check
from bot.answering.passages import NumberedPassage
from bot.answering.verifier import MODEL_DIR, ClaimVerifier, VerifierCard, shipped_verifier, windows
from index.ingest.provenance import Provenance

TRADE = (
    "Russia and China signed a new gas deal on Monday. "
    "Exports to Europe fell 12 percent while imports from India rose 30 percent. "
    "Officials in Moscow said the pipeline would open in 2025. "
    "Trade between Russia and China reached $240 billion last year, customs data showed. "
    "The two leaders met in Beijing for two days of talks."
)


@pytest.fixture(scope="module")
def verifier() -> ClaimVerifier:
    return shipped_verifier()


def test_a_short_passage_is_one_window():
    assert windows("anything", "One sentence. Two sentences.", 500) == [
        "One sentence. Two sentences."
    ]


def test_a_long_passage_is_read_around_the_sentences_that_share_the_claims_words():
    got = windows("Trade between Russia and China reached $240 billion", TRADE, 160, count=2)
    assert len(got) == 2
    assert "$240 billion" in got[0]
    assert all(len(w) <= 160 for w in got)


def test_windows_are_whole_sentences_of_the_passage():
    for w in windows("the pipeline would open in 2025", TRADE, 150, count=3):
        assert w in TRADE
        assert w.endswith(".")


def test_the_shipped_card_holds_a_frozen_threshold_and_its_training_record():
    card = VerifierCard.load(MODEL_DIR)
    raw = json.loads((MODEL_DIR / "verifier.json").read_text())
    assert 0 < card.threshold < 1
    assert "seed" in card.trained
    assert raw["dev"]["sources"]  # the dev figures the training printed


def test_the_shipped_model_is_within_the_size_limit():
    assert (MODEL_DIR / "model-int8.onnx").stat().st_size <= 30 * 1024 * 1024


class _Counting:
    """The shipped verifier, counting how often the check asks it."""

    def __init__(self, inner: ClaimVerifier) -> None:
        self.inner, self.calls = inner, 0
        self.threshold = inner.threshold

    def support_window(self, claim: str, passage: str) -> tuple[float, str]:
        self.calls += 1
        return self.inner.support_window(claim, passage)


def _passage(text: str = TRADE) -> list[NumberedPassage]:
    prov = Provenance(title="Russia and China", source="trade.txt")
    return [NumberedPassage(number=1, chunk_id="c1", provenance=prov, text=text)]


def _idf(_term: str) -> float:
    return 1.0


def test_a_verbatim_claim_passes_without_running_the_model(verifier, embedder):
    counting = _Counting(verifier)
    draft = (
        "Trade between Russia and China reached $240 billion last year, customs data showed [1]."
    )
    checked = check(draft, _passage(), embedder, _idf, verifier=counting)
    assert not checked.dropped and not checked.refused
    assert counting.calls == 0


def test_a_number_found_nowhere_is_dropped_by_its_rule_before_the_model(verifier, embedder):
    counting = _Counting(verifier)
    draft = "Trade between Russia and China reached $420 billion last year [1]."
    checked = check(draft, _passage(), embedder, _idf, verifier=counting)
    [dropped] = checked.dropped
    assert dropped.rule == "number" and dropped.score is None
    assert counting.calls == 0


def _write_summedits(path):
    doc = (
        "The council approved the new budget on Tuesday. Spending on schools will rise by "
        "4 percent next year. The mayor said the plan protects libraries."
    )
    rows = [
        {"doc": doc, "summary": "The council approved the new budget on Tuesday.", "label": "1",
         "edit_types": "[]", "split": "evaluation", "original_summary": ""},
        {"doc": doc, "summary": "The council approved the new budget on Tuesday. "
         "Spending on schools will rise by 9 percent next year.", "label": "0",
         "edit_types": "['entity_modification']", "split": "evaluation", "original_summary": ""},
        {"doc": doc, "summary": "The council rejected the budget.", "label": "0",
         "edit_types": "['antonym_swap']", "split": "test", "original_summary": ""},
    ]  # fmt: skip
    path.write_text(json.dumps(rows))


def test_eval_claims_on_a_public_set_reports_balanced_accuracy_per_kind(
    tmp_path, model_cache, monkeypatch, capsys
):
    from bot.cli import main

    monkeypatch.setenv("MODEL_CACHE", str(model_cache))
    data = tmp_path / "summedits_news.json"
    _write_summedits(data)
    code = main(["eval-claims", "--dataset", "summedits", str(data), "--split", "evaluation",
                 "--json"])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["items"] == 2  # the test split left out
    assert report["checker"] == "rules"  # CLAIM_VERIFIER's default
    assert set(report["kinds"]) == {"consistent", "entity_modification"}
    # the changed figure is found nowhere in the document: the number rule drops it
    assert report["kinds"]["entity_modification"]["unsupported_kept"] == 0.0
    assert report["all"]["balanced_accuracy"] is not None


def test_eval_claims_needs_a_corpus_or_a_dataset(capsys):
    from bot.cli import main

    assert main(["eval-claims"]) != 0
    assert "--corpus" in capsys.readouterr().err


def test_claim_verifier_defaults_to_the_rules_and_refuses_unknown_names(tmp_path, model_cache):
    from tests.conftest import make_settings

    assert make_settings(tmp_path, model_cache).answering.claim_verifier == "rules"
    with pytest.raises(ValueError):
        make_settings(tmp_path, model_cache, CLAIM_VERIFIER="llm")


def test_the_shipped_verifier_loads_offline_and_judges_a_negation(verifier, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    true = verifier.support("Officials in Moscow said the pipeline could open in 2025.", TRADE)
    negated = verifier.support("The two leaders never met in Beijing.", TRADE)
    assert 0.0 <= negated < true <= 1.0
    assert true - negated > 0.3  # far from a near-tie on any CPU
