"""The `citebot` command line: thin commands over the pipeline, errors as messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import chat_loop, cli, main

EVAL_DATA = Path(__file__).resolve().parent / "data" / "eval"


@pytest.fixture
def sample_env(sample_index, monkeypatch):
    for key, value in {
        "ARTICLES_DIR": sample_index.articles_dir,
        "CHROMA_PATH": sample_index.chroma_path,
        "MODEL_CACHE": sample_index.model_cache,
    }.items():
        monkeypatch.setenv(key, str(value))
    return sample_index


def test_ask_json_prints_the_chains_result(sample_env, capsys):
    code = main(["ask", "How much was trade between Russia and China last year?", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert any("$240 billion" in c["quote"] for c in out["citations"])
    assert out["context"]


def test_ask_json_of_a_refusal_gives_the_gates_score_and_threshold(sample_env, capsys):
    code = main(["ask", "Who won the 2018 FIFA World Cup?", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["refused"] and out["relevance_threshold"] == 0.4
    assert 0 <= out["relevance"] < out["relevance_threshold"]


def test_ask_prints_answer_then_numbered_sources(sample_env, capsys):
    assert main(["ask", "How much was trade between Russia and China last year?"]) == 0
    out = capsys.readouterr().out
    assert "[1]" in out.splitlines()[0]
    assert any(line.startswith("[1] ") and '— "' in line for line in out.splitlines())


def test_empty_question_is_a_message_not_a_traceback(sample_env, capsys):
    assert main(["ask", "   "]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_ask_before_any_build_says_how_to_build(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CHROMA_PATH", str(tmp_path / "nothing"))
    assert main(["ask", "anything?"]) == 1
    assert "citebot-index build" in capsys.readouterr().err


def test_chat_keeps_history_for_followups(sample_pipeline):
    questions = iter(
        ["How much was trade between Russia and China last year?", "and the year before?", ""]
    )
    shown: list[str] = []
    chat_loop(sample_pipeline, read=lambda prompt: next(questions), write=shown.append)
    answers = [s for s in shown if "[1]" in s]
    assert len(answers) == 2
    assert "$200 billion" in answers[1] or "$240 billion" in answers[1]


def test_chat_answers_bad_input_and_goes_on(sample_pipeline):
    questions = iter(["😀😀", "Who won the 2018 FIFA World Cup?", ""])
    shown: list[str] = []
    chat_loop(sample_pipeline, read=lambda prompt: next(questions), write=shown.append)
    assert any("words" in s for s in shown)
    assert any(s.startswith("I don't know") for s in shown)


def test_eval_reports_both_pipelines(tmp_path, model_cache, monkeypatch, capsys):
    monkeypatch.setenv("MODEL_CACHE", str(model_cache))
    monkeypatch.setenv("CHROMA_PATH", str(tmp_path / "chroma"))
    code = main(
        [
            "eval",
            "--questions",
            str(EVAL_DATA / "questions.jsonl"),
            "--corpus",
            str(EVAL_DATA / "corpus.jsonl"),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    ours, base = report["citebot"], report["baseline_dense"]
    assert report["questions"] == 3
    assert ours["recall@5"] == 1.0 and base["recall@5"] == 1.0
    assert ours["answer_hit"] >= 2 / 3
    assert ours["citation_support"] == 1.0
    assert ours["latency_p95_ms"] > 0


def test_eval_asks_dated_questions_as_of_their_day(tmp_path, model_cache, monkeypatch, capsys):
    """Asked the day before it was published, the trade article is not yet in the library."""
    monkeypatch.setenv("MODEL_CACHE", str(model_cache))
    monkeypatch.setenv("CHROMA_PATH", str(tmp_path / "chroma"))
    rows = [json.loads(line) for line in (EVAL_DATA / "questions.jsonl").read_text().splitlines()]
    for row in rows:
        row["question_date"] = "2024/05/16" if row["id"] == "q1" else "2024/06/01"
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["eval", "--questions", str(questions), "--corpus", str(EVAL_DATA / "corpus.jsonl")]
    assert main([*args, "--json", "--no-baseline"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["asked"] == "as of question date"
    assert report["citebot"]["recall@10"] == pytest.approx(2 / 3, abs=1e-3)
    assert report["citebot_undated"]["recall@10"] == 1.0
    assert main([*args, "--undated", "--no-baseline"]) == 0
    table = capsys.readouterr().out
    assert "asked undated" in table and "recall@10" in table


def test_ask_as_of_a_bad_day_says_the_format(sample_env, capsys):
    assert main(["ask", "How big was Russia–China trade?", "--as-of", "2022-13-01"]) == 2
    assert "%Y-%m-%d" in capsys.readouterr().err


def test_a_bad_setting_is_named_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "six")
    monkeypatch.setenv("ALLOWED_CHANNELS", "123,#general")
    assert main(["ask", "How big was Russia–China trade?"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: invalid setting") and "Traceback" not in err
    assert "RATE_LIMIT_PER_MINUTE" in err and "'six'" in err
    assert "ALLOWED_CHANNELS" in err and "#general" in err


def test_terminal_citations_name_publisher_and_day():
    from bot.answering.answer import Answer, Citation
    from bot.terminal import render_text
    from index.ingest.provenance import Provenance

    voltra = Provenance(
        title="Voltra widens recall",
        url="https://news.example/v",
        date="2022-08-20T09:30:00Z",
        publisher="Wire",
    )
    cited = Citation(1, voltra, "It recalled\n25,000 scooters.", "c1", 0.8)
    undated = Citation(2, Provenance(title="Heatwave"), "It was hot.", "c2", 0.6)
    text = render_text(Answer("q?", "Voltra recalled 25,000 scooters. [1] [2]", [cited, undated]))

    lines = text.splitlines()
    assert lines[2] == (
        "[1] Voltra widens recall (Wire, 2022-08-20) <https://news.example/v> — "
        '"It recalled 25,000 scooters."'
    )
    assert lines[3] == '[2] Heatwave — "It was hot."'


def test_ask_as_of_a_day_answers(sample_env, capsys):
    args = ["ask", "How much was trade between Russia and China last year?"]
    assert main([*args, "--as-of", "2030-01-01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any("$240 billion" in c["quote"] for c in out["citations"])


@pytest.fixture
def main_job_env(settings, monkeypatch):
    """The main job's settings as environment variables, run where no .env is read."""
    monkeypatch.chdir(settings.chroma_path.parent)
    for key, value in {
        "ARTICLES_DIR": settings.articles_dir,
        "CHROMA_PATH": settings.chroma_path,
        "MODEL_CACHE": settings.model_cache,
    }.items():
        monkeypatch.setenv(key, str(value))
    return settings


def test_main_job_starts_on_the_live_index_when_its_build_fails(
    main_job_env, sample_articles, embedder
):
    from index.build.builder import build_index

    built = build_index(main_job_env.index, embedder)
    (sample_articles / "articles-sample.txt").unlink()  # ARTICLES_DIR is empty now

    result = CliRunner().invoke(cli, [], input="\n")

    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warning == [
        "warning: the index was not updated: no articles found in "
        f"{main_job_env.articles_dir}; the live index is unchanged; "
        f"answering from {built.collection}"
    ]
    assert "Ask about the articles" in result.stdout


def test_main_job_without_a_live_index_fails_when_its_build_fails(main_job_env, capsys):
    assert main([]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("error: no articles found in ")
