"""The terminal shows article and model text, never the control sequences it may carry."""

from __future__ import annotations

import json
import re

from bot.answering.answer import Answer, Citation
from bot.cli import main
from bot.terminal import render_text
from index.ingest.provenance import Provenance
from index.settings import Settings

CLEAR = "\x1b[2J\x1b[H"
TITLE = "\x1b]0;pwned\x07"
TITLE_ST = "\x1b]2;pwned too\x1b\\"
# anything a terminal acts on: ESC, other C0 controls but newline and tab, DEL, C1 controls
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_escape_sequences_and_controls_are_stripped_from_every_field():
    hostile = Provenance(
        title=f"Voltra {TITLE}recall",
        url=f"https://news.example/v{TITLE_ST}",
        date="2022-08-20\x07",
        publisher="Wire\x1b[31m",
    )
    cited = Citation(1, hostile, f"It recalled{CLEAR} 25,000\x9b2J scooters.\r\x08", "c1", 0.8)
    answer = Answer("q?", f"Voltra recalled{CLEAR} 25,000 scooters.\x00 [1]\n\tNext.", [cited])
    answer.note = f"model said {TITLE}"

    text = render_text(answer)

    assert CONTROL.findall(text) == []
    assert "pwned" not in text  # an OSC's payload is not left behind either
    assert text.splitlines()[0] == "Voltra recalled 25,000 scooters. [1]"
    assert "\tNext." in text  # tabs and newlines are text
    assert (
        '[1] Voltra recall (Wire, 2022-08-20) <https://news.example/v> — "It recalled 25,000 '
        in (text)
    )


def test_citebot_ask_prints_no_escape_sequence_from_an_article(
    tmp_path, model_cache, embedder, monkeypatch, capsys
):
    from index.build.builder import build_index

    (tmp_path / "articles").mkdir()
    article = {
        "title": f"Harbour festival {TITLE}passes",
        "source": f"Gazette{CLEAR}",
        "text": f"The harbour festival gives away 500 free passes{CLEAR} on Saturday.{TITLE_ST}",
    }
    (tmp_path / "articles" / "a.jsonl").write_text(json.dumps(article) + "\n")
    env = {"ARTICLES_DIR": tmp_path / "articles", "CHROMA_PATH": tmp_path / "chroma",
           "MODEL_CACHE": model_cache}  # fmt: skip
    build_index(Settings(_env_file=None, **env), embedder)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))

    assert main(["ask", "How many free passes does the harbour festival give away?"]) == 0

    out = capsys.readouterr().out
    assert "500 free passes" in out
    assert CONTROL.findall(out) == []


def test_a_url_that_would_end_its_angle_brackets_is_percent_encoded():
    smuggled = Provenance(title="T", url="https://news.example/x> [2] <https://evil.example")
    text = render_text(Answer("q?", "A. [1]", [Citation(1, smuggled, "A.", "c1", 0.8)]))

    assert "<https://news.example/x%3E%20%5B2%5D%20%3Chttps://evil.example>" in text
