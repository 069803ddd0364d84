"""The one settings object: `.env.example` documents it, and bad combinations are refused."""

from __future__ import annotations

import logging
import re

import pytest
from pydantic import ValidationError

from index.cli import settings_problem
from index.settings import SECTIONS, TOP_LEVEL, Settings
from tests.conftest import ROOT


def test_env_example_lists_every_setting_and_loads_as_the_defaults():
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", example, re.M))
    aliases = {f.alias for f in Settings.model_fields.values()}
    assert listed == aliases
    assert Settings(_env_file=ROOT / ".env.example") == Settings(_env_file=None)


def test_env_example_says_which_embedder_reads_the_batch_size():
    example = (ROOT / ".env.example").read_text()
    comment = example.split("\nEMBEDDING_BATCH_SIZE=")[0].rsplit("\n\n", 1)[-1]
    said = " ".join(line.lstrip("# ") for line in comment.splitlines()[-3:])
    # the default ONNX embedder runs each text alone (`OnnxEmbedder.embed`)
    assert "torch" in said and "do not read it" in said


@pytest.mark.parametrize(
    ("env", "shards", "ids"),
    [({}, None, []), ({"DISCORD_SHARDS": "auto"}, "auto", []),
     ({"DISCORD_SHARDS": "4", "DISCORD_SHARD_IDS": "2, 3"}, 4, [2, 3])],
)  # fmt: skip
def test_shard_settings(env, shards, ids):
    settings = Settings(_env_file=None, **env)
    assert (settings.discord_shards, settings.discord_shard_ids) == (shards, ids)


@pytest.mark.parametrize(
    ("env", "problem"),
    [({"DISCORD_SHARD_IDS": "1"}, "needs DISCORD_SHARDS"),
     ({"DISCORD_SHARDS": "auto", "DISCORD_SHARD_IDS": "1"}, "needs DISCORD_SHARDS"),
     ({"DISCORD_SHARDS": "2", "DISCORD_SHARD_IDS": "1,2"}, r"\[2\] are outside 0..1"),
     ({"DISCORD_SHARDS": "0"}, "1 or more")],
)  # fmt: skip
def test_shard_settings_that_cannot_work_are_refused(env, problem):
    with pytest.raises(ValidationError, match=problem):
        Settings(_env_file=None, **env)


def test_every_setting_is_in_exactly_one_section_with_its_value():
    settings = Settings(_env_file=None, COLLECTION="news", FEEDS="https://a/rss", RETRIEVAL_K="5")
    placed = [name for section in SECTIONS for name in section.model_fields] + list(TOP_LEVEL)
    assert sorted(placed) == sorted(Settings.model_fields)
    for section in (settings.index, settings.fetching, settings.answering, settings.discord):
        assert all(getattr(section, n) == getattr(settings, n) for n in type(section).model_fields)
    assert (settings.index.collection, settings.fetching.feeds) == ("news", ["https://a/rss"])
    assert settings.answering.retrieval_k == 5


def test_sections_are_frozen():
    with pytest.raises(ValidationError, match="frozen"):
        Settings(_env_file=None).index.collection = "other"  # type: ignore[misc]


@pytest.mark.parametrize("value", ["1.5", "-0.1"])
def test_a_relevance_threshold_outside_0_to_1_is_refused(value):
    with pytest.raises(ValidationError, match="RELEVANCE_THRESHOLD"):
        Settings(_env_file=None, RELEVANCE_THRESHOLD=value)


def test_log_level_is_one_of_the_level_names_in_any_case():
    assert Settings(_env_file=None, LOG_LEVEL="debug").log_level == "DEBUG"
    with pytest.raises(ValidationError, match="LOG_LEVEL"):
        Settings(_env_file=None, LOG_LEVEL="verbose")


def test_a_settings_error_says_what_was_given_unless_it_is_a_secret():
    with pytest.raises(ValidationError) as chunk:
        Settings(_env_file=None, CHUNK_TOKENS="400")
    assert "CHUNK_TOKENS: Input should be less than or equal to 254 (got '400')" in (
        settings_problem(chunk.value)
    )
    with pytest.raises(ValidationError) as key:
        Settings(_env_file=None, FEEDBACK_KEY="short-secret")
    assert "short-secret" not in settings_problem(key.value)


def test_a_misspelt_setting_in_env_file_or_environment_is_warned_about(
    tmp_path, monkeypatch, caplog
):
    env_file = tmp_path / ".env"
    env_file.write_text("RETREIVAL_K=5\nCHUNK_TOKENS=200\n")
    monkeypatch.setenv("RELEVANCE_TRESHOLD", "0.5")
    with caplog.at_level(logging.WARNING, logger="index.settings"):
        settings = Settings(_env_file=env_file)
    assert settings.retrieval_k == 8
    warned = [r.getMessage() for r in caplog.records]
    mistyped = f"RETREIVAL_K in {env_file} is not a citebot setting (did you mean RETRIEVAL_K?)"
    assert mistyped in warned
    assert (
        "RELEVANCE_TRESHOLD in the environment is not a citebot setting "
        "(did you mean RELEVANCE_THRESHOLD?)"
    ) in warned
    assert len(warned) == 2
