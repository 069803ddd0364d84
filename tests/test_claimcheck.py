"""The claim check: a changed fact never passes; the same fact written otherwise does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.answering.citations import check
from bot.answering.claimcheck import violation
from bot.answering.passages import NumberedPassage
from bot.cli import main
from bot.evaluation.claims_eval import BEYOND_RULES, TARGETS
from index.ingest.provenance import Provenance

CLAIMS_CORPUS = Path(__file__).resolve().parent / "data" / "claims" / "corpus.jsonl"

PASSAGE = (
    "Since Russia's invasion of Ukraine, Moscow has increasingly relied on China due to "
    "Western sanctions. Trade exchanges between the two countries reached $240 billion last "
    "year, with China helping its neighbor mitigate the worst effects of Western sanctions.\n\n"
    "This week, Russian President Vladimir Putin thanked Xi for China's proposals to end the "
    "war, while Xi stated that China hopes for a swift return to peace and stability in Europe "
    "and will continue to play a constructive role in this regard. Putin arrived in Beijing on "
    "2022/06/16 with 6 ministers. The Kremlin did not confirm the date of the next summit."
)


def rule(claim: str) -> str | None:
    v = violation(claim, PASSAGE)
    return v.rule if v else None


TRADE = (
    "Russia and China signed a new gas deal on Monday. "
    "Exports to Europe fell 12 percent while imports from India rose 30 percent. "
    "Officials in Moscow said the pipeline could open in 2025. "
    "Trade between Russia and China reached more than $240 billion last year."
)


def trade_rule(claim: str) -> str | None:
    v = violation(claim, TRADE)
    return v.rule if v else None


def test_a_figure_of_another_clause_is_dropped():
    assert trade_rule("Exports to Europe fell 30 percent.") == "number"
    assert trade_rule("Imports from India fell 12 percent.") == "number"


def test_a_figure_of_its_own_clause_passes():
    assert trade_rule("Imports from India rose 30 percent.") is None


def test_a_name_of_a_later_sentence_is_dropped_and_one_named_just_before_passes():
    passage = (
        "Maria Lopez won the city's mayoral race on Tuesday. Her rival conceded late at night. "
        "Turnout reached a record for a local election. The council approved a new budget. "
        "Observers praised the calm count. Councillor Ben Ortiz chaired the budget session."
    )
    assert violation("Ben Ortiz won the city's mayoral race on Tuesday.", passage).rule == "name"
    assert violation("Lopez's rival conceded late at night.", passage) is None


def test_a_word_turned_into_its_opposite_is_dropped():
    assert trade_rule("Exports to Europe rose 12 percent.") == "wording"


def test_a_flipped_bound_is_dropped_and_a_synonymous_one_passes():
    assert trade_rule("Trade between Russia and China reached less than $240 billion.") == "wording"
    assert trade_rule("Trade between Russia and China reached over $240 billion.") is None


def test_a_hedge_stated_as_fact_is_dropped():
    assert trade_rule("Officials in Moscow said the pipeline will open in 2025.") == "wording"
    assert trade_rule("Officials in Moscow said the pipeline may open in 2025.") is None


def test_a_changed_amount_is_dropped():
    assert rule("Trade between the two countries reached $420 billion last year.") == "number"


def test_an_amount_written_otherwise_passes():
    assert rule("Trade between the two countries reached 240 billion dollars last year.") is None
    assert rule("Trade between the two countries reached US$240bn last year.") is None


def test_another_scale_of_the_same_figure_is_dropped():
    assert rule("Trade between the two countries reached $240 million last year.") == "number"


def test_another_year_is_dropped():
    assert rule("Putin arrived in Beijing in 2021.") == "number"


def test_a_year_and_month_are_found_in_a_numeric_date():
    assert rule("Putin arrived in Beijing in June 2022.") is None
    assert rule("Putin arrived in Beijing in July 2022.") == "number"


def test_a_number_word_stands_for_its_digits():
    assert rule("Putin arrived in Beijing with six ministers.") is None
    assert rule("Putin arrived in Beijing with seven ministers.") == "number"


def test_another_country_is_dropped():
    assert rule("Putin thanked Xi for India's proposals to end the war.") == "name"


def test_the_country_adjective_stands_for_the_country():
    assert rule("Putin thanked Xi for Chinese proposals to end the war.") is None


def test_another_person_is_dropped():
    assert rule("This week, Putin thanked Biden for China's proposals to end the war.") == "name"
    assert rule("Joe Biden thanked Xi for China's proposals to end the war.") == "name"


def test_a_short_form_of_a_name_the_passage_gives_in_full_passes():
    assert rule("Putin thanked Xi for China's proposals to end the war.") is None
    assert rule("President Putin thanked Xi for China's proposals to end the war.") is None


def test_an_inserted_not_is_dropped():
    claim = "This week, Putin did not thank Xi for China's proposals to end the war."
    assert rule(claim) == "negation"


def test_a_removed_negation_is_dropped():
    assert rule("The Kremlin confirmed the date of the next summit.") == "negation"
    assert rule("The Kremlin didn't confirm the date of the next summit.") is None


def test_swapped_roles_are_dropped():
    assert rule("This week, Xi thanked Putin for China's proposals to end the war.") == "roles"


def test_the_passive_keeps_who_did_what():
    assert rule("Xi was thanked by Putin for China's proposals to end the war.") is None
    assert rule("Putin was thanked by Xi for China's proposals to end the war.") == "roles"


def test_an_invented_quote_is_dropped():
    assert rule('Putin called the proposals "a historic mistake".') == "quote"


def test_a_quote_the_passage_holds_passes():
    assert rule('Xi said China "will continue to play a constructive role".') is None


@pytest.mark.parametrize("sentence", [s for s in PASSAGE.replace("\n\n", " ").split(". ")])
def test_every_sentence_of_the_passage_passes_verbatim(sentence):
    assert rule(sentence) is None


def _passages() -> list[NumberedPassage]:
    return [
        NumberedPassage(
            number=1,
            chunk_id="c1",
            provenance=Provenance(title="Putin visits Xi", source="t.txt"),
            text=PASSAGE,
            dense=0.0,
        )
    ]


def test_check_drops_a_changed_figure_and_names_the_rule(embedder):
    idf = lambda _term: 1.0  # noqa: E731 - every word counts the same here
    draft = (
        "Trade between the two countries reached $420 billion last year [1]. "
        "Putin thanked Xi for China's proposals to end the war [1]."
    )
    checked = check(draft, _passages(), embedder, idf)
    assert "$420 billion" not in checked.text
    assert "Putin thanked Xi" in checked.text
    [dropped] = checked.dropped
    assert dropped.rule == "number" and "420 billion" in dropped.detail
    assert dropped.passage == 1


def test_an_uncited_claim_meets_the_same_rules(embedder):
    idf = lambda _term: 1.0  # noqa: E731
    checked = check(
        "Xi thanked Putin for China's proposals to end the war.", _passages(), embedder, idf
    )
    assert checked.refused
    assert [d.rule for d in checked.dropped] == ["roles"]


def test_eval_claims_keeps_true_claims_and_drops_changed_ones(model_cache, monkeypatch, capsys):
    monkeypatch.setenv("MODEL_CACHE", str(model_cache))
    code = main(["eval-claims", "--corpus", str(CLAIMS_CORPUS), "--limit", "6", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    kinds = report["kinds"]
    assert report["sentences"] == 6
    assert kinds["verbatim"]["n"] == 6 and kinds["verbatim"]["kept_rate"] == 1.0
    changed = [k for k in ("number", "date", "amount", "name", "negation inserted", "quote")]
    for kind in changed:
        assert kinds[kind]["n"] > 0, kind
        assert kinds[kind]["kept"] == 0, kinds[kind]["examples_wrong"]
    assert kinds["reworded (all)"]["kept_rate"] >= 0.85
    # the kinds beyond the rules (a fact moved from another sentence, antonyms, hedges) are
    # made and reported too, with their own target
    assert set(BEYOND_RULES) <= set(kinds) and all(k in TARGETS for k in BEYOND_RULES)


def test_ask_json_says_which_rule_dropped_an_llm_claim(sample_index, embedder, monkeypatch, capsys):
    """A model that changes one figure of its passage: the claim is dropped, and why is shown."""
    from tests.fake_llm import FakeLLM, passage_number

    with FakeLLM() as llm:

        def respond(prompt: str):
            n = passage_number(prompt, "$240 billion")
            return 200, (
                f"Trade between Russia and China reached $420 billion last year [{n}]. "
                f"Putin thanked Xi for China's proposals to end the war [{n}]."
            )

        llm.responder = respond
        for key, value in {
            "ARTICLES_DIR": sample_index.articles_dir,
            "CHROMA_PATH": sample_index.chroma_path,
            "MODEL_CACHE": sample_index.model_cache,
            "LLM_PROVIDER": "openai",
            "LLM_BASE_URL": llm.url,
        }.items():
            monkeypatch.setenv(key, str(value))
        code = main(["ask", "How much was trade between Russia and China last year?", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert "$420 billion" not in out["text"]
    [dropped] = out["dropped_claims"]
    assert dropped["rule"] == "number"
    assert "$420 billion" in dropped["claim"]
